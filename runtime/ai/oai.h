/*
 * oai.h — what every client of an OpenAI-compatible server shares: the
 * endpoint's URL under the /v1 rule (ai/llm.h) and its Authorization
 * header, the key registered as a log secret.
 */
#ifndef BOTC_OAI_H
#define BOTC_OAI_H

#include <stddef.h>

typedef struct oai_endpoint {
    char *url;  /* base (a trailing '/' dropped) + path; malloc'd */
    char *auth; /* "Authorization: Bearer <key>", NULL without a key; malloc'd */
} oai_endpoint;

/* Fills e for base + path ("/chat/completions", "/embeddings"). base must
 * be an http(s) URL (the caller checked); one that does not end in /v1 is
 * used as given, with a warning under log tag `tag` naming the variable
 * `var` (var NULL: a server outside the /v1 rule, no warning). key may be
 * NULL or "". 0, or -1 on out-of-memory (e zeroed, the
 * reason in err). */
int oai_endpoint_init(oai_endpoint *e, const char *base, const char *path, const char *key,
                      const char *tag, const char *var, char *err, size_t errlen);
void oai_endpoint_free(oai_endpoint *e);

#endif

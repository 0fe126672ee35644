/*
 * oai.c — see oai.h.
 */
#include "ai/oai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

int oai_endpoint_init(oai_endpoint *e, const char *base, const char *path, const char *key,
                      const char *tag, const char *var, char *err, size_t errlen)
{
    *e = (oai_endpoint){0};
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    size_t ul = bl + strlen(path) + 1;
    e->url = malloc(ul);
    if (e->url)
        snprintf(e->url, ul, "%.*s%s", (int)bl, base, path);
    if (key && *key) {
        log_add_secret(key);
        size_t al = strlen(key) + sizeof "Authorization: Bearer ";
        e->auth = malloc(al);
        if (e->auth)
            snprintf(e->auth, al, "Authorization: Bearer %s", key);
    }
    if (!e->url || (key && *key && !e->auth)) {
        oai_endpoint_free(e);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (var && (bl < 3 || strncmp(base + bl - 3, "/v1", 3)))
        log_warn(tag, "%s does not end in /v1; using %s as given", var, e->url);
    return 0;
}

void oai_endpoint_free(oai_endpoint *e)
{
    free(e->url);
    free(e->auth);
    *e = (oai_endpoint){0};
}

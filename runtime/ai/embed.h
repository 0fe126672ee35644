/*
 * embed.h — client of an OpenAI-compatible embeddings server (OpenAI,
 * Ollama, vLLM, llama.cpp, TEI), as transfers on the event loop
 * (net/http.h's http_stream): nothing blocks.
 *
 *   POST {EMBEDDINGS_BASE}/embeddings
 *   {"model": EMBEDDINGS_MODEL, "input": ["text", ...]}
 *   Authorization: Bearer {EMBEDDINGS_API_KEY}  (when set; a log secret)
 *   → {"data": [{"index": 0, "embedding": [0.1, ...]}, ...]}
 *
 * Configured apart from the chat model, and only explicitly: many chat
 * servers serve no embeddings, and a model name is not portable across
 * servers. EMBEDDINGS_BASE follows llm.h's /v1 rule. EMBEDDINGS_API_KEY
 * defaults to OPENAI_API_KEY only when EMBEDDINGS_BASE is OPENAI_API_BASE:
 * a key is never sent to a host it was not given for.
 *
 * A call embeds n texts in batches of `batch` inputs (one POST each, one
 * after the other) and reports once, with every vector or the first
 * failure; nothing is retried (callers fall back to lexical retrieval).
 * Error bodies are read in the shapes llm_parse_error knows.
 *
 * Caps: an answer body at max_answer bytes (the default fits a batch of 32
 * vectors of 4,096 dims as JSON text), an error body at 8 KiB, a vector at
 * EMBED_MAX_DIMS; the total timeout covers the whole call.
 */
#ifndef BOTC_EMBED_H
#define BOTC_EMBED_H

#include <stddef.h>

#include "net/loop.h"

#define EMBED_MAX_DIMS 8192
#define EMBED_MAX_BATCH 256

typedef struct embed_options {
    const char *base;  /* EMBEDDINGS_BASE; NULL/"" = no embeddings */
    const char *key;   /* EMBEDDINGS_API_KEY (see above), may be NULL */
    const char *model; /* EMBEDDINGS_MODEL; required */
    long connect_ms;   /* 5000 */
    long total_ms;     /* EMBEDDINGS_TIMEOUT_MS, 30000 */
    int batch;         /* EMBEDDINGS_BATCH, 32 inputs per request (1..EMBED_MAX_BATCH) */
    size_t max_answer; /* 8 MiB per response */
} embed_options;

/* The options from the environment (strings borrowed from it). */
embed_options embed_options_from_env(void);

typedef struct embed_client embed_client;

/* lp is borrowed and must outlive the client. Strings are copied; the key
 * is registered with log_add_secret. NULL with a reason when o->base is
 * empty or not http(s), or o->model is empty. */
embed_client *embed_new(loop *lp, const embed_options *o, char *err, size_t errlen);
/* Calls still running are abandoned: their callbacks never run. */
void embed_free(embed_client *c);
const char *embed_model(const embed_client *c); /* borrowed */

typedef enum embed_status {
    EMBED_OK = 0,
    EMBED_ERR_HTTP,      /* a non-2xx answer */
    EMBED_ERR_NETWORK,   /* connect / transfer failure */
    EMBED_ERR_TIMEOUT,
    EMBED_ERR_TOOBIG,    /* the answer exceeded max_answer */
    EMBED_ERR_BAD,       /* an answer that is not n vectors of one size */
    EMBED_ERR_NOMEM,
    EMBED_ERR_CANCELLED, /* the loop shut down */
} embed_status;

const char *embed_status_str(embed_status s); /* static */

/* Everything borrowed for the callback. */
typedef struct embed_result {
    embed_status status;
    const char *error;  /* why, when not EMBED_OK; else "" */
    long http_status;
    int n, dims;        /* n vectors of dims floats when EMBED_OK */
    const float *vecs;  /* n × dims, in the order of the inputs */
    int requests;       /* POSTs made */
} embed_result;

typedef void (*embed_done_fn)(void *ud, const embed_result *r);

typedef struct embed_call embed_call;

/* Embeds texts[0..n) (copied; n >= 1, no text empty). on_done runs
 * exactly once, from the loop (unless embed_cancel). Returns the call
 * (owned by the client until on_done has run), NULL on a bad argument,
 * out-of-memory or when the transfer cannot start (on_done never runs). */
embed_call *embed_texts(embed_client *c, const char *const *texts, int n, embed_done_fn on_done,
                        void *ud);
/* Stops a call: no callback runs after this. */
void embed_cancel(embed_call *call);

/* Reads an answer of n embeddings into *vecs (malloc'd n × dims) and
 * *dims; want_dims > 0 requires that size. 0, or -1 with why in err. */
int embed_parse(const char *body, size_t len, int n, int want_dims, float **vecs, int *dims,
                char *err, size_t errlen);

#endif

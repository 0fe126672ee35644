/*
 * kbvec.c — see kbvec.h.
 */
#include "ai/kbvec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

/* Chunks per embed call: each call's vectors are stored when it ends, so
 * a large knowledge makes progress across failures and restarts, and one
 * call stays well inside EMBEDDINGS_TIMEOUT_MS. */
#define KBVEC_CALL_MAX 64

struct kbvec {
    kb *k;
    store_vectors *sv;
    embed_client *ec;
    embed_call *call;   /* in flight, or NULL */
    int *missing;       /* the chunks to ask for */
    int n_missing;
    int next;           /* missing[next..] are not asked yet */
    int at;             /* the call in flight asks missing[at..next) */
    int embedded, requests;
    kbvec_done_fn done;
    void *ud;
};

void kbvec_hash(const char *text, char out[KBVEC_HASH_LEN + 1])
{
    /* two passes with different offset bases: 128 bits */
    uint64_t a = 14695981039346656037ULL, b = 0x84222325cbf29ce4ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        a = (a ^ *p) * 1099511628211ULL;
        b = (b ^ *p) * 1099511628211ULL;
        b ^= b >> 29;
    }
    snprintf(out, KBVEC_HASH_LEN + 1, "%016" PRIx64 "%016" PRIx64, a, b);
}

static void on_vectors(void *ud, const embed_result *r);

/* Asks for the next KBVEC_CALL_MAX missing chunks. 0, -1. */
static int ask_next(kbvec *v)
{
    const char *texts[KBVEC_CALL_MAX];
    int n = 0;
    v->at = v->next;
    while (n < KBVEC_CALL_MAX && v->next < v->n_missing)
        texts[n++] = kb_chunk_text(v->k, v->missing[v->next++]);
    v->call = embed_texts(v->ec, texts, n, on_vectors, v);
    return v->call ? 0 : -1;
}

static void finish(kbvec *v, int ok, const char *why)
{
    if (ok)
        log_info("embed", "%d chunk(s) embedded in %d request(s); %d of %d have vectors",
                 v->embedded, v->requests, kb_vector_count(v->k), kb_chunk_count(v->k));
    else
        log_warn("embed", "knowledge vectors: %s; retrieval stays lexical where they lack", why);
    if (v->done)
        v->done(v->ud, ok, ok ? "" : why);
}

static void on_vectors(void *ud, const embed_result *r)
{
    kbvec *v = ud;
    v->call = NULL;
    v->requests += r->requests;
    char why[400];
    if (r->status != EMBED_OK) {
        snprintf(why, sizeof why, "%s%s%s", embed_status_str(r->status),
                 r->error[0] ? ": " : "", r->error);
        finish(v, 0, why);
        return;
    }
    for (int i = 0; i < r->n; i++) {
        int chunk = v->missing[v->at + i];
        const float *x = r->vecs + (size_t)i * (size_t)r->dims;
        char h[KBVEC_HASH_LEN + 1];
        kbvec_hash(kb_chunk_text(v->k, chunk), h);
        /* a vector of another size than the cached ones (the model
         * changed under the same name) is not used: the next start
         * re-embeds what the cache holds in the old size */
        if (kb_vector(v->k, chunk, x, r->dims))
            log_warn("embed", "chunk %d: a vector of %d dims not used", chunk, r->dims);
        if (store_vectors_put(v->sv, embed_model(v->ec), h, x, r->dims)) {
            finish(v, 0, "the vector cache could not be written");
            return;
        }
        v->embedded++;
    }
    if (v->next == v->n_missing)
        finish(v, 1, NULL);
    else if (ask_next(v))
        finish(v, 0, "the next embeddings request could not start");
}

kbvec *kbvec_open(kb *k, store_vectors *sv, embed_client *ec, kbvec_done_fn done, void *ud,
                  char *err, size_t errlen)
{
    int n = kb_chunk_count(k);
    kbvec *v = calloc(1, sizeof *v);
    float *buf = malloc(EMBED_MAX_DIMS * sizeof *buf);
    if (v)
        v->missing = calloc((size_t)(n ? n : 1), sizeof *v->missing);
    if (!v || !buf || !v->missing) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    *v = (kbvec){.k = k, .sv = sv, .ec = ec, .missing = v->missing, .done = done, .ud = ud};
    for (int i = 0; i < n; i++) {
        char h[KBVEC_HASH_LEN + 1];
        kbvec_hash(kb_chunk_text(k, i), h);
        int d = store_vectors_get(sv, embed_model(ec), h, buf, EMBED_MAX_DIMS);
        if (d < 0) {
            snprintf(err, errlen, "the vector cache could not be read");
            goto fail;
        }
        if (d == 0 || kb_vector(k, i, buf, d))
            v->missing[v->n_missing++] = i;
    }
    if (v->n_missing && ask_next(v)) {
        snprintf(err, errlen, "the embeddings request could not start");
        goto fail;
    }
    log_info("embed", "knowledge vectors: %d of %d from the cache, %d to embed",
             n - v->n_missing, n, v->n_missing);
    free(buf);
    return v;
fail:
    free(buf);
    kbvec_free(v);
    return NULL;
}

void kbvec_free(kbvec *v)
{
    if (!v)
        return;
    embed_cancel(v->call);
    free(v->missing);
    free(v);
}

int kbvec_missing(const kbvec *v) { return v->n_missing; }

/*
 * kbvec.c — see kbvec.h.
 */
#include "ai/kbvec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

struct kbvec {
    kb *k;
    store_vectors *sv;
    embed_client *ec;
    embed_call *call;   /* in flight, or NULL */
    int *missing;       /* the chunks asked for, in the call's order */
    int n_missing;
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

static void on_vectors(void *ud, const embed_result *r)
{
    kbvec *v = ud;
    v->call = NULL;
    int ok = r->status == EMBED_OK;
    char why[400];
    snprintf(why, sizeof why, "%s%s%s", embed_status_str(r->status), r->error[0] ? ": " : "",
             r->error);
    for (int i = 0; ok && i < r->n; i++) {
        const float *x = r->vecs + (size_t)i * (size_t)r->dims;
        char h[KBVEC_HASH_LEN + 1];
        kbvec_hash(kb_chunk_text(v->k, v->missing[i]), h);
        /* a vector of another size than the cached ones (the model
         * changed under the same name) is not used: the next start
         * re-embeds what the cache holds in the old size */
        if (kb_vector(v->k, v->missing[i], x, r->dims))
            log_warn("embed", "chunk %d: a vector of %d dims not used", v->missing[i], r->dims);
        if (store_vectors_put(v->sv, embed_model(v->ec), h, x, r->dims)) {
            ok = 0;
            snprintf(why, sizeof why, "the vector cache could not be written");
        }
    }
    if (ok)
        log_info("embed", "%d chunk(s) embedded in %d request(s); %d of %d have vectors",
                 r->n, r->requests, kb_vector_count(v->k), kb_chunk_count(v->k));
    else
        log_warn("embed", "knowledge vectors: %s; retrieval stays lexical where they lack", why);
    if (v->done)
        v->done(v->ud, ok, ok ? "" : why);
}

kbvec *kbvec_open(kb *k, store_vectors *sv, embed_client *ec, kbvec_done_fn done, void *ud,
                  char *err, size_t errlen)
{
    int n = kb_chunk_count(k);
    kbvec *v = calloc(1, sizeof *v);
    float *buf = malloc(EMBED_MAX_DIMS * sizeof *buf);
    const char **texts = calloc((size_t)(n ? n : 1), sizeof *texts);
    if (v)
        v->missing = calloc((size_t)(n ? n : 1), sizeof *v->missing);
    if (!v || !buf || !texts || !v->missing) {
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
        if (d == 0 || kb_vector(k, i, buf, d)) {
            v->missing[v->n_missing] = i;
            texts[v->n_missing++] = kb_chunk_text(k, i);
        }
    }
    if (v->n_missing &&
        !(v->call = embed_texts(ec, texts, v->n_missing, on_vectors, v))) {
        snprintf(err, errlen, "the embeddings request could not start");
        goto fail;
    }
    log_info("embed", "knowledge vectors: %d of %d from the cache, %d to embed",
             n - v->n_missing, n, v->n_missing);
    free(buf);
    free(texts);
    return v;
fail:
    free(buf);
    free(texts);
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

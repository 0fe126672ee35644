/*
 * memvec.c — see memvec.h.
 */
#include "ai/memvec.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "net/loop.h"

struct memvec {
    store_memory *sm;
    embed_client *ec;
    embed_call *call;  /* in flight, or NULL */
    bool dirty;        /* read the database at the next pump */
    int64_t after;     /* every item up to this id has a vector, or was tried */
    long retry_at;     /* loop_now_ms after which a failed round is tried again */
    /* the call in flight: its items */
    int n;
    int64_t id[MEMVEC_CALL_MAX], user[MEMVEC_CALL_MAX];
    char *text[MEMVEC_CALL_MAX];
    long embedded;
};

memvec *memvec_new(store_memory *sm, embed_client *ec)
{
    memvec *v = calloc(1, sizeof *v);
    if (v) {
        v->sm = sm;
        v->ec = ec;
        v->dirty = true; /* what earlier runs kept without a vector */
    }
    return v;
}

static void clear_batch(memvec *v)
{
    for (int i = 0; i < v->n; i++)
        free(v->text[i]);
    v->n = 0;
}

void memvec_free(memvec *v)
{
    if (!v)
        return;
    embed_cancel(v->call);
    clear_batch(v);
    free(v);
}

void memvec_dirty(memvec *v)
{
    if (v)
        v->dirty = true;
}

long memvec_embedded(const memvec *v) { return v ? v->embedded : 0; }

static int take(void *ud, int64_t id, int64_t user_id, const char *text)
{
    memvec *v = ud;
    v->id[v->n] = id;
    v->user[v->n] = user_id;
    v->text[v->n] = strdup(text);
    return v->text[v->n++] ? 0 : -1;
}

static void on_vectors(void *ud, const embed_result *r)
{
    memvec *v = ud;
    v->call = NULL;
    if (r->status != EMBED_OK || r->n != v->n) {
        log_warn("memory", "embedding %d memory item(s) failed (%s%s%s); tried again in %d s",
                 v->n, embed_status_str(r->status), r->error[0] ? ": " : "", r->error,
                 MEMVEC_RETRY_MS / 1000);
        clear_batch(v);
        v->retry_at = loop_now_ms() + MEMVEC_RETRY_MS;
        v->dirty = true;
        return;
    }
    for (int i = 0; i < r->n; i++) {
        /* an item forgotten meanwhile stores nothing (put_vec checks it) */
        if (store_memory_put_vec(v->sm, v->user[i], v->id[i], embed_model(v->ec),
                                 r->vecs + (size_t)i * (size_t)r->dims, r->dims)) {
            v->retry_at = loop_now_ms() + MEMVEC_RETRY_MS;
            v->dirty = true;
            clear_batch(v);
            return;
        }
        v->after = v->id[i];
        v->embedded++;
    }
    log_info("memory", "%d memory item(s) embedded (%ld in all)", r->n, v->embedded);
    clear_batch(v);
    v->dirty = true; /* there may be more */
}

void memvec_pump(memvec *v)
{
    if (!v || v->call || !v->dirty || loop_now_ms() < v->retry_at)
        return;
    v->dirty = false;
    clear_batch(v);
    if (store_memory_unembedded(v->sm, embed_model(v->ec), v->after, MEMVEC_CALL_MAX, take, v) < 0 ||
        v->n == 0) {
        clear_batch(v);
        return;
    }
    const char *texts[MEMVEC_CALL_MAX];
    for (int i = 0; i < v->n; i++)
        texts[i] = v->text[i];
    v->call = embed_texts(v->ec, texts, v->n, on_vectors, v);
    if (!v->call) {
        log_warn("memory", "the embeddings request for memory items could not start");
        clear_batch(v);
        v->retry_at = loop_now_ms() + MEMVEC_RETRY_MS;
        v->dirty = true;
    }
}

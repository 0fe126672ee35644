/*
 * outq.c — per-chat FIFOs over the tg client (see outq.h).
 *
 * Chats live in a chained hash table keyed by chat id, only while they have
 * calls queued. A chat with calls and none in flight sits on the `ready`
 * list; pump walks it in order, so chats take turns. A chat whose head call
 * waits on a retry delay stays on the list with `not_before` set.
 */
#include "outq.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define OQ_METHOD_MAX 48
#define OQ_MAX_MIGRATIONS 3

typedef struct oq_chat oq_chat;

typedef struct oq_item {
    struct oq_item *next;
    struct outq *q;      /* NULL once the queue is gone (orphaned in flight) */
    oq_chat *chat;
    char method[OQ_METHOD_MAX];
    cJSON *params;       /* kept for resends; a copy goes to each attempt */
    int attempts;        /* failed tries on 5xx/network */
    int rate_waits;      /* 429 answers so far */
    int migrations;
} oq_item;

struct oq_chat {
    int64_t id;
    oq_chat *hnext;              /* hash chain */
    oq_chat *rprev, *rnext;      /* ready list */
    bool on_ready;
    bool busy;                   /* head is in flight */
    long not_before;             /* monotonic ms; head may not start earlier */
    oq_item *head, *tail;
};

struct outq {
    tg_client *tg;
    outq_options opt;
    oq_chat **buckets;
    size_t n_buckets, n_chats;
    oq_chat *ready_head, *ready_tail;
    size_t n_pending;
    int n_flight;
    uint64_t rng;
    outq_stats stats;
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t rng_next(outq *q)
{
    /* xorshift64: jitter only, no need for quality */
    uint64_t x = q->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return q->rng = x;
}

static size_t hash_id(int64_t id, size_t n)
{
    uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 32) & (n - 1);
}

outq *outq_new(tg_client *tg, const outq_options *opts)
{
    outq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    if (opts)
        q->opt = *opts;
    if (q->opt.max_in_flight <= 0) q->opt.max_in_flight = 64;
    if (q->opt.max_attempts <= 0) q->opt.max_attempts = 8;
    if (q->opt.max_rate_waits <= 0) q->opt.max_rate_waits = 20;
    if (q->opt.backoff_base_ms <= 0) q->opt.backoff_base_ms = 500;
    if (q->opt.backoff_max_ms <= 0) q->opt.backoff_max_ms = 30000;
    q->tg = tg;
    q->n_buckets = 64;
    q->buckets = calloc(q->n_buckets, sizeof *q->buckets);
    if (!q->buckets) {
        free(q);
        return NULL;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    q->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
    if (!q->rng)
        q->rng = 0x2545F4914F6CDD1Dull;
    return q;
}

static void item_free(oq_item *it)
{
    cJSON_Delete(it->params);
    free(it);
}

void outq_free(outq *q)
{
    if (!q)
        return;
    size_t dropped = 0;
    for (size_t b = 0; b < q->n_buckets; b++) {
        oq_chat *c = q->buckets[b];
        while (c) {
            oq_chat *cn = c->hnext;
            oq_item *it = c->head;
            if (c->busy && it) {
                /* in flight: its callback frees it */
                it->q = NULL;
                it->chat = NULL;
                it = it->next;
            }
            while (it) {
                oq_item *n = it->next;
                item_free(it);
                dropped++;
                it = n;
            }
            free(c);
            c = cn;
        }
    }
    if (dropped)
        log_warn("outq", "dropping %zu unsent call(s) at shutdown", dropped);
    free(q->buckets);
    free(q);
}

/* ---- chats ------------------------------------------------------------- */

static oq_chat *chat_find(outq *q, int64_t id)
{
    for (oq_chat *c = q->buckets[hash_id(id, q->n_buckets)]; c; c = c->hnext)
        if (c->id == id)
            return c;
    return NULL;
}

static void rehash(outq *q)
{
    size_t n = q->n_buckets * 2;
    oq_chat **nb = calloc(n, sizeof *nb);
    if (!nb)
        return; /* longer chains, still correct */
    for (size_t b = 0; b < q->n_buckets; b++) {
        oq_chat *c = q->buckets[b];
        while (c) {
            oq_chat *cn = c->hnext;
            size_t h = hash_id(c->id, n);
            c->hnext = nb[h];
            nb[h] = c;
            c = cn;
        }
    }
    free(q->buckets);
    q->buckets = nb;
    q->n_buckets = n;
}

static oq_chat *chat_get(outq *q, int64_t id)
{
    oq_chat *c = chat_find(q, id);
    if (c)
        return c;
    if (q->n_chats >= q->n_buckets)
        rehash(q);
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->id = id;
    size_t h = hash_id(id, q->n_buckets);
    c->hnext = q->buckets[h];
    q->buckets[h] = c;
    q->n_chats++;
    return c;
}

static void ready_add(outq *q, oq_chat *c)
{
    if (c->on_ready)
        return;
    c->on_ready = true;
    c->rnext = NULL;
    c->rprev = q->ready_tail;
    if (q->ready_tail)
        q->ready_tail->rnext = c;
    else
        q->ready_head = c;
    q->ready_tail = c;
}

static void ready_remove(outq *q, oq_chat *c)
{
    if (!c->on_ready)
        return;
    if (c->rprev)
        c->rprev->rnext = c->rnext;
    else
        q->ready_head = c->rnext;
    if (c->rnext)
        c->rnext->rprev = c->rprev;
    else
        q->ready_tail = c->rprev;
    c->rprev = c->rnext = NULL;
    c->on_ready = false;
}

/* Frees a chat with nothing queued, so idle chats cost nothing. */
static void chat_drop_if_idle(outq *q, oq_chat *c)
{
    if (c->head || c->busy)
        return;
    ready_remove(q, c);
    oq_chat **pp = &q->buckets[hash_id(c->id, q->n_buckets)];
    while (*pp && *pp != c)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = c->hnext;
    q->n_chats--;
    free(c);
}

/* ---- queueing ---------------------------------------------------------- */

int outq_push(outq *q, int64_t chat_id, const char *method, cJSON *params)
{
    oq_item *it = calloc(1, sizeof *it);
    oq_chat *c = it ? chat_get(q, chat_id) : NULL;
    if (!c) {
        free(it);
        cJSON_Delete(params);
        return -1;
    }
    it->q = q;
    it->chat = c;
    snprintf(it->method, sizeof it->method, "%s", method);
    it->params = params;
    if (c->tail)
        c->tail->next = it;
    else
        c->head = it;
    c->tail = it;
    q->n_pending++;
    if (!c->busy)
        ready_add(q, c);
    return 0;
}

size_t outq_pending(const outq *q) { return q->n_pending; }
int outq_in_flight(const outq *q) { return q->n_flight; }
outq_stats outq_get_stats(const outq *q) { return q->stats; }

/* Removes the head call of c (sent or given up). */
static void pop_head(outq *q, oq_chat *c)
{
    oq_item *it = c->head;
    c->head = it->next;
    if (!c->head)
        c->tail = NULL;
    q->n_pending--;
    item_free(it);
}

static long backoff_ms(outq *q, int attempts)
{
    long d = q->opt.backoff_base_ms;
    for (int i = 1; i < attempts && d < q->opt.backoff_max_ms; i++)
        d *= 2;
    if (d > q->opt.backoff_max_ms)
        d = q->opt.backoff_max_ms;
    /* "equal jitter": half fixed, half random, so retries spread out */
    return d / 2 + (long)(rng_next(q) % (uint64_t)(d / 2 + 1));
}

static bool is_not_modified(const tg_result *r)
{
    return r->error_code == 400 && strstr(r->description, "message is not modified");
}

static void on_done(const tg_result *r, void *ud);

/* Hands c's head call to tg. Returns false if it could not start. */
static bool start_head(outq *q, oq_chat *c)
{
    oq_item *it = c->head;
    cJSON *copy = it->params ? cJSON_Duplicate(it->params, 1) : NULL;
    if (it->params && !copy)
        return false;
    tg_err e = tg_call(q->tg, it->method, copy, on_done, it);
    if (e != TG_OK) {
        if (e == TG_ERR_CONFIG) {
            log_error("outq", "%s refused by the client: %s, dropped", it->method,
                      tg_err_str(e));
            q->stats.dropped++;
            pop_head(q, c);
            return true;
        }
        return false;
    }
    c->busy = true;
    q->n_flight++;
    ready_remove(q, c);
    return true;
}

long outq_pump(outq *q)
{
    long now = now_ms(), next = -1;
    oq_chat *c = q->ready_head;
    while (c) {
        oq_chat *cn = c->rnext;
        if (!c->head) {
            chat_drop_if_idle(q, c);
        } else if (c->not_before > now) {
            long d = c->not_before - now;
            if (next < 0 || d < next)
                next = d;
        } else if (q->n_flight < q->opt.max_in_flight) {
            if (!start_head(q, c)) {
                /* out of memory or shutting down: try again shortly */
                c->not_before = now + q->opt.backoff_base_ms;
                if (next < 0 || q->opt.backoff_base_ms < next)
                    next = q->opt.backoff_base_ms;
            } else if (!c->busy) {
                chat_drop_if_idle(q, c); /* its head was dropped */
            }
        } else {
            break; /* full: the rest wait for a slot, not a timer */
        }
        c = cn;
    }
    return next;
}

/* Decides what a finished call means for its chat. */
static void on_done(const tg_result *r, void *ud)
{
    oq_item *it = ud;
    outq *q = it->q;
    if (!q) { /* the queue was freed while this was in flight */
        item_free(it);
        return;
    }
    oq_chat *c = it->chat;
    c->busy = false;
    q->n_flight--;
    long now = now_ms();

    if (r->err == TG_OK) {
        q->stats.sent++;
        pop_head(q, c);
    } else if (r->err == TG_ERR_CANCELLED) {
        log_warn("outq", "%s to chat %lld cancelled at shutdown", it->method,
                 (long long)c->id);
        q->stats.dropped++;
        pop_head(q, c);
    } else if (r->error_code == 429 && ++it->rate_waits <= q->opt.max_rate_waits) {
        long wait = (r->retry_after > 0 ? r->retry_after : 1) * 1000L;
        log_info("outq", "%s to chat %lld: rate limited, retrying in %ld s",
                 it->method, (long long)c->id, wait / 1000);
        c->not_before = now + wait;
        q->stats.retried++;
    } else if (r->err == TG_ERR_API && r->migrate_to_chat_id != 0 &&
               it->migrations++ < OQ_MAX_MIGRATIONS && it->params &&
               cJSON_GetObjectItemCaseSensitive(it->params, "chat_id")) {
        /* the group became a supergroup: same message, new chat id */
        log_info("outq", "%s: chat %lld migrated to %lld, resending", it->method,
                 (long long)c->id, (long long)r->migrate_to_chat_id);
        cJSON_ReplaceItemInObjectCaseSensitive(
            it->params, "chat_id", cJSON_CreateNumber((double)r->migrate_to_chat_id));
        q->stats.retried++;
    } else if ((r->err == TG_ERR_NETWORK || r->err == TG_ERR_NOMEM ||
                r->err == TG_ERR_PARSE || r->error_code >= 500) &&
               r->error_code != 429) {
        if (++it->attempts >= q->opt.max_attempts) {
            log_error("outq", "%s to chat %lld dropped after %d tries: %s: %s",
                      it->method, (long long)c->id, it->attempts, tg_err_str(r->err),
                      r->description);
            q->stats.dropped++;
            pop_head(q, c);
        } else {
            long d = backoff_ms(q, it->attempts);
            log_warn("outq", "%s to chat %lld failed (%s: %s), retry %d in %ld ms",
                     it->method, (long long)c->id, tg_err_str(r->err), r->description,
                     it->attempts, d);
            c->not_before = now + d;
            q->stats.retried++;
        }
    } else {
        /* 400/403/...: resending cannot help */
        if (is_not_modified(r))
            log_debug("outq", "%s to chat %lld: %s", it->method, (long long)c->id,
                      r->description);
        else
            log_warn("outq", "%s to chat %lld dropped: %d %s", it->method,
                     (long long)c->id, r->error_code, r->description);
        q->stats.dropped++;
        pop_head(q, c);
    }

    if (c->head) {
        ready_add(q, c);
        if (c->not_before <= now)
            outq_pump(q); /* keep the chat moving without waiting for the loop */
    } else {
        chat_drop_if_idle(q, c);
    }
}

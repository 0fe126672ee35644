/*
 * outq.c — per-chat FIFOs over the tg client, persisted and rate-shaped
 * (see outq.h).
 *
 * Chats live in a chained hash table keyed by chat id while they have calls
 * queued or a rate bucket still refilling. A chat with calls and none in
 * flight sits on the `ready` list; pump walks it in order, so chats take
 * turns. A chat whose head call waits (retry delay, 429, its own or its
 * group's bucket) stays on the list with `not_before` set; when the global
 * bucket is empty the walk stops until it refills.
 */
#include "net/loop.h"
#include "telegram/outq.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"

#define OQ_METHOD_MAX 48
#define OQ_MAX_MIGRATIONS 3
#define OQ_SWEEP_MS 10000   /* how often idle chats' full buckets are freed */
#define OQ_MIGRATED_MAX 256 /* remembered chat migrations (old -> new id) */

typedef struct oq_chat oq_chat;

typedef struct oq_item {
    struct oq_item *next;
    struct outq *q;      /* NULL once the queue is gone (orphaned in flight) */
    oq_chat *chat;
    int64_t id;          /* outbox row, 0 without a store */
    int64_t chat_id;     /* the chat it was queued for (staged items) */
    char method[OQ_METHOD_MAX];
    cJSON *params;       /* kept for resends; a copy goes to each attempt */
    char *body;          /* params as its outbox row holds them (cJSON_free):
                          * sent as is; NULL = print params (unstored calls) */
    int attempts;        /* failed tries on 5xx/network */
    int rate_waits;      /* 429 answers so far */
    int migrations;
    bool restored;       /* loaded from a previous run */
    bool volatile_;      /* outq_push_volatile: not stored, dropped on failure */
    bool prepared;       /* outq_prepared answered SEND (or it needed nothing) */
} oq_item;

/* A token bucket: `tokens` at `at` (monotonic ms), refilling `rate` per
 * second up to `cap`. */
typedef struct bucket {
    double tokens;
    long at;
} bucket;

struct oq_chat {
    int64_t id;
    oq_chat *hnext;              /* hash chain */
    oq_chat *rprev, *rnext;      /* ready list */
    bool on_ready;
    bool busy;                   /* head is in flight */
    long not_before;             /* monotonic ms; head may not start earlier */
    bucket chat_b, group_b;
    bool buckets_used;
    bool side;                   /* the answerCallbackQuery lane of chat `id` */
    unsigned undeleted_gen;      /* == outq.flush_gen: a call of this chat was
                                  * accepted but its row is not yet deleted */
    oq_item *head, *tail;
};

struct outq {
    tg_client *tg;
    outq_options opt;
    bool no_start;              /* outq_stop_starting: the calls in flight only */
    oq_chat **buckets;
    size_t n_buckets, n_chats;
    oq_chat *ready_head, *ready_tail;
    size_t n_pending;
    int n_flight;
    uint64_t rng;
    outq_stats stats;
    bucket global_b;
    long global_not_before;      /* a bot-wide 429 holds every chat */
    double group_rate;           /* per second, derived from group_per_min */
    double global_cap, group_cap;
    long last_sweep;
    oq_item *staged_head, *staged_tail;
    size_t n_staged;             /* length of that list (asked once per update) */
    int64_t *done;               /* accepted rows to delete (outq_flush) */
    unsigned flush_gen;          /* bumped whenever `done` is empty again */
    size_t n_done, cap_done;
    size_t n_done_staged;        /* the first n of done written by outq_stage_flush */
    struct { int64_t from, to; } migrated[OQ_MIGRATED_MAX];
    int n_migrated;
};

#define OQ_RETRY_AFTER_MAX_DEFAULT 300

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

/* ---- configuration ------------------------------------------------------- */

static double env_rate(const char *name, double def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    double d = strtod(v, &end);
    if (*end || !isfinite(d) || d < 0 || d > 1e6) {
        log_warn("outq", "%s=%s is not a number >= 0, using %g", name, v, def);
        return def;
    }
    return d;
}

outq_options outq_options_from_env(void)
{
    outq_options o = {0};
    o.rate_global = env_rate("TELEGRAM_RATE_GLOBAL", 30);
    o.rate_chat = env_rate("TELEGRAM_RATE_CHAT", 1);
    o.chat_burst = env_rate("TELEGRAM_RATE_CHAT_BURST", 3);
    o.group_per_min = env_rate("TELEGRAM_RATE_GROUP_PER_MIN", 20);
    double ra = env_rate("TELEGRAM_RETRY_AFTER_MAX", OQ_RETRY_AFTER_MAX_DEFAULT);
    if (ra < 1 || ra > 86400) {
        log_warn("outq", "TELEGRAM_RETRY_AFTER_MAX=%g is not 1..86400 seconds, using %d", ra,
                 OQ_RETRY_AFTER_MAX_DEFAULT);
        ra = OQ_RETRY_AFTER_MAX_DEFAULT;
    }
    o.retry_after_max_s = (int)ra;
    return o;
}

outq *outq_new(tg_client *tg, const outq_options *opts)
{
    outq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->flush_gen = 1; /* new chats start at 0: nothing undeleted */
    if (opts)
        q->opt = *opts;
    if (q->opt.max_in_flight <= 0) q->opt.max_in_flight = 256;
    if (q->opt.max_attempts <= 0) q->opt.max_attempts = 30;
    if (q->opt.max_rate_waits <= 0) q->opt.max_rate_waits = 100;
    if (q->opt.retry_after_max_s <= 0) q->opt.retry_after_max_s = OQ_RETRY_AFTER_MAX_DEFAULT;
    if (q->opt.backoff_base_ms <= 0) q->opt.backoff_base_ms = 500;
    if (q->opt.backoff_max_ms <= 0) q->opt.backoff_max_ms = 30000;
    if (q->opt.chat_burst < 1) q->opt.chat_burst = 3;
    /* Windowed limits as buckets: with capacity B and refill (L - B) / W,
     * no window of length W holds more than L sends. */
    if (q->opt.rate_global > 0) {
        q->global_cap = 1;
        q->opt.rate_global = q->opt.rate_global > 1 ? q->opt.rate_global - 1 : q->opt.rate_global;
    }
    if (q->opt.group_per_min > 0) {
        q->group_cap = q->opt.group_per_min > q->opt.chat_burst ? q->opt.chat_burst : 1;
        double l = q->opt.group_per_min - q->group_cap;
        q->group_rate = (l > 0 ? l : q->opt.group_per_min) / 60.0;
    }
    q->global_b.tokens = q->global_cap;
    q->global_b.at = loop_now_ms();
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
    q->last_sweep = loop_now_ms();
    return q;
}

static void item_free(oq_item *it)
{
    cJSON_Delete(it->params);
    cJSON_free(it->body);
    free(it);
}

void outq_free(outq *q)
{
    if (!q)
        return;
    outq_flush(q);
    outq_stage_abort(q);
    size_t left = 0;
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
                left++;
                it = n;
            }
            free(c);
            c = cn;
        }
    }
    if (left)
        log_warn("outq", "%zu unsent call(s) %s", left,
                 q->opt.st ? "stay in the outbox for the next start" : "dropped at shutdown");
    free(q->done);
    free(q->buckets);
    free(q);
}

/* ---- chats ------------------------------------------------------------- */

/* answerCallbackQuery is not a message: a chat's answers to button presses
 * form a lane of their own (in order among themselves), so they neither
 * wait behind the chat's messages nor hold them up. */
static bool side_lane(const char *method)
{
    return !strcmp(method, "answerCallbackQuery");
}

static oq_chat *chat_find_lane(outq *q, int64_t id, bool side)
{
    for (oq_chat *c = q->buckets[hash_id(id, q->n_buckets)]; c; c = c->hnext)
        if (c->id == id && c->side == side)
            return c;
    return NULL;
}

static oq_chat *chat_find(outq *q, int64_t id)
{
    return chat_find_lane(q, id, false);
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

static oq_chat *chat_get(outq *q, int64_t id, bool side)
{
    oq_chat *c = chat_find_lane(q, id, side);
    if (c)
        return c;
    if (q->n_chats >= q->n_buckets)
        rehash(q);
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->id = id;
    c->side = side;
    long now = loop_now_ms();
    c->chat_b.tokens = q->opt.chat_burst;
    c->chat_b.at = now;
    c->group_b.tokens = q->group_cap;
    c->group_b.at = now;
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

static void refill(bucket *b, double rate, double cap, long now)
{
    if (now > b->at) {
        b->tokens += rate * (double)(now - b->at) / 1000.0;
        if (b->tokens > cap)
            b->tokens = cap;
    }
    b->at = now;
}

/* A chat's buckets are full again (or were never used): forgetting it
 * loses nothing. */
static bool buckets_full(outq *q, oq_chat *c, long now)
{
    if (c->not_before > now)
        return false; /* a 429 hold outlives a dropped volatile call: keep it */
    if (!c->buckets_used)
        return true;
    if (q->opt.rate_chat > 0) {
        refill(&c->chat_b, q->opt.rate_chat, q->opt.chat_burst, now);
        if (c->chat_b.tokens < q->opt.chat_burst)
            return false;
    }
    if (c->id < 0 && q->group_rate > 0) {
        refill(&c->group_b, q->group_rate, q->group_cap, now);
        if (c->group_b.tokens < q->group_cap)
            return false;
    }
    return true;
}

static void chat_unlink(outq *q, oq_chat *c)
{
    ready_remove(q, c);
    oq_chat **pp = &q->buckets[hash_id(c->id, q->n_buckets)];
    while (*pp && *pp != c)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = c->hnext;
    q->n_chats--;
    free(c);
}

/* A call of c was accepted but its row is not yet deleted: c must live on
 * (a new chat would not know, and start its next call before the delete). */
static bool row_undeleted(const outq *q, const oq_chat *c)
{
    return c->undeleted_gen == q->flush_gen && q->n_done > 0;
}

/* Frees a chat with nothing queued, so idle chats cost nothing; one whose
 * buckets are still refilling, or whose accepted call's row is not yet
 * deleted, stays (off the ready list) until a sweep. */
static void chat_drop_if_idle(outq *q, oq_chat *c)
{
    if (c->head || c->busy)
        return;
    if (row_undeleted(q, c) || !buckets_full(q, c, loop_now_ms())) {
        ready_remove(q, c);
        return;
    }
    chat_unlink(q, c);
}

static void sweep(outq *q, long now)
{
    q->last_sweep = now;
    for (size_t b = 0; b < q->n_buckets; b++) {
        oq_chat *c = q->buckets[b];
        while (c) {
            oq_chat *cn = c->hnext;
            if (!c->head && !c->busy && !row_undeleted(q, c) && buckets_full(q, c, now))
                chat_unlink(q, c);
            c = cn;
        }
    }
}

/* ---- persistence --------------------------------------------------------- */

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void forget_row(outq *q, oq_item *it)
{
    if (!q->opt.st || !it->id)
        return;
    if (it->chat)
        it->chat->undeleted_gen = q->flush_gen;
    if (q->n_done == q->cap_done) {
        size_t nc = q->cap_done ? q->cap_done * 2 : 256;
        int64_t *nd = realloc(q->done, nc * sizeof *nd);
        if (!nd) {
            store_outbox_delete(q->opt.st, it->id); /* no room to batch: now */
            return;
        }
        q->done = nd;
        q->cap_done = nc;
    }
    q->done[q->n_done++] = it->id;
}

int outq_flush(outq *q)
{
    if (!q->opt.st || !q->n_done)
        return 0;
    store *st = q->opt.st;
    if (store_begin(st))
        return -1;
    for (size_t i = 0; i < q->n_done; i++)
        if (store_outbox_delete(st, q->done[i])) {
            store_rollback(st);
            return -1;
        }
    if (store_commit(st)) {
        store_rollback(st);
        return -1;
    }
    q->n_done = 0;
    q->n_done_staged = 0;
    q->flush_gen++;
    return 0;
}

int outq_stage_flush(outq *q)
{
    if (!q->opt.st)
        return 0;
    for (size_t i = q->n_done_staged; i < q->n_done; i++)
        if (store_outbox_delete(q->opt.st, q->done[i]))
            return -1;
    q->n_done_staged = q->n_done;
    return 0;
}

static void save_retry(outq *q, oq_item *it, long delay_ms, bool params_changed)
{
    if (!q->opt.st || !it->id)
        return;
    char *p = params_changed && it->params ? cJSON_PrintUnformatted(it->params) : NULL;
    store_outbox_update(q->opt.st, it->id, it->chat ? it->chat->id : it->chat_id, p,
                        it->attempts, delay_ms > 0 ? unix_ms() + delay_ms : 0);
    cJSON_free(p);
}

/* ---- queueing ---------------------------------------------------------- */

static int64_t migrated_id(const outq *q, int64_t id)
{
    for (int i = q->n_migrated; i-- > 0;)
        if (q->migrated[i].from == id)
            return q->migrated[i].to;
    return id;
}

/* Rewrites params.chat_id (if it has one) to id. */
static void set_chat_param(cJSON *params, int64_t id)
{
    if (!params || !cJSON_GetObjectItemCaseSensitive(params, "chat_id"))
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(params, "chat_id");
    json_add_i64(params, "chat_id", id);
}

/* The item's params as a tree: a call written as text is parsed the first
 * time one is needed (a migration rewrites chat_id). NULL if none. */
static cJSON *item_params(oq_item *it)
{
    if (!it->params && it->body)
        it->params = cJSON_Parse(it->body);
    return it->params;
}

/* A call whose params are text already (takes body). */
static oq_item *item_new_body(outq *q, int64_t chat_id, const char *method, char *body)
{
    oq_item *it = body ? calloc(1, sizeof *it) : NULL;
    if (!it) {
        free(body);
        return NULL;
    }
    it->q = q;
    it->chat_id = chat_id;
    snprintf(it->method, sizeof it->method, "%s", method);
    it->body = body;
    int64_t to = migrated_id(q, chat_id);
    if (to != chat_id) {
        /* the chat moved: written again from the rewritten tree */
        set_chat_param(item_params(it), to);
        cJSON_free(it->body);
        it->body = it->params ? cJSON_PrintUnformatted(it->params) : NULL;
        it->chat_id = to;
        if (!it->body) {
            item_free(it);
            return NULL;
        }
    }
    return it;
}

static oq_item *item_new(outq *q, int64_t chat_id, const char *method, cJSON *params)
{
    oq_item *it = calloc(1, sizeof *it);
    if (!it) {
        cJSON_Delete(params);
        return NULL;
    }
    int64_t to = migrated_id(q, chat_id);
    if (to != chat_id)
        set_chat_param(params, to);
    it->q = q;
    it->chat_id = to;
    snprintf(it->method, sizeof it->method, "%s", method);
    it->params = params;
    return it;
}

static int item_store(outq *q, oq_item *it)
{
    if (!q->opt.st)
        return 0;
    if (it->body && !it->params) /* written as text: stored as it is */
        return store_outbox_add(q->opt.st, it->chat_id, it->method, it->body, &it->id);
    char *p = it->params ? cJSON_PrintUnformatted(it->params) : NULL;
    if (it->params && !p)
        return -1;
    int rc = store_outbox_add(q->opt.st, it->chat_id, it->method, p ? p : "{}", &it->id);
    cJSON_free(it->body);
    it->body = p; /* the text each attempt sends: printed once */
    return rc;
}

/* A durable call supersedes the volatile ones still waiting in its chat. */
static void drop_waiting_volatile(outq *q, oq_chat *c)
{
    oq_item **pp = c->busy && c->head ? &c->head->next : &c->head;
    oq_item *prev = c->busy ? c->head : NULL;
    while (*pp) {
        oq_item *x = *pp;
        if (!x->volatile_) {
            prev = x;
            pp = &x->next;
            continue;
        }
        *pp = x->next;
        if (c->tail == x)
            c->tail = prev;
        q->n_pending--;
        item_free(x);
    }
}

static int item_enqueue(outq *q, oq_item *it)
{
    oq_chat *c = chat_get(q, it->chat_id, side_lane(it->method));
    if (!c)
        return -1;
    if (!it->volatile_)
        drop_waiting_volatile(q, c);
    it->chat = c;
    it->next = NULL;
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

static int push_item(outq *q, oq_item *it);

int outq_push(outq *q, int64_t chat_id, const char *method, cJSON *params)
{
    return push_item(q, item_new(q, chat_id, method, params));
}

int outq_push_body(outq *q, int64_t chat_id, const char *method, char *body)
{
    return push_item(q, item_new_body(q, chat_id, method, body));
}

static int push_item(outq *q, oq_item *it)
{
    if (!it)
        return -1;
    if (item_store(q, it) || item_enqueue(q, it)) {
        if (it->id && q->opt.st)
            store_outbox_delete(q->opt.st, it->id);
        item_free(it);
        return -1;
    }
    return 0;
}

int outq_push_volatile(outq *q, int64_t chat_id, const char *method, cJSON *params)
{
    oq_chat *c = chat_find(q, migrated_id(q, chat_id));
    if (c) {
        for (oq_item *x = c->busy && c->head ? c->head->next : c->head; x; x = x->next) {
            if (x->volatile_ && !strcmp(x->method, method)) {
                cJSON_Delete(x->params);
                x->params = params;
                set_chat_param(params, x->chat_id);
                return 0;
            }
        }
    }
    oq_item *it = item_new(q, chat_id, method, params);
    if (!it)
        return -1;
    it->volatile_ = true;
    if (item_enqueue(q, it)) {
        item_free(it);
        return -1;
    }
    return 0;
}

static int stage_item(outq *q, oq_item *it);

int outq_stage(outq *q, int64_t chat_id, const char *method, cJSON *params)
{
    return stage_item(q, item_new(q, chat_id, method, params));
}

int outq_stage_body(outq *q, int64_t chat_id, const char *method, char *body)
{
    return stage_item(q, item_new_body(q, chat_id, method, body));
}

static int stage_item(outq *q, oq_item *it)
{
    if (!it)
        return -1;
    if (item_store(q, it)) {
        item_free(it);
        return -1;
    }
    if (q->staged_tail)
        q->staged_tail->next = it;
    else
        q->staged_head = it;
    q->staged_tail = it;
    q->n_staged++;
    return 0;
}

size_t outq_staged(const outq *q)
{
    return q->n_staged;
}

void outq_stage_truncate(outq *q, size_t n)
{
    oq_item **pp = &q->staged_head, *last = NULL;
    for (size_t i = 0; i < n && *pp; i++) {
        last = *pp;
        pp = &(*pp)->next;
    }
    oq_item *it = *pp;
    *pp = NULL;
    q->staged_tail = last;
    if (q->n_staged > n)
        q->n_staged = n;
    while (it) {
        oq_item *nx = it->next;
        item_free(it);
        it = nx;
    }
}

void outq_stage_commit(outq *q)
{
    size_t k = q->n_done_staged < q->n_done ? q->n_done_staged : q->n_done;
    if (k) { /* their deletions committed */
        memmove(q->done, q->done + k, (q->n_done - k) * sizeof *q->done);
        q->n_done -= k;
        if (!q->n_done)
            q->flush_gen++;
    }
    q->n_done_staged = 0;
    oq_item *it = q->staged_head;
    q->staged_head = q->staged_tail = NULL;
    q->n_staged = 0;
    while (it) {
        oq_item *n = it->next;
        if (item_enqueue(q, it)) {
            /* out of memory: the row is committed, the next start sends it */
            log_error("outq", "out of memory queueing %s; it goes out after a restart",
                      it->method);
            item_free(it);
        }
        it = n;
    }
}

void outq_stage_abort(outq *q)
{
    q->n_done_staged = 0; /* rolled back: outq_flush writes them again */
    oq_item *it = q->staged_head;
    q->staged_head = q->staged_tail = NULL;
    q->n_staged = 0;
    while (it) {
        oq_item *n = it->next;
        item_free(it);
        it = n;
    }
}

typedef struct restore_ctx {
    outq *q;
    int n, chats_err;
    int64_t now_unix;
} restore_ctx;

static int restore_row(void *ud, const store_outbox_row *r)
{
    restore_ctx *x = ud;
    outq *q = x->q;
    cJSON *p = cJSON_Parse(r->params);
    if (!p || !cJSON_IsObject(p)) {
        log_error("outq", "outbox row %lld (%s) has unreadable params; dropped",
                  (long long)r->id, r->method);
        cJSON_Delete(p);
        store_outbox_delete(q->opt.st, r->id);
        return 0;
    }
    oq_item *it = calloc(1, sizeof *it);
    if (!it) {
        cJSON_Delete(p);
        return -1;
    }
    it->q = q;
    it->id = r->id;
    it->chat_id = r->chat_id;
    snprintf(it->method, sizeof it->method, "%s", r->method);
    it->params = p;
    it->attempts = r->attempts;
    it->restored = true;
    if (item_enqueue(q, it)) {
        item_free(it);
        return -1;
    }
    if (r->not_before > x->now_unix && it->chat->head == it) {
        long d = (long)(r->not_before - x->now_unix);
        it->chat->not_before = loop_now_ms() + (d > q->opt.backoff_max_ms ? q->opt.backoff_max_ms : d);
    }
    x->n++;
    return 0;
}

int outq_restore(outq *q)
{
    if (!q->opt.st)
        return 0;
    restore_ctx x = {.q = q, .now_unix = unix_ms()};
    if (store_outbox_load(q->opt.st, restore_row, &x) < 0)
        return -1;
    q->stats.restored += (unsigned long)x.n;
    if (x.n)
        log_info("outq", "resending %d call(s) left in the outbox by the last run; a call "
                 "Telegram took just before that run ended goes out a second time",
                 x.n);
    return x.n;
}

size_t outq_pending(const outq *q) { return q->n_pending; }
int outq_in_flight(const outq *q) { return q->n_flight; }
int outq_retry_after_max_s(const outq *q) { return q->opt.retry_after_max_s; }
outq_stats outq_get_stats(const outq *q) { return q->stats; }

/* Removes the head call of c (sent or given up). */
static void pop_head(outq *q, oq_chat *c)
{
    oq_item *it = c->head;
    c->head = it->next;
    if (!c->head)
        c->tail = NULL;
    q->n_pending--;
    forget_row(q, it);
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

/* How long a 429 holds the call: its retry_after (already checked against
 * the cap), or without one an exponential backoff by the number of 429s. */
static long rate_wait_ms(outq *q, const tg_result *r, int waits)
{
    if (r->retry_after > 0)
        return (r->retry_after > q->opt.retry_after_max_s ? q->opt.retry_after_max_s
                                                           : r->retry_after) * 1000L;
    return backoff_ms(q, waits);
}

static bool is_not_modified(const tg_result *r)
{
    return r->error_code == 400 && strstr(r->description, "message is not modified");
}

/* Calls Telegram counts against the flood limits: messages sent or edited. */
static bool is_message(const char *m)
{
    if (!strncmp(m, "send", 4))
        return strcmp(m, "sendChatAction") != 0;
    return !strncmp(m, "editMessage", 11) || !strcmp(m, "copyMessage") ||
           !strcmp(m, "copyMessages") || !strcmp(m, "forwardMessage") ||
           !strcmp(m, "forwardMessages");
}

/* Milliseconds until c's head may go under the limits (0: now; the tokens
 * are then taken). *global says the overall bucket is the one empty. */
static long rate_wait(outq *q, oq_chat *c, long now, bool *global)
{
    *global = false;
    if (c->id == 0 || !is_message(c->head->method))
        return 0;
    long wait = 0;
    bool use_chat = q->opt.rate_chat > 0;
    bool use_group = c->id < 0 && q->group_rate > 0;
    bool use_global = q->opt.rate_global > 0;
    if (use_chat) {
        refill(&c->chat_b, q->opt.rate_chat, q->opt.chat_burst, now);
        if (c->chat_b.tokens < 1)
            wait = (long)ceil((1 - c->chat_b.tokens) * 1000.0 / q->opt.rate_chat);
    }
    if (use_group) {
        refill(&c->group_b, q->group_rate, q->group_cap, now);
        if (c->group_b.tokens < 1) {
            long w = (long)ceil((1 - c->group_b.tokens) * 1000.0 / q->group_rate);
            if (w > wait)
                wait = w;
        }
    }
    if (wait > 0)
        return wait;
    if (use_global) {
        refill(&q->global_b, q->opt.rate_global, q->global_cap, now);
        if (q->global_b.tokens < 1) {
            *global = true;
            long w = (long)ceil((1 - q->global_b.tokens) * 1000.0 / q->opt.rate_global);
            return w > 0 ? w : 1;
        }
        q->global_b.tokens -= 1;
    }
    if (use_chat)
        c->chat_b.tokens -= 1;
    if (use_group)
        c->group_b.tokens -= 1;
    c->buckets_used = c->buckets_used || use_chat || use_group;
    return 0;
}

static void on_done(const tg_result *r, void *ud);

/* Hands c's head call to tg. Returns false if it could not start. */
static bool start_head(outq *q, oq_chat *c)
{
    oq_item *it = c->head;
    /* The chat's previous call was accepted but its row is still in the
     * outbox: delete it durably first, so that a crash can resend at most
     * one accepted call per chat (and never two out of order). Quiet chats
     * never get here with a pending row, so this costs little. */
    if (c->undeleted_gen == q->flush_gen && q->n_done > 0 && outq_flush(q))
        log_warn("outq", "chat %lld: could not delete accepted calls before the next one",
                 (long long)c->id);
    tg_err e;
    if (it->body) {
        e = tg_call_body(q->tg, it->method, it->body, on_done, it);
    } else {
        cJSON *copy = it->params ? cJSON_Duplicate(it->params, 1) : NULL;
        if (it->params && !copy)
            return false;
        e = tg_call(q->tg, it->method, copy, on_done, it);
    }
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

/* ---- preparation ------------------------------------------------------- */

static bool needs_prepare(const outq *q, const oq_item *it)
{
    return q->opt.prepare && !it->prepared && !it->volatile_ && q->opt.prepare_method &&
           !strcmp(it->method, q->opt.prepare_method);
}

/* Hands c's head to the preparer: 1 it needs nothing (marked prepared),
 * 0 taken (the chat is busy until outq_prepared), -1 not now. */
static int start_prepare(outq *q, oq_chat *c)
{
    oq_item *it = c->head;
    char *printed = NULL;
    const char *body = it->body;
    if (!body) {
        printed = it->params ? cJSON_PrintUnformatted(it->params) : NULL;
        if (!printed)
            return -1;
        body = printed;
    }
    int k = q->opt.prepare(q->opt.prepare_ud, it, c->id, body);
    cJSON_free(printed);
    if (k > 0) {
        it->prepared = true;
        return 1;
    }
    if (k < 0)
        return -1;
    c->busy = true;
    q->n_flight++;
    ready_remove(q, c);
    return 0;
}

void outq_prepared(outq_call *it, outq_prep what, const char *method, char *body)
{
    outq *q = it->q;
    if (!q) { /* the queue was freed meanwhile */
        free(body);
        item_free(it);
        return;
    }
    oq_chat *c = it->chat;
    c->busy = false;
    q->n_flight--;
    long now = loop_now_ms();
    if (what == OUTQ_PREP_SEND && body) {
        snprintf(it->method, sizeof it->method, "%s", method);
        cJSON_Delete(it->params);
        it->params = NULL;
        cJSON_free(it->body);
        /* cJSON_free is free unless hooks are set (none are) */
        it->body = body;
        it->prepared = true;
        body = NULL;
    } else if (what == OUTQ_PREP_CANCELLED) {
        c->not_before = now + q->opt.backoff_max_ms; /* not again in this run */
    } else {
        q->stats.dropped++;
        pop_head(q, c);
    }
    free(body);
    if (c->head) {
        ready_add(q, c);
        if (c->not_before <= now)
            outq_pump(q);
    } else {
        chat_drop_if_idle(q, c);
    }
}

static void next_due(long *next, long d)
{
    if (*next < 0 || d < *next)
        *next = d;
}

void outq_stop_starting(outq *q) { q->no_start = true; }

long outq_pump(outq *q)
{
    if (q->no_start)
        return -1;
    long now = loop_now_ms(), next = -1;
    if (now - q->last_sweep > OQ_SWEEP_MS)
        sweep(q, now);
    if (q->global_not_before > now)
        return q->global_not_before - now; /* a bot-wide 429 */
    oq_chat *c = q->ready_head;
    while (c) {
        oq_chat *cn = c->rnext;
        if (!c->head) {
            chat_drop_if_idle(q, c);
        } else if (c->not_before > now) {
            next_due(&next, c->not_before - now);
        } else if (c->undeleted_gen == q->flush_gen && q->n_done > 0 && q->opt.st &&
                   store_in_transaction(q->opt.st)) {
            /* its accepted call's row can only be deleted durably once the
             * open transaction commits; the pump after that commit starts it */
        } else if (q->n_flight < q->opt.max_in_flight && needs_prepare(q, c->head)) {
            int k = start_prepare(q, c);
            if (k < 0) {
                c->not_before = now + q->opt.backoff_base_ms;
                next_due(&next, q->opt.backoff_base_ms);
            } else if (k > 0) {
                continue; /* needs nothing: the same chat again, now to send */
            }
        } else if (q->n_flight < q->opt.max_in_flight) {
            bool global;
            long w = rate_wait(q, c, now, &global);
            if (w > 0) {
                q->stats.rate_waits++;
                next_due(&next, w);
                if (global)
                    break; /* nobody may send before the overall bucket refills */
                c->not_before = now + w;
            } else if (!start_head(q, c)) {
                /* out of memory or shutting down: try again shortly */
                c->not_before = now + q->opt.backoff_base_ms;
                next_due(&next, q->opt.backoff_base_ms);
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

/* 403: the user blocked the bot (or left the group): nothing queued for
 * the chat can ever arrive. */
static void drop_chat_queue(outq *q, oq_chat *c, const tg_result *r)
{
    int n = 0;
    while (c->head) {
        pop_head(q, c);
        q->stats.dropped++;
        n++;
    }
    if (q->opt.st) {
        outq_flush(q);
        store_outbox_drop_chat(q->opt.st, c->id);
        store_set_active(q->opt.st, c->id, 0);
    }
    log_warn("outq", "chat %lld: %d %s; user marked inactive, %d queued call(s) dropped",
             (long long)c->id, r->error_code, r->description, n);
}

/* The group became a supergroup: this chat's queue (and later pushes for
 * it) go to the new id. */
static void migrate_chat(outq *q, oq_chat *c, int64_t to)
{
    if (q->n_migrated < OQ_MIGRATED_MAX) {
        q->migrated[q->n_migrated].from = c->id;
        q->migrated[q->n_migrated].to = to;
        q->n_migrated++;
    }
    for (oq_item *it = c->head; it; it = it->next) {
        if (item_params(it)) {
            set_chat_param(it->params, to);
            cJSON_free(it->body);
            it->body = NULL; /* stale: printed from params again */
        }
        it->chat_id = to;
        save_retry(q, it, 0, true);
    }
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
    long now = loop_now_ms();

    if (r->err == TG_OK) {
        q->stats.sent++;
        pop_head(q, c);
    } else if (it->volatile_) {
        /* droppable: never resent; a 429 still holds the chat */
        if (r->error_code == 429)
            c->not_before = now + rate_wait_ms(q, r, it->rate_waits + 1);
        log_debug("outq", "%s to chat %lld dropped: %d %s", it->method, (long long)c->id,
                  r->error_code, r->description);
        q->stats.dropped++;
        pop_head(q, c);
    } else if (r->err == TG_ERR_CANCELLED) {
        /* shutdown: the row stays, the next start sends it */
        log_info("outq", "%s to chat %lld interrupted by the shutdown; kept for the next start",
                 it->method, (long long)c->id);
        c->busy = false;
        ready_add(q, c);
        c->not_before = now + q->opt.backoff_max_ms; /* not again in this run */
        return;
    } else if (r->error_code == 429 && r->retry_after > q->opt.retry_after_max_s) {
        /* a day's wait helps no one and a shorter one earns another 429 */
        long wait = q->opt.retry_after_max_s * 1000L;
        log_error("outq", "%s to chat %lld given up: Telegram asks to wait %d s (429), more "
                  "than TELEGRAM_RETRY_AFTER_MAX=%d s; the %s waits %d s before its next call",
                  it->method, (long long)c->id, r->retry_after, q->opt.retry_after_max_s,
                  c->id == 0 ? "bot" : "chat", q->opt.retry_after_max_s);
        if (c->id == 0)
            q->global_not_before = now + wait;
        c->not_before = now + wait;
        q->stats.dropped++;
        pop_head(q, c);
    } else if (r->error_code == 429 && it->rate_waits >= q->opt.max_rate_waits) {
        log_error("outq", "%s to chat %lld given up after %d rate limits (429) in a row",
                  it->method, (long long)c->id, it->rate_waits);
        q->stats.dropped++;
        pop_head(q, c);
    } else if (r->error_code == 429) {
        long wait = rate_wait_ms(q, r, ++it->rate_waits);
        if (c->id == 0) {
            q->global_not_before = now + wait;
            log_warn("outq", "%s: rate limited bot-wide (429), every chat waits %ld s%s",
                     it->method, wait / 1000, r->retry_after > 0 ? "" : " (no retry_after: backing off)");
        } else if (r->retry_after > 0) {
            log_warn("outq", "%s to chat %lld: rate limited (429), retrying in %ld s",
                     it->method, (long long)c->id, wait / 1000);
        } else {
            log_warn("outq", "%s to chat %lld: rate limited (429) without retry_after, "
                     "retrying in %ld ms (try %d)", it->method, (long long)c->id, wait,
                     it->rate_waits);
        }
        c->not_before = now + wait;
        q->stats.retried++;
    } else if (r->err == TG_ERR_API && r->migrate_to_chat_id != 0 &&
               it->migrations++ < OQ_MAX_MIGRATIONS && item_params(it) &&
               cJSON_GetObjectItemCaseSensitive(it->params, "chat_id")) {
        log_info("outq", "%s: chat %lld migrated to %lld, resending", it->method,
                 (long long)c->id, (long long)r->migrate_to_chat_id);
        migrate_chat(q, c, r->migrate_to_chat_id);
        q->stats.retried++;
    } else if (r->error_code == 403 && c->id != 0) {
        drop_chat_queue(q, c, r);
    } else if ((r->err == TG_ERR_NETWORK || r->err == TG_ERR_NOMEM ||
                r->err == TG_ERR_PARSE || r->err == TG_ERR_TOOBIG || r->error_code >= 500) &&
               r->error_code != 429) {
        if (r->maybe_taken)
            log_warn("outq", "%s to chat %lld: %s after the request went out; resending "
                     "(a duplicate if Telegram had taken it)",
                     it->method, (long long)c->id, r->description);
        if (++it->attempts >= q->opt.max_attempts) {
            log_error("outq", "%s to chat %lld dropped after %d tries: %s: %s",
                      it->method, (long long)c->id, it->attempts, tg_err_str(r->err),
                      r->description);
            q->stats.dropped++;
            pop_head(q, c);
        } else {
            long d = backoff_ms(q, it->attempts);
            log_warn("outq", "%s to chat %lld failed (%s %d: %s), retry %d in %ld ms",
                     it->method, (long long)c->id, tg_err_str(r->err), r->error_code,
                     r->description, it->attempts, d);
            c->not_before = now + d;
            save_retry(q, it, d, false);
            q->stats.retried++;
        }
    } else {
        /* 400/...: resending cannot help */
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

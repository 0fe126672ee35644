/*
 * tgbot.c — the Telegram transport, long polling or webhook (see tgbot.h).
 *
 * One event loop (net/loop.h, libcurl multi) under the Bot API client and
 * the actions' HTTP requests: one getUpdates in flight at a time, the
 * outbox's sends, and the requests of actions that wait for an answer all
 * proceed together; nothing blocks but loop_poll.
 *
 * Nothing is lost: a getUpdates batch is written to the inbox (inbox.c) in
 * one synced transaction before the next poll's offset confirms it to
 * Telegram; updates are handled from the inbox (one chat in order, chats
 * independently), their replies committed to the outbox (outq.c) with the
 * new state, and an outbox row goes only once Telegram accepted the call.
 * A start resends what the outbox holds and handles what the inbox holds.
 *
 * SIGTERM/SIGINT: polling stops; requests of actions in flight get up to
 * TGB_DRAIN_MS to answer (their updates are handled then, else they stay in
 * the inbox for the next start); queued sends get the rest of that time;
 * a last getUpdates confirms what the inbox holds; then Bot API calls
 * already sent are waited for (within their own timeout) while nothing new
 * starts, so none is resent by the next start; exit 0.
 */
#include "delivery/tgbot.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions/llm.h"
#include "actions/memory.h"
#include "actions/registry.h"
#include "ai/embed.h"
#include "ai/kbvec.h"
#include "delivery/idle.h"
#include "delivery/inbox.h"
#include "dialogue/action.h"
#include "people/lead.h"
#include "base/json.h"
#include "base/log.h"
#include "telegram/outq.h"
#include "storage/store.h"
#include "telegram/tg.h"
#include "telegram/tgupdate.h"
#include "delivery/voice.h"
#include "delivery/webhook.h"
#include "storage/store_vectors.h"
#include "net/loop.h"

#define TGB_POLL_TIMEOUT_DEFAULT 25
#define TGB_POLL_TIMEOUT_MAX 300
#define TGB_TICK_MS 500          /* longest wait, so *stop is seen promptly */
#define TGB_DRAIN_MS 5000        /* time to finish sends after a stop */
#define TGB_INFLIGHT_MAX_MS 35000 /* then calls already sent: a call's own timeout (30 s) */
#define TGB_BACKOFF_MAX_MS 30000
#define TGB_BACKLOG_MAX 5000     /* stop polling while this much waits to go out */
#define TGB_INBOX_MAX 2000       /* or while this many updates wait to be handled */
#define TGB_DEAD_DAYS_DEFAULT 30 /* dead letters kept this long (BOT_DEAD_LETTER_DAYS) */
#define TGB_PRUNE_EVERY_MS 3600000L

typedef struct tgb {
    bot *b;
    loop *lp;
    tg_client *tg;
    outq *q;
    inbox *ib;
    idle_sweep *idle;   /* sessions idle past the spec's limit, NULL: none */
    volatile sig_atomic_t *stop;
    int poll_timeout_s;

    int64_t offset;     /* next update_id wanted (last stored + 1); 0 = none yet */
    int64_t confirmed;  /* offset carried by the last getUpdates sent */
    bool poll_busy;
    long poll_not_before;
    int poll_failures;
    int retry_after_max_s; /* TELEGRAM_RETRY_AFTER_MAX: the longest 429 wait honoured */
    long dead_max_age_s;   /* BOT_DEAD_LETTER_DAYS in seconds */
    long pruned_at;        /* when dead letters were last pruned (ms) */

    bool webhook_busy, webhook_done;
    bool me_busy, me_done;  /* getMe: the bot's username, for /cmd@bot in groups */
    bool confirm_busy;
    int fatal;          /* exit code 1 once the token proved invalid */

    bm_effects fx;
    tgu_calls calls;

    wh_server *wh;      /* webhook mode (WEBHOOK_URL set), else NULL: polling */
    voice_synth *vs;    /* answers by voice (spec voice: reply), else NULL */
    wh_config whc;

    /* hybrid retrieval (EMBEDDINGS_BASE set): the knowledge's chunk
     * vectors, filled on this loop; else all NULL */
    embed_client *ec;
    store_vectors *sv;
    kbvec *kv;
    /* long-term memory items kept without a vector, embedded on this loop
     * (actions/memory.h); NULL without EMBEDDINGS_BASE */
    embed_client *mec;
} tgb;

static int env_poll_timeout(void)
{
    const char *v = getenv("TELEGRAM_POLL_TIMEOUT");
    if (!v || !*v)
        return TGB_POLL_TIMEOUT_DEFAULT;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 0 || n > TGB_POLL_TIMEOUT_MAX) {
        log_warn("tgbot", "TELEGRAM_POLL_TIMEOUT=%s is not 0..%d seconds, using %d", v,
                 TGB_POLL_TIMEOUT_MAX, TGB_POLL_TIMEOUT_DEFAULT);
        return TGB_POLL_TIMEOUT_DEFAULT;
    }
    return (int)n;
}

/* BOT_DEAD_LETTER_DAYS (1..3650, default 30) in seconds. */
static long env_dead_letter_age(void)
{
    const char *v = getenv("BOT_DEAD_LETTER_DAYS");
    if (!v || !*v)
        return TGB_DEAD_DAYS_DEFAULT * 86400L;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 1 || n > 3650) {
        log_warn("tgbot", "BOT_DEAD_LETTER_DAYS=%s is not 1..3650 days, using %d", v,
                 TGB_DEAD_DAYS_DEFAULT);
        return TGB_DEAD_DAYS_DEFAULT * 86400L;
    }
    return n * 86400L;
}

/* Dead letters hold whole updates (names, texts): they age out. At start,
 * then hourly. */
static void prune_dead_letters(tgb *t)
{
    t->pruned_at = loop_now_ms();
    int n = store_dead_letter_prune(bot_store(t->b), t->dead_max_age_s);
    if (n > 0)
        log_info("tgbot", "%d dead letter(s) older than %ld day(s) removed", n,
                 t->dead_max_age_s / 86400);
}

/* 1 s, 2 s, 4 s ... 30 s, each with up to a quarter of random jitter. */
static long backoff(int failures)
{
    long d = 1000;
    for (int i = 1; i < failures && d < TGB_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > TGB_BACKOFF_MAX_MS)
        d = TGB_BACKOFF_MAX_MS;
    return d - (long)(rand() % (int)(d / 4 + 1));
}

/* A 401 (or a 404: the token is not even shaped right) means no call can
 * ever succeed. */
static bool token_rejected(const tg_result *r)
{
    return (r->err == TG_ERR_API || r->err == TG_ERR_HTTP) &&
           (r->error_code == 401 || r->error_code == 404);
}

/* "network error: ...", "Bot API error 400: ..." for log lines. */
static const char *describe(const tg_result *r, char *buf, size_t len)
{
    if (r->error_code)
        snprintf(buf, len, "%s %d: %s", tg_err_str(r->err), r->error_code, r->description);
    else
        snprintf(buf, len, "%s: %s", tg_err_str(r->err), r->description);
    return buf;
}

/* Renders effects and queues their calls in effect order. */
static void deliver(tgb *t, const bm_effects *fx)
{
    char err[256];
    for (int i = 0; i < fx->n; i++) {
        tgu_calls_clear(&t->calls);
        if (tgu_render(&fx->v[i], &t->calls, err, sizeof err) != 0) {
            log_error("tgbot", "cannot render an effect for chat %lld: %s",
                      (long long)fx->v[i].chat_id, err);
            continue;
        }
        for (int k = 0; k < t->calls.n; k++) {
            tgu_call *c = &t->calls.v[k];
            char *body = c->body;
            c->body = NULL; /* outq_push_body takes it */
            if (outq_push_body(t->q, c->chat_id, c->method, body) != 0)
                log_error("tgbot", "out of memory queueing %s for chat %lld", c->method,
                          (long long)c->chat_id);
        }
    }
    tgu_calls_clear(&t->calls);
}

/* A 429's wait for the calls that cannot be given up (polling, setWebhook):
 * retry_after, at most TELEGRAM_RETRY_AFTER_MAX. */
static long capped_wait_ms(const tgb *t, const tg_result *r)
{
    int s = r->retry_after < t->retry_after_max_s ? r->retry_after : t->retry_after_max_s;
    return s * 1000L;
}

/* ---- startup: deleteWebhook -------------------------------------------- */

static void on_webhook(const tg_result *r, void *ud)
{
    tgb *t = ud;
    t->webhook_busy = false;
    if (r->err == TG_OK) {
        t->webhook_done = true;
        t->poll_failures = 0;
        return;
    }
    if (r->err == TG_ERR_CANCELLED)
        return;
    if (token_rejected(r)) {
        log_error("tgbot", "invalid token: the Bot API answered %d (%s)", r->error_code,
                  r->description);
        t->fatal = 1;
        return;
    }
    long d = r->error_code == 429 && r->retry_after > 0 ? capped_wait_ms(t, r)
                                                         : backoff(++t->poll_failures);
    char why[320];
    log_warn("tgbot", "%s failed (%s), retrying in %ld ms", r->method,
             describe(r, why, sizeof why), d);
    t->poll_not_before = loop_now_ms() + d;
}

/* ---- startup: getMe ------------------------------------------------------ */

/* The bot's own username, so commands in groups addressed to another bot
 * ("/help@OtherBot") are ignored. Required before updates are taken: a
 * group command answered for another bot is the bug this prevents. */
static void on_me(const tg_result *r, void *ud)
{
    tgb *t = ud;
    t->me_busy = false;
    if (r->err == TG_OK) {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(r->result, "username");
        const char *name = cJSON_IsString(u) ? u->valuestring : "";
        inbox_set_username(t->ib, name);
        t->me_done = true;
        t->poll_failures = 0;
        if (*name)
            log_info("tgbot", "this bot is @%s", name);
        else
            log_warn("tgbot", "getMe gave no username: commands addressed to other bots "
                     "in groups are answered too");
        return;
    }
    if (r->err == TG_ERR_CANCELLED)
        return;
    if (token_rejected(r)) {
        log_error("tgbot", "invalid token: getMe answered %d (%s)", r->error_code,
                  r->description);
        t->fatal = 1;
        return;
    }
    long d = r->error_code == 429 && r->retry_after > 0 ? capped_wait_ms(t, r)
                                                         : backoff(++t->poll_failures);
    char why[320];
    log_warn("tgbot", "getMe failed (%s), retrying in %ld ms", describe(r, why, sizeof why), d);
    t->poll_not_before = loop_now_ms() + d;
}

/* ---- polling ----------------------------------------------------------- */

static void on_updates(const tg_result *r, void *ud)
{
    tgb *t = ud;
    t->poll_busy = false;
    if (r->err == TG_ERR_CANCELLED)
        return; /* unconfirmed: delivered again after restart */
    if (r->err == TG_OK) {
        /* stored (durably) even when stopping: the offset then confirms them */
        unsigned long no_id = inbox_get_stats(t->ib).no_id;
        if (inbox_put_raw(t->ib, r->result_raw, r->result_raw_len, &t->offset) < 0) {
            t->poll_not_before = loop_now_ms() + backoff(++t->poll_failures);
            return;
        }
        if (inbox_get_stats(t->ib).no_id > no_id) {
            /* a broken item comes back at once (the poll does not wait while
             * updates are pending): back off as after a failure */
            t->poll_not_before = loop_now_ms() + backoff(++t->poll_failures);
            return;
        }
        t->poll_failures = 0;
        return;
    }
    if (token_rejected(r)) {
        log_error("tgbot", "invalid token: getUpdates answered %d (%s)", r->error_code,
                  r->description);
        t->fatal = 1;
        return;
    }
    long d;
    if (r->error_code == 429 && r->retry_after > 0) {
        d = capped_wait_ms(t, r);
        log_warn("tgbot", "getUpdates rate limited, retrying in %ld s%s", d / 1000,
                 d / 1000 < r->retry_after ? " (retry_after capped by TELEGRAM_RETRY_AFTER_MAX)"
                                           : "");
    } else if (r->error_code == 409) {
        d = backoff(++t->poll_failures);
        log_warn("tgbot", "getUpdates conflict (409: %s): another instance of this bot "
                 "is polling with the same token, or a webhook is set; retrying in %ld ms",
                 r->description, d);
    } else {
        char why[320];
        d = backoff(++t->poll_failures);
        log_warn("tgbot", "getUpdates failed (%s), retrying in %ld ms",
                 describe(r, why, sizeof why), d);
    }
    t->poll_not_before = loop_now_ms() + d;
}

static void start_poll(tgb *t)
{
    cJSON *p = cJSON_CreateObject();
    cJSON *allowed = p ? cJSON_AddArrayToObject(p, "allowed_updates") : NULL;
    bool ok = allowed && cJSON_AddNumberToObject(p, "timeout", t->poll_timeout_s) &&
              cJSON_AddNumberToObject(p, "limit", 100);
    if (ok && t->offset > 0)
        ok = json_add_i64(p, "offset", t->offset) != NULL;
    cJSON *m = cJSON_CreateString("message"), *c = cJSON_CreateString("callback_query");
    if (m && cJSON_AddItemToArray(allowed, m))
        m = NULL;
    else
        ok = false;
    if (c && cJSON_AddItemToArray(allowed, c))
        c = NULL;
    else
        ok = false;
    cJSON_Delete(m);
    cJSON_Delete(c);
    if (!ok) {
        cJSON_Delete(p);
        t->poll_not_before = loop_now_ms() + 1000;
        return;
    }
    if (tg_call(t->tg, "getUpdates", p, on_updates, t) != TG_OK) {
        t->poll_not_before = loop_now_ms() + 1000;
        return;
    }
    t->poll_busy = true;
    t->confirmed = t->offset;
}

/* ---- webhook ------------------------------------------------------------ */

/* The one way webhook updates enter the bot: every request parked since
 * the last turn, stored in the inbox in one durable commit. Returns 0 once
 * they are (new, duplicates or kinds the bot skips), so each is answered
 * 200; -1 (503, Telegram delivers them again) when stopping or when they
 * could not be stored. */
static int tgb_take_updates(const jscan_span *updates, int n, void *ud)
{
    tgb *t = ud;
    if (*t->stop)
        return -1;
    int64_t unused_offset = 0; /* offsets are a polling matter */
    return inbox_put_updates(t->ib, updates, n, &unused_offset) < 0 ? -1 : 0;
}

/* From the webhook's server thread: end the main loop's wait. */
static void tgb_wake(void *ud)
{
    loop_wakeup(((tgb *)ud)->lp);
}

/* ---- shutdown ---------------------------------------------------------- */

static void on_confirm(const tg_result *r, void *ud)
{
    tgb *t = ud;
    t->confirm_busy = false;
    if (r->err != TG_OK && r->err != TG_ERR_CANCELLED)
        log_warn("tgbot", "confirming handled updates failed (%s: %s); they may be "
                 "answered again after a restart", tg_err_str(r->err), r->description);
}

/* One turn of work besides waiting: handle what the inbox may run, write
 * the outbox deletions, start the sends that may start. Returns how long
 * the loop may wait (ms, -1 = no timer). */
static long turn(tgb *t)
{
    voice_synth_dispatch(t->vs); /* spoken answers, to go out below */
    if (inbox_runnable(t->ib))
        inbox_run(t->ib);
    lead_pump(bot_part_state(t->b, BOT_PART_LEADS), t->tg, t->q); /* completed forms to the managers */
    idle_sweep_run(t->idle); /* sessions idle past the spec's limit */
    memory_embed_pump(t->b); /* memory items kept without a vector */
    outq_flush(t->q);
    long w = outq_pump(t->q);
    if (inbox_runnable(t->ib))
        w = 0; /* more to handle: do not sleep */
    return w;
}

static void drain(tgb *t)
{
    long deadline = loop_now_ms() + TGB_DRAIN_MS;
    int io = inbox_waiting_io(t->ib);
    if (io)
        log_info("tgbot", "stopping: waiting for %d action request(s) in flight", io);
    size_t n = outq_pending(t->q);
    if (n)
        log_info("tgbot", "stopping: delivering %zu queued call(s)", n);
    bool confirm_sent = false;
    for (;;) {
        long w = turn(t);
        /* every stored update is durable: confirm them all to Telegram */
        if (!confirm_sent && t->offset > t->confirmed) {
            confirm_sent = true;
            cJSON *p = cJSON_CreateObject();
            if (p && json_add_i64(p, "offset", t->offset) &&
                cJSON_AddNumberToObject(p, "timeout", 0) && cJSON_AddNumberToObject(p, "limit", 1)) {
                if (tg_call(t->tg, "getUpdates", p, on_confirm, t) == TG_OK)
                    t->confirm_busy = true;
            } else {
                cJSON_Delete(p);
            }
        }
        bool busy = inbox_waiting_io(t->ib) > 0 || inbox_runnable(t->ib) ||
                    outq_pending(t->q) > 0 || t->confirm_busy;
        long left = deadline - loop_now_ms();
        if (!busy || left <= 0)
            break;
        if (w < 0 || w > 100)
            w = 100;
        if (w > left)
            w = left;
        if (loop_poll(t->lp, (int)w) < 0)
            break;
    }
    /* Calls already sent are waited for, past the deadline (each ends
     * within its own timeout): cancelled, its row would be sent again by
     * the next start, a duplicate when Telegram had taken it. Only what
     * has not started stops here. */
    if (outq_in_flight(t->q) > 0) {
        log_info("tgbot", "stopping: waiting for %d call(s) already sent; %zu not started "
                 "stay in the outbox", outq_in_flight(t->q),
                 outq_pending(t->q) - (size_t)outq_in_flight(t->q));
        outq_stop_starting(t->q);
        long until = loop_now_ms() + TGB_INFLIGHT_MAX_MS;
        while (outq_in_flight(t->q) > 0 && loop_now_ms() < until)
            if (loop_poll(t->lp, 100) < 0)
                break;
        outq_flush(t->q); /* the accepted ones leave the outbox durably */
    }
    if (inbox_pending(t->ib))
        log_info("tgbot", "stopping: %zu update(s) stay in the inbox for the next start",
                 inbox_pending(t->ib));
}

/* The limits from the environment (TELEGRAM_RATE_*), logged once. */
static void on_vectors(void *ud, int ok, const char *why)
{
    (void)ud;
    if (ok)
        log_info("tgbot", "knowledge vectors: every chunk has one; retrieval is hybrid");
    else
        log_warn("tgbot", "knowledge vectors: %s; the chunks without one are found by their "
                 "words only until the next start", why);
}

/* With EMBEDDINGS_BASE set and knowledge to search, the chunks' vectors:
 * the cached ones at once, the missing ones asked for on the loop (the
 * question's own is the llm action's deferred request). Optional: any
 * failure leaves retrieval lexical, and says so. */
static void start_vectors(tgb *t)
{
    kb *k = act_llm_kb(t->b);
    embed_options o = embed_options_from_env();
    if (!k || !o.base || !*o.base)
        return;
    char err[256];
    t->ec = embed_new(t->lp, &o, err, sizeof err);
    t->sv = t->ec ? store_vectors_open(bot_store(t->b), err, sizeof err) : NULL;
    t->kv = t->sv ? kbvec_open(k, t->sv, t->ec, on_vectors, t, err, sizeof err) : NULL;
    if (!t->kv) {
        log_error("tgbot", "hybrid retrieval is off: %s", err);
        store_vectors_free(t->sv);
        embed_free(t->ec);
        t->sv = NULL;
        t->ec = NULL;
        return;
    }
    log_info("tgbot", "knowledge vectors from %s: %d chunk(s) to embed", embed_model(t->ec),
             kbvec_missing(t->kv));
}

/* With EMBEDDINGS_BASE set, the memory items kept without a vector get
 * one on this loop (a client of their own: the knowledge's exists only
 * with knowledge). Optional: a failure leaves them recalled by words. */
static void start_memory_vectors(tgb *t)
{
    embed_options o = embed_options_from_env();
    if (!o.base || !*o.base)
        return;
    char err[256];
    t->mec = embed_new(t->lp, &o, err, sizeof err);
    if (!t->mec || memory_embed_start(t->b, t->mec)) {
        log_error("tgbot", "memory items kept without a vector stay so: %s",
                  t->mec ? "out of memory" : err);
        embed_free(t->mec);
        t->mec = NULL;
    }
}

static void stop_vectors(tgb *t)
{
    memory_embed_stop(t->b);
    embed_free(t->mec);
    t->mec = NULL;
    kbvec_free(t->kv);
    embed_free(t->ec);
    store_vectors_free(t->sv);
    t->kv = NULL;
    t->ec = NULL;
    t->sv = NULL;
}

static outq_options queue_options(bot *b)
{
    outq_options o = outq_options_from_env();
    o.st = bot_store(b);
    log_info("tgbot", "flood limits: %g msg/s overall, %g/s per chat (bursts of %g), "
             "%g/min per group (0 = off)", o.rate_global, o.rate_chat, o.chat_burst,
             o.group_per_min);
    return o;
}

/* ---- run --------------------------------------------------------------- */

int tgbot_run(bot *b, bm_effects *pending, volatile sig_atomic_t *stop)
{
    char err[256];
    tgb t = {.b = b, .stop = stop, .poll_timeout_s = env_poll_timeout(),
             .dead_max_age_s = env_dead_letter_age()};
    bm_effects_init(&t.fx);
    tgu_calls_init(&t.calls);
    srand((unsigned)time(NULL) ^ (unsigned)loop_now_ms());

    t.lp = loop_new(NULL, err, sizeof err);
    t.tg = t.lp ? tg_new(t.lp, NULL, err, sizeof err) : NULL;
    if (!t.tg) {
        log_error("tgbot", "cannot start the Telegram client: %s", err);
        loop_free(t.lp);
        return 1;
    }
    outq_options qo = queue_options(b);
    t.retry_after_max_s = qo.retry_after_max_s;
    if (bot_machine(b)->voice_reply != BM_VOICE_REPLY_TEXT) {
        /* the spec answers by voice: the outbox has speech made before a
         * voice answer goes (delivery/voice.h) */
        t.vs = voice_synth_new(t.lp);
        qo.prepare = voice_synth_prepare;
        qo.prepare_method = VOICE_METHOD;
        qo.prepare_ud = t.vs;
    }
    t.q = t.vs || bot_machine(b)->voice_reply == BM_VOICE_REPLY_TEXT ? outq_new(t.tg, &qo) : NULL;
    t.ib = t.q ? inbox_new(b, t.lp, t.tg, t.q, NULL) : NULL;
    if (!t.ib) {
        log_error("tgbot", "out of memory");
        outq_free(t.q);
        voice_synth_free(t.vs);
        tg_free(t.tg);
        loop_free(t.lp);
        return 1;
    }
    /* what the last run left: replies first (they are older), then updates */
    if (outq_restore(t.q) < 0 || inbox_restore(t.ib) < 0) {
        log_error("tgbot", "cannot read the outbox / inbox");
        inbox_free(t.ib);
        outq_free(t.q);
        voice_synth_free(t.vs);
        tg_free(t.tg);
        loop_free(t.lp);
        return 1;
    }

    prune_dead_letters(&t);
    start_vectors(&t);
    t.idle = idle_sweep_new(b, t.lp);
    start_memory_vectors(&t);

    /* Webhook mode listens before setWebhook, so the first delivery finds
     * the server up. */
    int whmode = wh_config_from_env(&t.whc, err, sizeof err);
    if (whmode == 1)
        t.wh = wh_new(&t.whc, tgb_wake, &t, err, sizeof err);
    if (whmode < 0 || (whmode == 1 && !t.wh)) {
        log_error("tgbot", "webhook: %s", err);
        idle_sweep_free(t.idle);
        stop_vectors(&t);
        inbox_free(t.ib);
        outq_free(t.q);
        voice_synth_free(t.vs);
        tg_free(t.tg);
        loop_free(t.lp);
        return 2;
    }

    /* Polling and a webhook exclude each other: polling drops any webhook
     * first; webhook mode sets ours (again on every start: the URL or the
     * secret may have changed). */
    while (!*stop && !t.fatal && !(t.webhook_done && t.me_done)) {
        long now = loop_now_ms();
        if (!t.me_done && !t.me_busy && !t.webhook_busy && now >= t.poll_not_before) {
            if (tg_call(t.tg, "getMe", NULL, on_me, &t) == TG_OK)
                t.me_busy = true;
            else
                t.poll_not_before = now + 1000;
        }
        if (t.me_done && !t.webhook_done && !t.webhook_busy && now >= t.poll_not_before) {
            cJSON *wp = t.wh ? wh_set_params(&t.whc) : NULL;
            if ((!t.wh || wp) &&
                tg_call(t.tg, t.wh ? "setWebhook" : "deleteWebhook", wp, on_webhook, &t) == TG_OK)
                t.webhook_busy = true;
            else
                t.poll_not_before = now + 1000;
        }
        /* the restored outbox and inbox need no webhook answer to go on */
        long w = turn(&t);
        long d = t.webhook_busy || t.me_busy ? TGB_TICK_MS : t.poll_not_before - now;
        if (w < 0 || w > d)
            w = d;
        if (w > TGB_TICK_MS)
            w = TGB_TICK_MS;
        loop_poll(t.lp, w > 0 ? (int)w : 0);
    }
    t.poll_failures = 0;
    t.poll_not_before = 0;

    if (!*stop && !t.fatal) {
        tgu_calls_clear(&t.calls);
        if (tgu_commands(bot_machine(b), &t.calls, err, sizeof err) != 0)
            log_error("tgbot", "cannot build setMyCommands: %s", err);
        for (int k = 0; k < t.calls.n; k++) {
            char *body = t.calls.v[k].body;
            t.calls.v[k].body = NULL;
            outq_push_body(t.q, 0, t.calls.v[k].method, body);
        }
        tgu_calls_clear(&t.calls);
        if (pending) {
            deliver(&t, pending);
            bm_effects_clear(pending);
        }
        if (t.wh)
            log_info("tgbot", "receiving updates by webhook on %s (port %u, path %s)",
                     t.whc.listen, (unsigned)wh_port(t.wh), t.whc.path);
        else
            log_info("tgbot", "polling for updates (timeout %d s)", t.poll_timeout_s);
    }

    while (!*stop && !t.fatal) {
        long now = loop_now_ms();
        if (now - t.pruned_at >= TGB_PRUNE_EVERY_MS)
            prune_dead_letters(&t);
        /* backpressure: let a large backlog go out before taking more work */
        bool may_poll = !t.poll_busy && outq_pending(t.q) < TGB_BACKLOG_MAX &&
                        inbox_pending(t.ib) < TGB_INBOX_MAX;
        if (t.wh) {
            /* webhook: parked requests wait (unanswered) while the backlog drains */
            if (may_poll)
                wh_drain_batch(t.wh, 100, tgb_take_updates, &t);
            may_poll = false;
        }
        if (may_poll && now >= t.poll_not_before) {
            start_poll(&t);
            may_poll = !t.poll_busy;
            /* on the wire before the batch just stored is handled: the
             * next batch's round trip overlaps with that work */
            if (t.poll_busy)
                loop_kick(t.lp);
        }
        long w = turn(&t);
        if (w < 0 || w > TGB_TICK_MS)
            w = TGB_TICK_MS;
        if (may_poll && t.poll_not_before - now < w)
            w = t.poll_not_before > now ? t.poll_not_before - now : 0;
        if (loop_poll(t.lp, (int)w) < 0) {
            log_error("tgbot", "the event loop failed; stopping");
            t.fatal = 1;
        }
    }

    /* waiting webhook requests get 503: Telegram delivers them again */
    wh_free(t.wh);
    t.wh = NULL;
    if (!t.fatal)
        drain(&t);
    idle_sweep_free(t.idle);
    stop_vectors(&t);
    loop_cancel(t.lp, NULL); /* what did not finish in time */
    outq_stats s = outq_get_stats(t.q);
    inbox_stats is = inbox_get_stats(t.ib);
    log_info("tgbot", "stopped: %lu update(s) handled in %lu transaction(s), %lu "
             "dead-lettered, %lu duplicate(s) ignored; %lu call(s) sent, %lu dropped, %lu "
             "retried, %lu held for flood limits", is.handled, is.batches, is.dead,
             is.duplicates, s.sent, s.dropped, s.retried, s.rate_waits);
    inbox_free(t.ib);
    outq_free(t.q);
    voice_synth_free(t.vs); /* after the outbox: what it still speaks is cancelled */
    tg_free(t.tg);
    loop_free(t.lp);
    tgu_calls_free(&t.calls);
    bm_effects_free(&t.fx);
    return t.fatal;
}

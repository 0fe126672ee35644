/*
 * tgbot.c — the long-polling Telegram transport (see tgbot.h).
 *
 * One event loop over the tg client: one getUpdates in flight at a time;
 * each update is handled in order (bot_handle commits the user's new state)
 * and its effects go to the outbox (outq), which keeps every chat in order
 * while different chats are sent concurrently.
 *
 * Offsets: an update counts as handled once bot_handle returns, and Telegram
 * forgets it only when a later getUpdates carries a higher offset. Each poll
 * carries offset = last handled + 1; on stop, a short getUpdates confirms
 * what the last batch handled, so a restart does not answer it twice.
 */
#include "tgbot.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "outq.h"
#include "tg.h"
#include "tgupdate.h"

#define TGB_POLL_TIMEOUT_DEFAULT 25
#define TGB_POLL_TIMEOUT_MAX 300
#define TGB_TICK_MS 500          /* longest wait, so *stop is seen promptly */
#define TGB_DRAIN_MS 5000        /* time to finish sends after a stop */
#define TGB_BACKOFF_MAX_MS 30000
#define TGB_BACKLOG_MAX 5000     /* stop polling while this much waits to go out */

typedef struct tgb {
    bot *b;
    tg_client *tg;
    outq *q;
    volatile sig_atomic_t *stop;
    int poll_timeout_s;

    int64_t offset;     /* next update_id wanted (last handled + 1); 0 = none yet */
    int64_t confirmed;  /* offset carried by the last getUpdates sent */
    bool poll_busy;
    long poll_not_before;
    int poll_failures;

    bool webhook_busy, webhook_done;
    bool confirm_busy;
    int fatal;          /* exit code 1 once the token proved invalid */

    bm_effects fx;
    tgu_calls calls;
} tgb;

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
            cJSON *p = c->params;
            c->params = NULL; /* outq_push takes it */
            if (outq_push(t->q, c->chat_id, c->method, p) != 0)
                log_error("tgbot", "out of memory queueing %s for chat %lld", c->method,
                          (long long)c->chat_id);
        }
    }
    tgu_calls_clear(&t->calls);
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
    long d = r->error_code == 429 && r->retry_after > 0 ? r->retry_after * 1000L
                                                         : backoff(++t->poll_failures);
    char why[320];
    log_warn("tgbot", "deleteWebhook failed (%s), retrying in %ld ms",
             describe(r, why, sizeof why), d);
    t->poll_not_before = now_ms() + d;
}

/* ---- polling ----------------------------------------------------------- */

static void handle_updates(tgb *t, const cJSON *arr)
{
    char err[256];
    const cJSON *u;
    cJSON_ArrayForEach(u, arr) {
        if (*t->stop)
            break; /* the rest stay unconfirmed: Telegram sends them again */
        int64_t uid = -1;
        bm_input in;
        tgu_status st = tgu_parse(u, &uid, &in, err, sizeof err);
        if (st == TGU_ERROR)
            log_warn("tgbot", "update %lld skipped: %s", (long long)uid, err);
        else if (st == TGU_SKIP)
            log_debug("tgbot", "update %lld: not a kind this bot handles", (long long)uid);
        else {
            log_debug("tgbot", "update %lld: input %d from user %lld in chat %lld",
                      (long long)uid, (int)in.kind, (long long)in.user.id,
                      (long long)in.user.chat_id);
            bm_effects_clear(&t->fx);
            if (bot_handle(t->b, &in, &t->fx) != 0)
                log_error("tgbot", "update %lld could not be handled", (long long)uid);
            else
                deliver(t, &t->fx);
            bm_effects_clear(&t->fx);
        }
        if (uid >= 0 && uid + 1 > t->offset)
            t->offset = uid + 1;
    }
}

static void on_updates(const tg_result *r, void *ud)
{
    tgb *t = ud;
    t->poll_busy = false;
    if (r->err == TG_ERR_CANCELLED || *t->stop)
        return; /* unhandled and unconfirmed: delivered again after restart */
    if (r->err == TG_OK) {
        if (!cJSON_IsArray(r->result)) {
            log_warn("tgbot", "getUpdates returned no array; retrying");
            t->poll_not_before = now_ms() + backoff(++t->poll_failures);
            return;
        }
        t->poll_failures = 0;
        handle_updates(t, r->result);
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
        d = r->retry_after * 1000L;
        log_warn("tgbot", "getUpdates rate limited, retrying in %d s", r->retry_after);
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
    t->poll_not_before = now_ms() + d;
}

static void start_poll(tgb *t)
{
    cJSON *p = cJSON_CreateObject();
    cJSON *allowed = p ? cJSON_AddArrayToObject(p, "allowed_updates") : NULL;
    bool ok = allowed && cJSON_AddNumberToObject(p, "timeout", t->poll_timeout_s) &&
              cJSON_AddNumberToObject(p, "limit", 100);
    if (ok && t->offset > 0)
        ok = tg_json_add_i64(p, "offset", t->offset) != NULL;
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
        t->poll_not_before = now_ms() + 1000;
        return;
    }
    if (tg_call(t->tg, "getUpdates", p, on_updates, t) != TG_OK) {
        t->poll_not_before = now_ms() + 1000;
        return;
    }
    t->poll_busy = true;
    t->confirmed = t->offset;
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

static void drain(tgb *t)
{
    if (t->offset > t->confirmed) {
        cJSON *p = cJSON_CreateObject();
        if (p && tg_json_add_i64(p, "offset", t->offset) &&
            cJSON_AddNumberToObject(p, "timeout", 0) && cJSON_AddNumberToObject(p, "limit", 1)) {
            if (tg_call(t->tg, "getUpdates", p, on_confirm, t) == TG_OK)
                t->confirm_busy = true;
        } else {
            cJSON_Delete(p);
        }
    }
    size_t n = outq_pending(t->q);
    if (n)
        log_info("tgbot", "stopping: delivering %zu queued call(s)", n);
    long deadline = now_ms() + TGB_DRAIN_MS;
    while ((outq_pending(t->q) > 0 || t->confirm_busy) && now_ms() < deadline) {
        long w = outq_pump(t->q);
        long left = deadline - now_ms();
        if (w < 0 || w > 100)
            w = 100;
        if (w > left)
            w = left > 0 ? left : 0;
        if (tg_poll(t->tg, (int)w) < 0)
            break;
    }
}

/* ---- run --------------------------------------------------------------- */

int tgbot_run(bot *b, bm_effects *pending, volatile sig_atomic_t *stop)
{
    char err[256];
    tgb t = {.b = b, .stop = stop, .poll_timeout_s = env_poll_timeout()};
    bm_effects_init(&t.fx);
    tgu_calls_init(&t.calls);
    srand((unsigned)time(NULL) ^ (unsigned)now_ms());

    t.tg = tg_new(NULL, err, sizeof err);
    if (!t.tg) {
        log_error("tgbot", "cannot start the Telegram client: %s", err);
        return 1;
    }
    t.q = outq_new(t.tg, NULL);
    if (!t.q) {
        log_error("tgbot", "out of memory");
        tg_free(t.tg);
        return 1;
    }

    /* Polling and a webhook exclude each other: drop any webhook first. */
    while (!*stop && !t.fatal && !t.webhook_done) {
        long now = now_ms();
        if (!t.webhook_busy && now >= t.poll_not_before) {
            if (tg_call(t.tg, "deleteWebhook", NULL, on_webhook, &t) == TG_OK)
                t.webhook_busy = true;
            else
                t.poll_not_before = now + 1000;
        }
        long w = t.webhook_busy ? TGB_TICK_MS : t.poll_not_before - now;
        if (w > TGB_TICK_MS)
            w = TGB_TICK_MS;
        tg_poll(t.tg, w > 0 ? (int)w : 0);
    }
    t.poll_failures = 0;
    t.poll_not_before = 0;

    if (!*stop && !t.fatal) {
        tgu_calls_clear(&t.calls);
        if (tgu_commands(bot_machine(b), &t.calls, err, sizeof err) != 0)
            log_error("tgbot", "cannot build setMyCommands: %s", err);
        for (int k = 0; k < t.calls.n; k++) {
            cJSON *p = t.calls.v[k].params;
            t.calls.v[k].params = NULL;
            outq_push(t.q, 0, t.calls.v[k].method, p);
        }
        tgu_calls_clear(&t.calls);
        if (pending) {
            deliver(&t, pending);
            bm_effects_clear(pending);
        }
        log_info("tgbot", "polling for updates (timeout %d s)", t.poll_timeout_s);
    }

    while (!*stop && !t.fatal) {
        long now = now_ms();
        /* backpressure: let a large backlog go out before taking more work */
        bool may_poll = !t.poll_busy && outq_pending(t.q) < TGB_BACKLOG_MAX;
        if (may_poll && now >= t.poll_not_before) {
            start_poll(&t);
            may_poll = !t.poll_busy;
        }
        long w = outq_pump(t.q);
        if (w < 0 || w > TGB_TICK_MS)
            w = TGB_TICK_MS;
        if (may_poll && t.poll_not_before - now < w)
            w = t.poll_not_before > now ? t.poll_not_before - now : 0;
        if (tg_poll(t.tg, (int)w) < 0) {
            log_error("tgbot", "the event loop failed; stopping");
            t.fatal = 1;
        }
    }

    if (!t.fatal)
        drain(&t);
    tg_cancel_all(t.tg); /* what did not finish in time */
    outq_stats s = outq_get_stats(t.q);
    log_info("tgbot", "stopped: %lu call(s) sent, %lu dropped, %lu retried", s.sent,
             s.dropped, s.retried);
    outq_free(t.q);
    tg_free(t.tg);
    tgu_calls_free(&t.calls);
    bm_effects_free(&t.fx);
    return t.fatal;
}

/*
 * test_outbox.c — the durable outbox and flood control (runtime/telegram/outq.c),
 * the inbox tables and nested transactions (runtime/storage/store.c), and long
 * texts split for Telegram, against a real SQLite file and the fake Bot
 * API over loopback.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "../fake_tg/fake_tg.h"
#include "dialogue/bot.h"
#include "delivery/inbox.h"
#include "base/json.h"
#include "base/log.h"
#include "telegram/outq.h"
#include "storage/store.h"
#include "support/call_params.h"
#include "support/tiny_machine.h"
#include "base/text.h"
#include "telegram/tg.h"
#include "net/loop.h"
#include "telegram/tgupdate.h"


static fake_tg *g_ft;
static char g_base[64];
static char g_dir[64];
static int g_n_db;

static long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static store *new_store(char *path, size_t len)
{
    snprintf(path, len, "%s/o%d.db", g_dir, g_n_db++);
    char err[256];
    store *st = store_open(path, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(st);
    return st;
}

/* Each test's client runs on a loop of its own (a fresh connection cache). */
static loop *g_lp;

static tg_client *client(void)
{
    tg_options o = {.api_base = g_base, .token = fake_tg_token(g_ft)};
    char err[256];
    g_lp = loop_new(NULL, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g_lp);
    tg_client *tg = tg_new(g_lp, &o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tg);
    return tg;
}

static void client_free(tg_client *tg)
{
    tg_free(tg);
    loop_free(g_lp);
    g_lp = NULL;
}

static cJSON *msg(int64_t chat, const char *text)
{
    cJSON *p = cJSON_CreateObject();
    json_add_i64(p, "chat_id", chat);
    cJSON_AddStringToObject(p, "text", text);
    return p;
}

static void drain(tg_client *tg, outq *q, long max_ms)
{
    long end = ms_now() + max_ms;
    while (outq_pending(q) > 0 && ms_now() < end) {
        outq_flush(q);
        long w = outq_pump(q);
        loop_poll(g_lp, w < 0 || w > 50 ? 50 : (int)w);
    }
    outq_flush(q);
}

static int count_cb(void *ud, const store_outbox_row *r)
{
    (void)r;
    (*(int *)ud)++;
    return 0;
}

static int outbox_rows(store *st)
{
    int n = 0;
    if (!st)
        return -1;
    store_outbox_load(st, count_cb, &n);
    return n;
}

/* Every call is a row before it is sent and only until it is accepted;
 * what is left at a stop is sent by the next run, in order. */
static void test_durable_restore(void)
{
    char path[128];
    store *st = new_store(path, sizeof path);
    tg_client *tg = client();
    outq_options o = {.st = st};
    outq *q = outq_new(tg, &o);
    for (int i = 0; i < 3; i++) {
        char t[16];
        snprintf(t, sizeof t, "keep %d", i);
        CU_ASSERT_EQUAL(outq_push(q, 501, "sendMessage", msg(501, t)), 0);
    }
    CU_ASSERT_EQUAL(outbox_rows(st), 3);
    outq_free(q); /* nothing sent: the rows stay */
    CU_ASSERT_EQUAL(outbox_rows(st), 3);

    uint64_t since = fake_tg_ncalls(g_ft);
    q = outq_new(tg, &o);
    CU_ASSERT_EQUAL(outq_restore(q), 3);
    CU_ASSERT_EQUAL(outq_get_stats(q).restored, 3);
    drain(tg, q, 5000);
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    CU_ASSERT_EQUAL(outbox_rows(st), 0);
    size_t n;
    fake_tg_call *c = fake_tg_calls_since(g_ft, since, &n);
    CU_ASSERT_EQUAL(n, 3);
    for (size_t i = 0; i < n; i++) {
        char t[32];
        snprintf(t, sizeof t, "keep %zu", i);
        CU_ASSERT_STRING_EQUAL(json_str(c[i].params, "text"), t);
    }
    fake_tg_calls_free(c, n);
    outq_free(q);
    client_free(tg);
    store_close(st);
    char err[256];
    st = store_open(path, &tiny_machine, err, sizeof err); /* what a restart sees */
    CU_ASSERT_EQUAL(outbox_rows(st), 0);
    store_close(st);
}

/* Staged calls commit with the caller's transaction, or vanish with it. */
static void test_stage_commit_abort(void)
{
    char path[128];
    store *st = new_store(path, sizeof path);
    tg_client *tg = client();
    outq_options o = {.st = st};
    outq *q = outq_new(tg, &o);
    CU_ASSERT_EQUAL(store_begin(st), 0);
    CU_ASSERT_EQUAL(outq_stage(q, 502, "sendMessage", msg(502, "lost")), 0);
    CU_ASSERT_EQUAL(outq_staged(q), 1);
    CU_ASSERT_EQUAL(store_rollback(st), 0);
    outq_stage_abort(q);
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    CU_ASSERT_EQUAL(outbox_rows(st), 0);

    CU_ASSERT_EQUAL(store_begin(st), 0);
    CU_ASSERT_EQUAL(outq_stage(q, 502, "sendMessage", msg(502, "a")), 0);
    /* a nested savepoint rolled back takes only its own rows */
    CU_ASSERT_EQUAL(store_begin(st), 0);
    size_t mark = outq_staged(q);
    CU_ASSERT_EQUAL(outq_stage(q, 502, "sendMessage", msg(502, "b")), 0);
    CU_ASSERT_EQUAL(store_rollback(st), 0);
    outq_stage_truncate(q, mark);
    CU_ASSERT_EQUAL(outq_stage(q, 502, "sendMessage", msg(502, "c")), 0);
    CU_ASSERT_EQUAL(store_commit(st), 0);
    outq_stage_commit(q);
    CU_ASSERT_EQUAL(outq_pending(q), 2);
    CU_ASSERT_EQUAL(outbox_rows(st), 2);
    uint64_t since = fake_tg_ncalls(g_ft);
    drain(tg, q, 5000);
    size_t n;
    fake_tg_call *c = fake_tg_calls_since(g_ft, since, &n);
    CU_ASSERT_EQUAL(n, 2);
    if (n == 2) {
        CU_ASSERT_STRING_EQUAL(json_str(c[0].params, "text"), "a");
        CU_ASSERT_STRING_EQUAL(json_str(c[1].params, "text"), "c");
    }
    fake_tg_calls_free(c, n);
    outq_free(q);
    client_free(tg);
    store_close(st);
}

/* Token buckets: one chat bursts chat_burst, then rate_chat per second;
 * the overall limit holds across chats. */
static void test_rate_limits(void)
{
    tg_client *tg = client();
    outq_options o = {.rate_chat = 10, .chat_burst = 2, .rate_global = 20};
    outq *q = outq_new(tg, &o);
    uint64_t since = fake_tg_ncalls(g_ft);
    long t0 = ms_now();
    for (int i = 0; i < 8; i++)
        outq_push(q, 601, "sendMessage", msg(601, "r"));
    for (int c = 0; c < 12; c++)
        outq_push(q, 700 + c, "sendMessage", msg(700 + c, "g"));
    drain(tg, q, 8000);
    long took = ms_now() - t0;
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    CU_ASSERT(outq_get_stats(q).rate_waits > 0);
    /* 20 messages at 20/s (capacity 1): about a second */
    CU_ASSERT(took >= 800);
    size_t n;
    fake_tg_call *c = fake_tg_calls_since(g_ft, since, &n);
    CU_ASSERT_EQUAL(n, 20);
    /* chat 601: no 0.3 s window with more than 2 + 10 * 0.3 = 5 */
    double t601[8];
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t id = 0;
        json_i64(c[i].params, "chat_id", &id);
        if (id == 601 && k < 8)
            t601[k++] = c[i].at;
    }
    CU_ASSERT_EQUAL(k, 8);
    for (int i = 0; i < k; i++) {
        int in = 0;
        for (int j = i; j < k && t601[j] - t601[i] < 0.3 - 0.02; j++)
            in++;
        CU_ASSERT(in <= 5);
    }
    /* overall: no 1 s window above 20, i.e. no 0.5 s window above 1 + 19*0.5 */
    for (size_t i = 0; i < n; i++) {
        int in = 0;
        for (size_t j = i; j < n && c[j].at - c[i].at < 0.5 - 0.02; j++)
            in++;
        CU_ASSERT(in <= 11);
    }
    fake_tg_calls_free(c, n);
    outq_free(q);
    client_free(tg);
}

/* 403: the user is marked inactive, the chat's queue and rows dropped. */
static void test_blocked_user(void)
{
    char path[128];
    store *st = new_store(path, sizeof path);
    bm_session s;
    bm_user u = {.id = 801, .chat_id = 801, .first_name = "Bo"};
    bm_session_init(&tiny_machine, &s, &u);
    CU_ASSERT_EQUAL(store_save_session(st, &s, &u), 0);
    bm_session_free(&tiny_machine, &s);
    tg_client *tg = client();
    outq_options o = {.st = st};
    outq *q = outq_new(tg, &o);
    fake_tg_fault f = {.kind = FAKE_TG_FAULT_ERROR, .method = "sendMessage", .chat_id = 801,
                       .status = 403, .description = "Forbidden: bot was blocked by the user",
                       .count = 1};
    fake_tg_add_fault(g_ft, &f);
    for (int i = 0; i < 3; i++)
        outq_push(q, 801, "sendMessage", msg(801, "x"));
    outq_push(q, 802, "sendMessage", msg(802, "other chat"));
    drain(tg, q, 5000);
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    CU_ASSERT_EQUAL(outq_get_stats(q).dropped, 3);
    CU_ASSERT_EQUAL(outq_get_stats(q).sent, 1);
    CU_ASSERT_EQUAL(outbox_rows(st), 0);
    char *js = store_export_user(st, 801);
    CU_ASSERT_PTR_NOT_NULL(js);
    cJSON *j = js ? cJSON_Parse(js) : NULL;
    const cJSON *act = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "user"), "active");
    CU_ASSERT(cJSON_IsNumber(act) && act->valueint == 0);
    cJSON_Delete(j);
    free(js);
    outq_free(q);
    client_free(tg);
    store_close(st);
}

/* A bot-wide 429 (no chat) holds every chat for retry_after. */
static void test_global_429(void)
{
    tg_client *tg = client();
    outq *q = outq_new(tg, NULL);
    fake_tg_fault f = {.kind = FAKE_TG_FAULT_ERROR, .method = "setMyCommands", .status = 429,
                       .description = "Too Many Requests: retry after 1", .retry_after = 1,
                       .count = 1};
    fake_tg_add_fault(g_ft, &f);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddArrayToObject(p, "commands");
    long t0 = ms_now();
    outq_push(q, 0, "setMyCommands", p);
    /* the 429 arrives first, then this chat must wait too */
    long end = ms_now() + 3000;
    while (outq_get_stats(q).retried == 0 && ms_now() < end) {
        long w = outq_pump(q);
        loop_poll(g_lp, w < 0 || w > 20 ? 20 : (int)w);
    }
    outq_push(q, 901, "sendMessage", msg(901, "after the pause"));
    drain(tg, q, 5000);
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    CU_ASSERT(ms_now() - t0 >= 950);
    CU_ASSERT_EQUAL(fake_tg_early_retries(g_ft), 0);
    outq_free(q);
    client_free(tg);
}

/* A retry_after beyond TELEGRAM_RETRY_AFTER_MAX (here 1 s) gives the call
 * up at once instead of holding the chat for a day; the chat waits the cap,
 * then its next call goes. */
static void test_retry_after_cap(void)
{
    tg_client *tg = client();
    outq_options o = {.retry_after_max_s = 1};
    outq *q = outq_new(tg, &o);
    fake_tg_fault f = {.kind = FAKE_TG_FAULT_ERROR, .method = "sendMessage", .status = 429,
                       .chat_id = 902, .description = "Too Many Requests: retry after 86400",
                       .retry_after = 86400, .count = 1};
    fake_tg_add_fault(g_ft, &f);
    size_t before = fake_tg_count_events(g_ft, 902, FAKE_TG_SENT);
    long t0 = ms_now();
    outq_push(q, 902, "sendMessage", msg(902, "held for a day"));
    outq_push(q, 902, "sendMessage", msg(902, "the next one"));
    drain(tg, q, 4000);
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    CU_ASSERT_EQUAL(outq_get_stats(q).dropped, 1);
    CU_ASSERT_EQUAL(fake_tg_count_events(g_ft, 902, FAKE_TG_SENT), before + 1);
    CU_ASSERT(ms_now() - t0 >= 950); /* the chat waited the cap */
    outq_free(q);
    client_free(tg);
}

/* A 429 without parameters backs off exponentially (base 100 ms here:
 * 50-100, 100-200, 200-400, 400-800 ms), not once a second. */
static void test_429_without_retry_after(void)
{
    tg_client *tg = client();
    outq_options o = {.backoff_base_ms = 100};
    outq *q = outq_new(tg, &o);
    fake_tg_fault f = {.kind = FAKE_TG_FAULT_ERROR, .method = "sendMessage", .status = 429,
                       .chat_id = 903, .description = "Too Many Requests", .count = 4};
    fake_tg_add_fault(g_ft, &f);
    uint64_t since = fake_tg_ncalls(g_ft);
    outq_push(q, 903, "sendMessage", msg(903, "backing off"));
    drain(tg, q, 6000);
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    size_t n = 0;
    fake_tg_call *c = fake_tg_calls_since(g_ft, since, &n);
    double at[8];
    int k = 0;
    for (size_t i = 0; i < n && k < 8; i++) {
        const cJSON *chat = cJSON_GetObjectItem(c[i].params, "chat_id");
        if (!strcmp(c[i].method, "sendMessage") && cJSON_GetNumberValue(chat) == 903)
            at[k++] = c[i].at;
    }
    fake_tg_calls_free(c, n);
    CU_ASSERT_EQUAL_FATAL(k, 5);
    double g1 = at[1] - at[0], g4 = at[4] - at[3];
    CU_ASSERT(g1 < 0.5);
    CU_ASSERT(g4 >= 0.38);
    CU_ASSERT(g4 > 2 * g1);
    outq_free(q);
    client_free(tg);
}

/* The inbox tables: exact-id de-duplication, also after handling and
 * after a dead letter. */
static void test_inbox_dedupe(void)
{
    char path[128];
    store *st = new_store(path, sizeof path);
    CU_ASSERT_EQUAL(store_inbox_put(st, 5000001, 7, "{\"update_id\":5000001}"), 1);
    CU_ASSERT_EQUAL(store_inbox_put(st, 5000001, 7, "{\"update_id\":5000001}"), 0);
    /* random ids after a week idle: a smaller id is still new */
    CU_ASSERT_EQUAL(store_inbox_put(st, 17, 7, "{\"update_id\":17}"), 1);
    CU_ASSERT_EQUAL(store_begin(st), 0);
    CU_ASSERT_EQUAL(store_mark_handled(st, 17), 1);
    CU_ASSERT_EQUAL(store_inbox_done(st, 17), 0);
    CU_ASSERT_EQUAL(store_commit(st), 0);
    CU_ASSERT_EQUAL(store_inbox_put(st, 17, 7, "{}"), 0);
    CU_ASSERT_EQUAL(store_dead_letter(st, 5000001, 7, "{}", "poison"), 1);
    CU_ASSERT_EQUAL(store_inbox_put(st, 5000001, 7, "{}"), 0);
    CU_ASSERT_EQUAL(store_inbox_load(st, NULL, NULL), 0);
    store_close(st);
}

/* Split messages: never inside a UTF-8 sequence, each part within 4096
 * UTF-16 units (emoji count 2), markup on the last. The bot sends plain
 * text (no parse_mode, no entities), so no entity can be cut. */
static void test_long_text_split(void)
{
    text_buf tb;
    text_buf_init(&tb, 1 << 20);
    for (int i = 0; i < 3000; i++)
        text_buf_adds(&tb, i % 7 == 0 ? "Привет 😀 мир\n" : "слово😀");
    char *text = text_buf_take(&tb);
    text_buf_free(&tb);
    bm_effect fx = {.kind = BM_FX_SEND, .chat_id = 1, .text = text, .markup = {.kind = BM_MK_NONE}};
    tgu_calls calls;
    tgu_calls_init(&calls);
    char err[128];
    CU_ASSERT_EQUAL(tgu_render(&fx, &calls, err, sizeof err), 0);
    CU_ASSERT(calls.n >= 3);
    size_t total = 0;
    for (int i = 0; i < calls.n; i++) {
        const char *t = json_str(params_of(&calls.v[i]), "text");
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT(text_utf8_valid(t, strlen(t)));
        CU_ASSERT(text_utf16_len(t, strlen(t)) <= 4096);
        CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(params_of(&calls.v[i]), "parse_mode"));
        total += strlen(t);
    }
    CU_ASSERT(total <= strlen(text) && total + (size_t)calls.n * 2 >= strlen(text) - 2);
    tgu_calls_free(&calls);
    free(text);
}

static int fail_transcribe(void *ud, const bm_effect *act, const bm_session *s,
                           const bm_input *in, bm_effects *out)
{
    (void)ud;
    (void)s;
    (void)in;
    (void)out;
    return act->action == BM_ACT_TRANSCRIBE ? -1 : 0; /* a poison update */
}

#define MSG(id, extra)                                                                      \
    "{\"update_id\":" #id ",\"message\":{\"message_id\":" #id ",\"date\":1,"                  \
    "\"chat\":{\"id\":1101,\"type\":\"private\",\"first_name\":\"Ann\"},"                     \
    "\"from\":{\"id\":1101,\"is_bot\":false,\"first_name\":\"Ann\"}," extra "}}"

/* The inbox: a batch stored once (a redelivered id ignored), handled in
 * order; a malformed update and one whose handling fails are dead-lettered
 * with their reasons and the chat goes on; replies reach the outbox and
 * Telegram. */
static void test_inbox_poison(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/inbox.db", g_dir);
    char err[256];
    bot *b = bot_new(&tiny_machine, path, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    bot_set_action_hook(b, fail_transcribe, NULL);
    tg_client *tg = client();
    outq_options o = {.st = bot_store(b)};
    outq *q = outq_new(tg, &o);
    inbox *ib = inbox_new(b, g_lp, tg, q, NULL);
    const char *batch =
        "[" MSG(31, "\"text\":\"/echo\"") ","
        MSG(32, "\"voice\":{\"file_id\":\"v\",\"file_unique_id\":\"u\",\"duration\":1}") ","
        "{\"update_id\":33,\"message\":{\"message_id\":33,\"date\":1,\"chat\":{\"id\":\"x\"}}},"
        MSG(34, "\"text\":\"still here\"") "]";
    int64_t off = 0;
    CU_ASSERT_EQUAL(inbox_put_raw(ib, batch, strlen(batch), &off), 3);
    CU_ASSERT_EQUAL(off, 35);
    /* Telegram sends the same batch again (the offset was not confirmed) */
    CU_ASSERT_EQUAL(inbox_put_raw(ib, batch, strlen(batch), &off), 0);
    CU_ASSERT_EQUAL(inbox_get_stats(ib).duplicates, 4);
    uint64_t since = fake_tg_ncalls(g_ft);
    long end = ms_now() + 5000;
    while ((inbox_pending(ib) > 0 || outq_pending(q) > 0) && ms_now() < end) {
        inbox_run(ib);
        outq_flush(q);
        long w = outq_pump(q);
        loop_poll(g_lp, w < 0 || w > 20 ? 20 : (int)w);
    }
    CU_ASSERT_EQUAL(inbox_pending(ib), 0);
    inbox_stats is = inbox_get_stats(ib);
    CU_ASSERT_EQUAL(is.handled, 2);
    CU_ASSERT_EQUAL(is.dead, 2);
    /* the last reply is the echo of the update after the poison one */
    size_t n;
    fake_tg_call *c = fake_tg_calls_since(g_ft, since, &n);
    CU_ASSERT(n >= 2);
    if (n >= 1)
        CU_ASSERT_PTR_NOT_NULL(strstr(json_str(c[n - 1].params, "text"), "still here"));
    fake_tg_calls_free(c, n);
    /* a redelivery after handling or dead-lettering is still a duplicate */
    CU_ASSERT_EQUAL(store_inbox_put(bot_store(b), 32, 1101, "{}"), 0);
    CU_ASSERT_EQUAL(store_inbox_put(bot_store(b), 34, 1101, "{}"), 0);
    inbox_free(ib);
    outq_free(q);
    client_free(tg);
    bot_free(b);
}

int main(void)
{
    log_init_from_env();
    snprintf(g_dir, sizeof g_dir, "/tmp/botc-outbox-XXXXXX");
    if (!mkdtemp(g_dir))
        return 1;
    char err[256];
    fake_tg_opts o = {.allow_unknown_chats = true};
    g_ft = fake_tg_new(&o, err, sizeof err);
    if (!g_ft) {
        fprintf(stderr, "fake_tg_new: %s\n", err);
        return 1;
    }
    fake_tg_base_url(g_ft, g_base, sizeof g_base);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("outbox", NULL, NULL);
    CU_add_test(s, "rows persist until accepted; restore resends in order", test_durable_restore);
    CU_add_test(s, "staged calls commit or roll back with the transaction", test_stage_commit_abort);
    CU_add_test(s, "token buckets: per chat and overall", test_rate_limits);
    CU_add_test(s, "403: inactive user, queue dropped", test_blocked_user);
    CU_add_test(s, "bot-wide 429 pauses every chat", test_global_429);
    CU_add_test(s, "retry_after over the cap gives the call up", test_retry_after_cap);
    CU_add_test(s, "429 without retry_after backs off exponentially",
                test_429_without_retry_after);
    CU_add_test(s, "inbox de-duplicates by exact update_id", test_inbox_dedupe);
    CU_add_test(s, "long texts split on character boundaries", test_long_text_split);
    CU_add_test(s, "inbox: duplicates, order, poison updates", test_inbox_poison);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    call_params_free();
    CU_cleanup_registry();
    fake_tg_free(g_ft);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return fails ? 1 : 0;
}

/*
 * test_fastpath.c — the shortcuts the hot path takes (see the benchmarks in
 * README) keep their guarantees: a save after a load writes only changed
 * variables yet never skips a write a rollback made necessary; the outbox
 * deletions written inside the handling transaction count only once it
 * commits, and a chat's accepted call is deleted before its next one
 * starts; answerCallbackQuery does not wait behind the chat's messages,
 * which stay in order; pre-printed bodies and reused curl handles.
 * Real SQLite files, the fake Bot API over loopback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "../fake_tg/fake_tg.h"
#include "base/json.h"
#include "base/log.h"
#include "telegram/outq.h"
#include "storage/store.h"
#include "support/tiny_machine.h"
#include "telegram/tg.h"
#include "net/loop.h"
#include "support/sql_int.h"

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

static store *new_store(void)
{
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/f%d.db", g_dir, g_n_db++);
    store *st = store_open(path, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
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

/* vars.value of (user, name) as stored; "" when there is no row. */
static const char *stored_var(store *st, int64_t user, const char *name, char *buf, size_t len)
{
    sqlite3_stmt *s = NULL;
    buf[0] = '\0';
    if (sqlite3_prepare_v2(sql_store_db(st), "SELECT value FROM vars WHERE user_id = ?1 AND name = ?2",
                           -1, &s, NULL) != SQLITE_OK)
        return buf;
    sqlite3_bind_int64(s, 1, user);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        snprintf(buf, len, "%s", (const char *)sqlite3_column_text(s, 0));
    else
        snprintf(buf, len, "<none>");
    sqlite3_finalize(s);
    return buf;
}

static void set_var(bm_session *s, int i, const char *v)
{
    free(s->vars[i]);
    s->vars[i] = v ? strdup(v) : NULL;
}

/* A save right after a load skips the unchanged variables; a rollback in
 * between (or no load at all) makes it write them all again. */
static void test_vars_snapshot(void)
{
    store *st = new_store();
    const bm_machine *m = &tiny_machine;
    bm_user u = {.id = 9001, .chat_id = 9001, .first_name = "Ann"};
    bm_session s;
    char buf[64];
    CU_ASSERT_EQUAL_FATAL(store_load_session(st, u.id, &s), 0); /* unknown */
    CU_ASSERT_EQUAL_FATAL(bm_session_init(m, &s, &u), 0);
    set_var(&s, TV_NICK, "a");
    set_var(&s, TV_LAST, "one");
    CU_ASSERT_EQUAL(store_save_session(st, &s, &u), 0);
    bm_session_free(m, &s);
    CU_ASSERT_STRING_EQUAL(stored_var(st, u.id, "nick", buf, sizeof buf), "a");

    /* load, change one, delete one, keep the rest */
    CU_ASSERT_EQUAL_FATAL(store_load_session(st, u.id, &s), 1);
    CU_ASSERT_STRING_EQUAL(s.vars[TV_NICK], "a");
    set_var(&s, TV_NICK, "b");
    set_var(&s, TV_LAST, NULL);
    CU_ASSERT_EQUAL(store_save_session(st, &s, &u), 0);
    bm_session_free(m, &s);
    CU_ASSERT_STRING_EQUAL(stored_var(st, u.id, "nick", buf, sizeof buf), "b");
    CU_ASSERT_STRING_EQUAL(stored_var(st, u.id, "last", buf, sizeof buf), "<none>");

    /* a load inside a transaction that rolls back: what it read (nick=c)
     * is undone, so a later save of nick=c must be written */
    CU_ASSERT_EQUAL(store_begin(st), 0);
    CU_ASSERT_EQUAL_FATAL(store_load_session(st, u.id, &s), 1);
    set_var(&s, TV_NICK, "c");
    CU_ASSERT_EQUAL(store_save_session(st, &s, &u), 0);
    bm_session_free(m, &s);
    CU_ASSERT_EQUAL_FATAL(store_load_session(st, u.id, &s), 1);
    CU_ASSERT_STRING_EQUAL(s.vars[TV_NICK], "c");
    CU_ASSERT_EQUAL(store_rollback(st), 0);
    CU_ASSERT_STRING_EQUAL(stored_var(st, u.id, "nick", buf, sizeof buf), "b");
    CU_ASSERT_EQUAL(store_save_session(st, &s, &u), 0);
    CU_ASSERT_STRING_EQUAL(stored_var(st, u.id, "nick", buf, sizeof buf), "c");
    bm_session_free(m, &s);

    /* a save for another user than the one loaded writes everything */
    bm_user v = {.id = 9002, .chat_id = 9002};
    CU_ASSERT_EQUAL_FATAL(store_load_session(st, u.id, &s), 1);
    s.user_id = v.id;
    s.chat_id = v.chat_id;
    CU_ASSERT_EQUAL(store_save_session(st, &s, &v), 0);
    CU_ASSERT_STRING_EQUAL(stored_var(st, v.id, "nick", buf, sizeof buf), "c");
    bm_session_free(m, &s);
    store_close(st);
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
    store_outbox_load(st, count_cb, &n);
    return n;
}

/* Sends everything without writing the deletions (outq_flush). */
static void send_all(tg_client *tg, outq *q, long max_ms)
{
    long end = ms_now() + max_ms;
    while (outq_pending(q) > 0 && ms_now() < end) {
        long w = outq_pump(q);
        loop_poll(g_lp, w < 0 || w > 50 ? 50 : (int)w);
    }
}

/* Deletions written inside the caller's transaction count only after its
 * commit: a rollback keeps the rows, and the next flush writes them. */
static void test_staged_deletions(void)
{
    store *st = new_store();
    tg_client *tg = client();
    outq_options o = {.st = st};
    outq *q = outq_new(tg, &o);
    CU_ASSERT_EQUAL(outq_push(q, 7401, "sendMessage", msg(7401, "one")), 0);
    CU_ASSERT_EQUAL(outq_push(q, 7402, "sendMessage", msg(7402, "two")), 0);
    send_all(tg, q, 5000);
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    CU_ASSERT_EQUAL(outbox_rows(st), 2); /* accepted, not yet deleted */

    CU_ASSERT_EQUAL(store_begin(st), 0);
    CU_ASSERT_EQUAL(outq_stage_flush(q), 0);
    CU_ASSERT_EQUAL(outbox_rows(st), 0); /* inside the transaction */
    CU_ASSERT_EQUAL(store_rollback(st), 0);
    outq_stage_abort(q);
    CU_ASSERT_EQUAL(outbox_rows(st), 2);

    CU_ASSERT_EQUAL(store_begin(st), 0);
    CU_ASSERT_EQUAL(outq_stage_flush(q), 0);
    CU_ASSERT_EQUAL(store_commit(st), 0);
    outq_stage_commit(q);
    CU_ASSERT_EQUAL(outbox_rows(st), 0);

    /* a rolled-back batch leaves them to outq_flush */
    CU_ASSERT_EQUAL(outq_push(q, 7401, "sendMessage", msg(7401, "three")), 0);
    send_all(tg, q, 5000);
    CU_ASSERT_EQUAL(store_begin(st), 0);
    CU_ASSERT_EQUAL(outq_stage_flush(q), 0);
    CU_ASSERT_EQUAL(store_rollback(st), 0);
    outq_stage_abort(q);
    CU_ASSERT_EQUAL(outbox_rows(st), 1);
    CU_ASSERT_EQUAL(outq_flush(q), 0);
    CU_ASSERT_EQUAL(outbox_rows(st), 0);
    outq_free(q);
    client_free(tg);
    store_close(st);
}

/* A chat's accepted call leaves the outbox durably before the chat's next
 * call starts, also when the chat went idle in between (no flood limits:
 * nothing else keeps an idle chat): else a kill while the next one is in
 * flight would resend both. */
static void test_deleted_before_next(void)
{
    store *st = new_store();
    tg_client *tg = client();
    outq_options o = {.st = st};
    outq *q = outq_new(tg, &o);
    CU_ASSERT_EQUAL(outq_push(q, 7601, "sendMessage", msg(7601, "one")), 0);
    send_all(tg, q, 5000);
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    CU_ASSERT_EQUAL(outbox_rows(st), 1); /* accepted, not yet deleted */
    CU_ASSERT_EQUAL(outq_push(q, 7601, "sendMessage", msg(7601, "two")), 0);
    CU_ASSERT_EQUAL(outq_push(q, 7602, "sendMessage", msg(7602, "other")), 0);
    outq_pump(q);
    CU_ASSERT_EQUAL(outq_in_flight(q), 2);
    CU_ASSERT_EQUAL(outbox_rows(st), 2); /* "two" and "other": "one" went first */
    send_all(tg, q, 5000);
    CU_ASSERT_EQUAL(outq_flush(q), 0);
    CU_ASSERT_EQUAL(outbox_rows(st), 0);
    outq_free(q);
    client_free(tg);
    store_close(st);
}

static bool is_answer(const fake_tg_call *c, void *ud)
{
    (void)ud;
    return !strcmp(c->method, "answerCallbackQuery");
}

/* A chat's answerCallbackQuery goes out while its message is still in
 * flight; its messages stay strictly in order. */
static void test_callback_lane(void)
{
    tg_client *tg = client();
    outq *q = outq_new(tg, NULL);
    fake_tg_fault f = {.kind = FAKE_TG_FAULT_SLOW, .method = "sendMessage", .chat_id = 7501,
                       .delay_ms = 700, .count = 1, .performed = true};
    fake_tg_add_fault(g_ft, &f);
    uint64_t since = fake_tg_ncalls(g_ft);
    CU_ASSERT_EQUAL(outq_push(q, 7501, "sendMessage", msg(7501, "first")), 0);
    CU_ASSERT_EQUAL(outq_push(q, 7501, "sendMessage", msg(7501, "second")), 0);
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "callback_query_id", "7501-1");
    CU_ASSERT_EQUAL(outq_push(q, 7501, "answerCallbackQuery", a), 0);
    long t0 = ms_now();
    bool answered_early = false;
    while (ms_now() - t0 < 400 && !answered_early) {
        long w = outq_pump(q);
        loop_poll(g_lp, w < 0 || w > 20 ? 20 : (int)w);
        answered_early = fake_tg_wait_call(g_ft, since, is_answer, NULL, 0, NULL);
    }
    CU_ASSERT_TRUE(answered_early); /* the slow "first" is still in flight */
    CU_ASSERT_TRUE(outq_in_flight(q) >= 1);
    send_all(tg, q, 5000);
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    size_t n;
    fake_tg_call *c = fake_tg_calls_since(g_ft, since, &n);
    int first = -1, second = -1;
    for (size_t i = 0; i < n; i++) {
        const char *t = json_str(c[i].params, "text");
        if (t && !strcmp(t, "first"))
            first = (int)i;
        if (t && !strcmp(t, "second"))
            second = (int)i;
    }
    CU_ASSERT_TRUE(first >= 0 && second > first);
    if (first >= 0 && second > first) /* not before the first was answered */
        CU_ASSERT_TRUE(c[second].at - c[first].at >= 0.6);
    fake_tg_calls_free(c, n);
    fake_tg_clear_faults(g_ft);
    outq_free(q);
    client_free(tg);
}

typedef struct tally {
    int ok, failed;
} tally;

static void on_done(const tg_result *r, void *ud)
{
    tally *t = ud;
    if (r->err == TG_OK)
        t->ok++;
    else
        t->failed++;
}

/* A ready body goes out as is; many calls through few reused handles. */
static void test_call_body(void)
{
    tg_client *tg = client();
    tally t = {0};
    uint64_t since = fake_tg_ncalls(g_ft);
    CU_ASSERT_EQUAL(tg_call_body(tg, "sendMessage", "{\"chat_id\":7601,\"text\":\"as is\"}",
                                 on_done, &t), TG_OK);
    CU_ASSERT_EQUAL(tg_call_body(tg, "getUpdates", "{}", on_done, &t), TG_ERR_CONFIG);
    CU_ASSERT_EQUAL(tg_call_body(tg, "sendMessage", NULL, on_done, &t), TG_ERR_CONFIG);
    long end = ms_now() + 5000;
    while (t.ok + t.failed < 1 && ms_now() < end)
        loop_poll(g_lp, 50);
    CU_ASSERT_EQUAL(t.ok, 1);
    fake_tg_call c;
    memset(&c, 0, sizeof c);
    CU_ASSERT_TRUE(fake_tg_wait_call(g_ft, since, NULL, NULL, 0, &c));
    CU_ASSERT_STRING_EQUAL(json_str(c.params, "text") ? json_str(c.params, "text") : "",
                           "as is");
    fake_tg_call_clear(&c);

    /* 200 calls, 8 at a time: handles go back to the pool and come again */
    t = (tally){0};
    int started = 0;
    end = ms_now() + 20000;
    while (t.ok + t.failed < 200 && ms_now() < end) {
        while (started < 200 && started - (t.ok + t.failed) < 8) {
            char body[64];
            snprintf(body, sizeof body, "{\"chat_id\":7602,\"text\":\"n%d\"}", started);
            CU_ASSERT_EQUAL(tg_call_body(tg, "sendMessage", body, on_done, &t), TG_OK);
            started++;
        }
        loop_poll(g_lp, 50);
    }
    CU_ASSERT_EQUAL(t.ok, 200);
    CU_ASSERT_EQUAL(t.failed, 0);
    client_free(tg);
}

typedef struct outcome {
    int done;
    tg_err err;
    bool has_result;
    int error_code;
    char desc[128];
} outcome;

static void on_outcome(const tg_result *r, void *ud)
{
    outcome *o = ud;
    o->done++;
    o->err = r->err;
    o->has_result = r->result != NULL;
    o->error_code = r->error_code;
    snprintf(o->desc, sizeof o->desc, "%s", r->description);
}

/* A pre-printed body's answer is checked without a JSON tree: accepted is
 * TG_OK (result NULL), and every answer that is not plainly accepted —
 * cut, ok a string, an API error — still says what went wrong. */
static outcome call_once(tg_client *tg, const fake_tg_fault *f)
{
    outcome o = {0};
    if (f)
        fake_tg_add_fault(g_ft, f);
    CU_ASSERT_EQUAL(tg_call_body(tg, "sendMessage", "{\"chat_id\":7603,\"text\":\"x\"}",
                                 on_outcome, &o), TG_OK);
    long end = ms_now() + 5000;
    while (!o.done && ms_now() < end)
        loop_poll(g_lp, 50);
    CU_ASSERT_EQUAL(o.done, 1);
    return o;
}

static void test_checked_answers(void)
{
    tg_client *tg = client();
    outcome o = call_once(tg, NULL);
    CU_ASSERT_EQUAL(o.err, TG_OK);
    CU_ASSERT_FALSE(o.has_result);
    o = call_once(tg, &(fake_tg_fault){.kind = FAKE_TG_FAULT_TRUNCATE, .count = 1});
    CU_ASSERT_EQUAL(o.err, TG_ERR_PARSE);
    o = call_once(tg, &(fake_tg_fault){.kind = FAKE_TG_FAULT_MISTYPED, .count = 1});
    CU_ASSERT_EQUAL(o.err, TG_ERR_PARSE);
    o = call_once(tg, &(fake_tg_fault){.kind = FAKE_TG_FAULT_ERROR, .status = 400,
                                       .description = "Bad Request: message text is empty",
                                       .count = 1});
    CU_ASSERT_EQUAL(o.err, TG_ERR_API);
    CU_ASSERT_EQUAL(o.error_code, 400);
    CU_ASSERT_STRING_EQUAL(o.desc, "Bad Request: message text is empty");
    o = call_once(tg, &(fake_tg_fault){.kind = FAKE_TG_FAULT_HTML, .status = 502, .count = 1});
    CU_ASSERT_EQUAL(o.err, TG_ERR_HTTP);
    /* tg_call still parses: its result is there */
    o = (outcome){0};
    cJSON *p = cJSON_CreateObject();
    json_add_i64(p, "chat_id", 7603);
    cJSON_AddStringToObject(p, "text", "parsed");
    CU_ASSERT_EQUAL(tg_call(tg, "sendMessage", p, on_outcome, &o), TG_OK);
    long end = ms_now() + 5000;
    while (!o.done && ms_now() < end)
        loop_poll(g_lp, 50);
    CU_ASSERT_EQUAL(o.err, TG_OK);
    CU_ASSERT_TRUE(o.has_result);
    client_free(tg);
}

/* The client keeps the parsed URL of the first 32 methods; calls to more
 * methods than that, all in flight at once, still reach the server (each
 * with its own URL, freed with the call: ASan checks). */
static void test_many_methods(void)
{
    tg_client *tg = client();
    outcome o[40];
    memset(o, 0, sizeof o);
    uint64_t since = fake_tg_ncalls(g_ft);
    for (int i = 0; i < 40; i++) {
        char m[32];
        snprintf(m, sizeof m, "noSuchMethod%d", i);
        CU_ASSERT_EQUAL(tg_call(tg, m, NULL, on_outcome, &o[i]), TG_OK);
    }
    long end = ms_now() + 10000;
    int done = 0;
    while (done < 40 && ms_now() < end) {
        loop_poll(g_lp, 50);
        done = 0;
        for (int i = 0; i < 40; i++)
            done += o[i].done;
    }
    CU_ASSERT_EQUAL(done, 40);
    for (int i = 0; i < 40; i++)
        CU_ASSERT_EQUAL(o[i].error_code, 404); /* the fake: no such method */
    CU_ASSERT_EQUAL(fake_tg_ncalls(g_ft) - since, 40);
    /* and the kept ones are used again */
    outcome again = call_once(tg, NULL);
    CU_ASSERT_EQUAL(again.err, TG_OK);
    client_free(tg);
}

int main(void)
{
    log_init_from_env();
    snprintf(g_dir, sizeof g_dir, "/tmp/botc-fastpath-XXXXXX");
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
    CU_pSuite s = CU_add_suite("fastpath", NULL, NULL);
    CU_add_test(s, "a save after a load writes only what changed", test_vars_snapshot);
    CU_add_test(s, "outbox deletions commit with the caller's transaction", test_staged_deletions);
    CU_add_test(s, "an accepted call is deleted before its chat's next one", test_deleted_before_next);
    CU_add_test(s, "answerCallbackQuery does not wait behind messages", test_callback_lane);
    CU_add_test(s, "pre-printed bodies, reused handles", test_call_body);
    CU_add_test(s, "an accepted answer checked, not parsed; the rest parsed", test_checked_answers);
    CU_add_test(s, "more methods than the client keeps URLs for", test_many_methods);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    fake_tg_free(g_ft);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return fails ? 1 : 0;
}

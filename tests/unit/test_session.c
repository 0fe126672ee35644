/*
 * test_session.c — AI sessions (actions/session.h, storage/store_session.h):
 * a question opens a session and names it, turns are kept per session and
 * per user, the idle sweep's contract (which sessions are due, a turn that
 * came meanwhile keeps a session open, the model's summary kept as given,
 * else the extractive one in the user's language), the summary kept as a
 * memory item, the summary's tokens counted against the user's day, a
 * gone user's session dropped, and the model's summary request.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions/session.h"
#include "base/log.h"
#include "dialogue/bot.h"
#include "storage/store.h"
#include "support/sql_int.h"
#include "support/tiny_machine.h"

static char dir[64];
static int n_db;

/* tiny's machine with an `llm:` whose sessions idle out after 60 s, and the
 * two session texts the extractive summary needs */
static bm_machine m;
static bm_llm llm = {.persona = BM_NONE, .policy = BM_NONE, .session_idle = 60};
static const char **texts;

static void machine_setup(void)
{
    m = tiny_machine;
    int n = tiny_machine.n_texts;
    texts = calloc((size_t)(n + 2) * 2, sizeof *texts);
    memcpy(texts, tiny_machine.texts, (size_t)n * 2 * sizeof *texts);
    texts[n * 2] = "Questions: {text}";
    texts[n * 2 + 1] = "Вопросы: {text}";
    texts[n * 2 + 2] = "(no question yet)";
    texts[n * 2 + 3] = "(вопросов пока нет)";
    m.texts = texts;
    m.n_texts = n + 2;
    m.sys_texts[BM_SYS_SESSION_DIGEST] = n;
    m.sys_texts[BM_SYS_SESSION_UNTITLED] = n + 1;
    m.llm = &llm;
}

static bot *fresh(const bm_machine *mm)
{
    char db[128], err[256];
    snprintf(db, sizeof db, "%s/bot%d.db", dir, n_db++);
    bot *b = bot_new(mm, db, err, sizeof err);
    if (!b)
        fprintf(stderr, "bot_new: %s\n", err);
    return b;
}

/* A user row (the sweep reads the user's language from it). */
static void hello(bot *b, int64_t id, const char *lang)
{
    bm_effects fx;
    bm_effects_init(&fx);
    bm_input in = {.kind = BM_IN_TEXT, .text = "/start",
                   .user = {.id = id, .chat_id = id, .first_name = "Ann", .language_code = lang}};
    CU_ASSERT_EQUAL(bot_handle(b, &in, &fx), 0);
    bm_effects_free(&fx);
}

static void sql(bot *b, const char *q)
{
    char *msg = NULL;
    CU_ASSERT_EQUAL(sqlite3_exec(sql_store_db(bot_store(b)), q, NULL, NULL, &msg), SQLITE_OK);
    if (msg)
        fprintf(stderr, "%s: %s\n", q, msg);
    sqlite3_free(msg);
}

static char *str(bot *b, const char *q)
{
    sqlite3_stmt *s = NULL;
    char *out = NULL;
    if (sqlite3_prepare_v2(sql_store_db(bot_store(b)), q, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        out = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
}

static void test_record(void)
{
    bot *b = fresh(&m);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(act_session_record_user(b, 1, 1, "How do I sort a list?\nIn Python.", "sorted()"), 0);
    CU_ASSERT_EQUAL(act_session_record_user(b, 1, 1, "And in reverse?", "reverse=True"), 0);
    CU_ASSERT_EQUAL(act_session_record_user(b, 2, 2, "Plan my day", "9:00 email"), 0);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM sessions"), 2);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT turns FROM sessions WHERE user_id = 1"), 2);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM session_turns WHERE user_id = 1"), 4);
    char *t = str(b, "SELECT title FROM sessions WHERE user_id = 1");
    CU_ASSERT_STRING_EQUAL(t ? t : "", "How do I sort a list?"); /* its first line */
    free(t);
    /* the model's request for the summary: the turns as a transcript */
    act_idle k = {.user_id = 1, .id = store_int(bot_store(b), "SELECT id FROM sessions WHERE user_id = 1")};
    char *req = act_session_summary_request(b, &k);
    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    CU_ASSERT_PTR_NOT_NULL(strstr(req, "Summarize this conversation"));
    CU_ASSERT_PTR_NOT_NULL(strstr(req, "User: How do I sort a list?\\nIn Python.\\nAssistant: sorted()\\n"
                                       "User: And in reverse?\\nAssistant: reverse=True"));
    CU_ASSERT_PTR_NULL(strstr(req, "Plan my day")); /* another user's session */
    free(req);
    /* another user's session id names nothing for this one */
    k.user_id = 2;
    CU_ASSERT_PTR_NULL(act_session_summary_request(b, &k));
    bot_free(b);
}

static void test_idle(void)
{
    bot *b = fresh(&m);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    hello(b, 1, "en");
    hello(b, 2, "ru");
    CU_ASSERT_EQUAL(act_session_record_user(b, 1, 1, "q1", "a1"), 0);
    CU_ASSERT_EQUAL(act_session_record_user(b, 1, 1, "q2", "a2"), 0);
    CU_ASSERT_EQUAL(act_session_record_user(b, 2, 2, "вопрос", "ответ"), 0);
    act_idle due[8];
    CU_ASSERT_EQUAL(act_session_idle_due(b, (int64_t)time(NULL), due, 8), 0); /* fresh */

    /* user 1's session idle for an hour: due; a turn meanwhile keeps it */
    sql(b, "UPDATE sessions SET at = at - 3600 WHERE user_id = 1");
    CU_ASSERT_EQUAL_FATAL(act_session_idle_due(b, (int64_t)time(NULL), due, 8), 1);
    CU_ASSERT_EQUAL(due[0].user_id, 1);
    CU_ASSERT_EQUAL(act_session_record_user(b, 1, 1, "q3", "a3"), 0);
    CU_ASSERT_EQUAL(act_session_idle_close(b, &due[0], NULL, 0), 0);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM sessions WHERE closed IS NULL"), 2);

    /* idle again: closed with the extractive summary, kept in memory */
    sql(b, "UPDATE sessions SET at = at - 3600 WHERE user_id = 1");
    CU_ASSERT_EQUAL_FATAL(act_session_idle_due(b, (int64_t)time(NULL), due, 8), 1);
    CU_ASSERT_EQUAL(act_session_idle_close(b, &due[0], NULL, 0), 1);
    char *s = str(b, "SELECT summary FROM sessions WHERE user_id = 1");
    CU_ASSERT_STRING_EQUAL(s ? s : "", "Questions: q1 · q2 · q3");
    free(s);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM memory_items WHERE user_id = 1"
                                            " AND kind = 'summary' AND text = 'Questions: q1 · q2 · q3'"), 1);
    CU_ASSERT_EQUAL(act_session_idle_close(b, &due[0], NULL, 0), 0); /* closed already */

    /* the model's summary is kept as given; the extractive one would be Russian */
    sql(b, "UPDATE sessions SET at = at - 3600 WHERE user_id = 2");
    CU_ASSERT_EQUAL_FATAL(act_session_idle_due(b, (int64_t)time(NULL), due, 8), 1);
    CU_ASSERT_EQUAL(act_session_idle_close(b, &due[0], "Речь шла об ответе.", 42), 1);
    s = str(b, "SELECT summary FROM sessions WHERE user_id = 2");
    CU_ASSERT_STRING_EQUAL(s ? s : "", "Речь шла об ответе.");
    free(s);
    /* its request's tokens count against the user's day */
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT sum(tokens) FROM llm_usage WHERE user_id = 2"), 42);
    CU_ASSERT_EQUAL(act_session_summary_tokens(30, 12, 999, 999), 42);
    CU_ASSERT_EQUAL(act_session_summary_tokens(-1, -1, 400, 39), 110); /* bytes / 4 + 1 */

    /* the next question opens a new session */
    CU_ASSERT_EQUAL(act_session_record_user(b, 2, 2, "ещё вопрос", "ответ"), 0);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM sessions WHERE user_id = 2"), 2);
    sql(b, "UPDATE sessions SET at = at - 3600 WHERE user_id = 2 AND closed IS NULL");
    CU_ASSERT_EQUAL_FATAL(act_session_idle_due(b, (int64_t)time(NULL), due, 8), 1);
    CU_ASSERT_EQUAL(act_session_idle_close(b, &due[0], "", 0), 1);
    s = str(b, "SELECT summary FROM sessions WHERE user_id = 2 ORDER BY id DESC");
    CU_ASSERT_STRING_EQUAL(s ? s : "", "Вопросы: ещё вопрос");
    free(s);

    /* a model's summary is kept trimmed and at most 1,500 bytes, whole characters */
    CU_ASSERT_EQUAL(act_session_record_user(b, 2, 2, "третий вопрос", "ответ"), 0);
    sql(b, "UPDATE sessions SET at = at - 3600 WHERE user_id = 2 AND closed IS NULL");
    CU_ASSERT_EQUAL_FATAL(act_session_idle_due(b, (int64_t)time(NULL), due, 8), 1);
    char longer[2100] = "  ";
    for (int i = 0; i < 1000; i++)
        strcat(longer, "ж"); /* 2 bytes each */
    CU_ASSERT_EQUAL(act_session_idle_close(b, &due[0], longer, 0), 1);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT length(CAST(summary AS BLOB)) FROM sessions"
                                            " WHERE user_id = 2 ORDER BY id DESC LIMIT 1"), 1500);

    /* a session of a user with no row (deleted meanwhile) is dropped */
    CU_ASSERT_EQUAL(act_session_record_user(b, 9, 9, "orphan", "a"), 0);
    sql(b, "UPDATE sessions SET at = at - 3600 WHERE user_id = 9");
    CU_ASSERT_EQUAL_FATAL(act_session_idle_due(b, (int64_t)time(NULL), due, 8), 1);
    CU_ASSERT_EQUAL(act_session_idle_close(b, &due[0], NULL, 0), 0);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM sessions WHERE user_id = 9"), 0);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM session_turns WHERE user_id = 9"), 0);
    bot_free(b);
}

/* Without a spec limit nothing is ever due. */
static void test_no_limit(void)
{
    bot *b = fresh(&tiny_machine);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(act_session_record_user(b, 1, 1, "q1", "a1"), 0);
    sql(b, "UPDATE sessions SET at = at - 360000");
    act_idle due[2];
    CU_ASSERT_EQUAL(act_session_idle_due(b, (int64_t)time(NULL), due, 2), 0);
    bot_free(b);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/botc_session_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    unsetenv("OPENAI_API_BASE");
    log_set_level(LOG_WARN);
    machine_setup();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("session", NULL, NULL);
    CU_add_test(s, "a question opens and names a session; turns per session and user",
                test_record);
    CU_add_test(s, "the idle sweep: due, kept by a new turn, closed with a summary", test_idle);
    CU_add_test(s, "no idle limit in the spec: nothing is due", test_no_limit);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    free(texts);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return fails ? 1 : 0;
}

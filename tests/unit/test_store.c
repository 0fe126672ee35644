/*
 * test_store.c — runtime/storage/store.c and runtime/dialogue/bot.c on a real SQLite file in
 * a temporary directory: round trips, a restart in the middle of a form,
 * migration after a machine update, delete and export of a user's data,
 * the schema 2 -> 3 and 3 -> 4 upgrades.
 */
#include <CUnit/Basic.h>
#include <cJSON.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dialogue/bot.h"
#include "base/log.h"
#include "storage/store.h"
#include "support/tiny_machine.h"
#include "support/sql_int.h"

static char dir[64];
static char db[128];
static int n_db;

/* a fresh database path per test */
static void new_db(void)
{
    snprintf(db, sizeof db, "%s/t%d.db", dir, n_db++);
}

static bm_user user(int64_t id, const char *lang)
{
    return (bm_user){.id = id, .chat_id = id + 1000, .first_name = "Ann", .username = "ann",
                     .language_code = lang};
}

static void test_round_trip(void)
{
    new_db();
    char err[256];
    store *st = store_open(db, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(store_count_users(st), 0);
    bm_user u = user(7, "ru");
    bm_session s;
    CU_ASSERT_EQUAL(store_load_session(st, 7, &s), 0);
    bm_session_init(&tiny_machine, &s, &u);
    s.state = TS_ECHO;
    s.form = TF_BOOKING;
    s.field = 3;
    s.vars[TV_NICK] = strdup("Bobby 'quoted' \"name\"; DROP TABLE users;");
    s.vars[TV_B_NAME] = strdup("Ann");
    CU_ASSERT_EQUAL(store_begin(st), 0);
    CU_ASSERT_EQUAL(store_save_session(st, &s, &u), 0);
    CU_ASSERT_EQUAL(store_commit(st), 0);
    /* unset a variable: its row goes away */
    free(s.vars[TV_B_NAME]);
    s.vars[TV_B_NAME] = NULL;
    CU_ASSERT_EQUAL(store_save_session(st, &s, NULL), 0);
    bm_session_free(&tiny_machine, &s);
    store_close(st);

    st = store_open(db, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(store_count_users(st), 1);
    CU_ASSERT_EQUAL(store_user_exists(st, 7), 1);
    CU_ASSERT_EQUAL(store_user_exists(st, 8), 0);
    bm_session r;
    CU_ASSERT_EQUAL_FATAL(store_load_session(st, 7, &r), 1);
    CU_ASSERT_EQUAL(r.user_id, 7);
    CU_ASSERT_EQUAL(r.chat_id, 1007);
    CU_ASSERT_EQUAL(r.lang, 1);
    CU_ASSERT_EQUAL(r.state, TS_ECHO);
    CU_ASSERT_EQUAL(r.form, TF_BOOKING);
    CU_ASSERT_EQUAL(r.field, 3);
    CU_ASSERT_FALSE(r.is_new);
    CU_ASSERT_STRING_EQUAL(r.vars[TV_NICK], "Bobby 'quoted' \"name\"; DROP TABLE users;");
    CU_ASSERT_PTR_NULL(r.vars[TV_B_NAME]);
    CU_ASSERT_PTR_NULL(r.vars[TV_LAST]);
    bm_session_free(&tiny_machine, &r);

    /* rollback drops what the transaction wrote */
    bm_user u2 = user(9, "en");
    bm_session s2;
    bm_session_init(&tiny_machine, &s2, &u2);
    CU_ASSERT_EQUAL(store_begin(st), 0);
    CU_ASSERT_EQUAL(store_save_session(st, &s2, &u2), 0);
    CU_ASSERT_EQUAL(store_rollback(st), 0);
    CU_ASSERT_EQUAL(store_user_exists(st, 9), 0);
    bm_session_free(&tiny_machine, &s2);

    /* a small page cache (store_open says why) */
    CU_ASSERT_EQUAL(store_int(st, "PRAGMA cache_size"), -512);
    int found;
    char *ver = store_get_meta(st, "schema_version", &found);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_STRING_EQUAL(ver, "4");
    free(ver);
    store_close(st);
}

/* A schema 2 database (the first online-LLM build): history gains kind
 * (old rows are 'menu'), llm_history goes, the version becomes 3. */
static void test_upgrade_3(void)
{
    new_db();
    sqlite3 *d;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &d), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(d,
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES('schema_version', '2');"
        "CREATE TABLE history(id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL,"
        " role TEXT NOT NULL, text TEXT NOT NULL, at INTEGER NOT NULL);"
        "CREATE INDEX history_user ON history(user_id, id);"
        "INSERT INTO history(user_id, role, text, at) VALUES(7, 'user', 'hello', 1700000000);"
        "CREATE TABLE llm_history(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,"
        " role TEXT NOT NULL, content TEXT NOT NULL, at TEXT NOT NULL);"
        "INSERT INTO llm_history(user_id, role, content, at) VALUES(7, 'user', 'hello', 'x');",
        NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(d);
    char err[256];
    store *st = store_open(db, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(store_history_list(st, 7, 10, NULL, NULL), 1);
    CU_ASSERT_EQUAL(store_history_turns(st, 7, 10, NULL, NULL), 0);
    CU_ASSERT_EQUAL(store_history_add(st, 7, "bot", STORE_HIST_AI, "hi"), 0);
    CU_ASSERT_EQUAL(store_history_turns(st, 7, 10, NULL, NULL), 1);
    sqlite3_stmt *q;
    CU_ASSERT_EQUAL(sqlite3_prepare_v2(sql_store_db(st), "SELECT count(*) FROM sqlite_master"
                                       " WHERE name = 'llm_history'", -1, &q, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_step(q), SQLITE_ROW);
    CU_ASSERT_EQUAL(sqlite3_column_int(q, 0), 0);
    sqlite3_finalize(q);
    int found;
    char *ver = store_get_meta(st, "schema_version", &found);
    CU_ASSERT_STRING_EQUAL(ver ? ver : "", "4");
    free(ver);
    store_close(st);
    /* and again: nothing left to do */
    st = store_open(db, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(st);
    store_close(st);
}

static int count_row(void *ud, const store_outbox_row *r)
{
    (void)r;
    ++*(int *)ud;
    return 0;
}

static int history_text(void *ud, const char *role, const char *text, int64_t at)
{
    (void)role, (void)at;
    char *acc = ud;
    size_t n = strlen(acc);
    snprintf(acc + n, 256 - n, "%s|", text);
    return 0;
}

/* tests/unit/data/store/schema3.db, written by the schema 3 build: user 7
 * (state echo, nick Bobby), history rows 1, 2, 4, 5 of user 7 (3 and 6 were
 * user 8's, erased: sqlite_sequence says 6), outbox rows 1 and 2 (2 tried
 * twice; 3 was accepted and deleted: sqlite_sequence says 3), update 101
 * handled, 102 waiting in the inbox, 103 dead-lettered. Schema 4 drops
 * AUTOINCREMENT keeping every id, and the exact-id dedup goes on. */
static void test_upgrade_4(void)
{
    new_db();
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cp tests/unit/data/store/schema3.db '%s'", db);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    char err[256];
    store *st = store_open(db, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    int found;
    char *ver = store_get_meta(st, "schema_version", &found);
    CU_ASSERT_STRING_EQUAL(ver ? ver : "", "4");
    free(ver);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM sqlite_master"
                                  " WHERE sql LIKE '%AUTOINCREMENT%'"
                                  " AND name IN ('outbox', 'history')"),
                    0);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM sqlite_sequence"
                                  " WHERE name IN ('outbox', 'history')"), 0);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM sqlite_master"
                                  " WHERE type = 'index' AND name = 'history_user'"
                              " AND tbl_name = 'history'"), 1);

    /* the session and the conversation, ids and order kept */
    bm_session s;
    CU_ASSERT_EQUAL_FATAL(store_load_session(st, 7, &s), 1);
    CU_ASSERT_EQUAL(s.state, TS_ECHO);
    CU_ASSERT_STRING_EQUAL(s.vars[TV_NICK] ? s.vars[TV_NICK] : "", "Bobby");
    bm_session_free(&tiny_machine, &s);
    CU_ASSERT_EQUAL(store_int(st, "SELECT group_concat(id, '') FROM history"), 1245);
    char acc[256] = "";
    CU_ASSERT_EQUAL(store_history_add(st, 7, "user", STORE_HIST_MENU, "later"), 0);
    CU_ASSERT_EQUAL(store_history_list(st, 7, 10, history_text, acc), 5);
    CU_ASSERT_STRING_EQUAL(acc, "/start|Welcome|question|answer|later|");
    CU_ASSERT_EQUAL(store_history_turns(st, 7, 10, NULL, NULL), 2);

    /* the outbox: both calls, in order; a new id is never one given before */
    int n = 0;
    CU_ASSERT_EQUAL(store_outbox_load(st, count_row, &n), 2);
    CU_ASSERT_EQUAL(store_int(st, "SELECT attempts FROM outbox WHERE id = 2"), 2);
    int64_t id = 0, id2 = 0;
    CU_ASSERT_EQUAL(store_outbox_add(st, 1007, "sendMessage", "{}", &id), 0);
    CU_ASSERT_EQUAL(id, 3);
    CU_ASSERT_EQUAL(store_outbox_delete(st, id), 0);
    CU_ASSERT_EQUAL(store_outbox_add(st, 1007, "sendMessage", "{}", &id2), 0);
    CU_ASSERT_EQUAL(id2, 4); /* max(id) + 1 would be 3 again */
    /* another connection took the next id: the store goes past it */
    sqlite3 *other;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &other), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(other, "INSERT INTO outbox(id, chat_id, method, params)"
                                 " VALUES(5, 1, 'sendMessage', '{}')", NULL, NULL, NULL),
                    SQLITE_OK);
    sqlite3_close(other);
    CU_ASSERT_EQUAL(store_outbox_add(st, 1007, "sendMessage", "{}", &id), 0);
    CU_ASSERT_EQUAL(id, 6);

    /* dedup by exact id: handled, waiting and dead updates are not new */
    CU_ASSERT_EQUAL(store_inbox_put(st, 101, 1007, "{\"update_id\":101}"), 0);
    CU_ASSERT_EQUAL(store_inbox_put(st, 102, 1007, "{\"update_id\":102}"), 0);
    CU_ASSERT_EQUAL(store_inbox_put(st, 103, 1007, "{\"update_id\":103}"), 0);
    CU_ASSERT_EQUAL(store_inbox_put(st, 100, 1007, "{\"update_id\":100}"), 1);
    CU_ASSERT_EQUAL(store_mark_handled(st, 101), 0);
    CU_ASSERT_EQUAL(store_inbox_load(st, NULL, NULL), 2); /* 100 and 102 */
    store_close(st);

    /* and again: nothing left to do, nothing lost */
    st = store_open(db, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM history"), 5);
    CU_ASSERT_EQUAL(store_outbox_load(st, NULL, NULL), 5); /* 1, 2, 4, 5, 6 */
    store_close(st);
}

static void test_open_fails(void)
{
    char err[256] = "";
    store *st = store_open("/nonexistent-dir/x/y.db", &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NULL(st);
    CU_ASSERT(strlen(err) > 0);
    bot *b = bot_new(&tiny_machine, "/nonexistent-dir/x/y.db", err, sizeof err);
    CU_ASSERT_PTR_NULL(b);
}

static int handle(bot *b, const bm_user *u, const char *text, bm_effects *fx)
{
    bm_effects_clear(fx);
    bm_input in = {.kind = BM_IN_TEXT, .user = *u, .text = text};
    return bot_handle(b, &in, fx);
}

static const char *last_text(const bm_effects *fx)
{
    return fx->n ? fx->v[fx->n - 1].text : "(none)";
}

static void test_restart_mid_form(void)
{
    new_db();
    char err[256];
    bm_effects fx;
    bm_effects_init(&fx);
    bm_user u = user(42, "en");
    bot *b = bot_new(&tiny_machine, db, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(bot_user_exists(b, 42), 0);
    CU_ASSERT_EQUAL(handle(b, &u, "/start", &fx), 0);
    CU_ASSERT_EQUAL(fx.n, 2);
    CU_ASSERT_EQUAL(bot_user_exists(b, 42), 1);
    CU_ASSERT_EQUAL(handle(b, &u, "📝 Book", &fx), 0);
    CU_ASSERT_STRING_EQUAL(last_text(&fx), "Your name?");
    CU_ASSERT_EQUAL(handle(b, &u, "Ann", &fx), 0);
    CU_ASSERT_EQUAL(handle(b, &u, "30", &fx), 0);
    CU_ASSERT_STRING_EQUAL(last_text(&fx), "Weight in kg?");
    bot_free(b);

    /* a new process: the form goes on where it was */
    b = bot_new(&tiny_machine, db, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(bot_migrate(b, &fx), 0);
    CU_ASSERT_EQUAL(handle(b, &u, "80", &fx), 0);
    CU_ASSERT_STRING_EQUAL(last_text(&fx), "Date?");
    const char *answers[] = {"01.06.2025", "+381601234567", "ABC12", "SUV"};
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(handle(b, &u, answers[i], &fx), 0);
    /* the record is stored, not passed on to the transport */
    for (int i = 0; i < fx.n; i++)
        CU_ASSERT(fx.v[i].kind == BM_FX_SEND);
    CU_ASSERT_EQUAL_FATAL(fx.n, 3);
    CU_ASSERT_STRING_EQUAL(fx.v[0].text, "Booked: Ann|30|80|2025-06-01|+381601234567|ABC12|SUV");

    /* export: everything about the user as JSON */
    CU_ASSERT_EQUAL(handle(b, &u, "/export", &fx), 0);
    CU_ASSERT_EQUAL_FATAL(fx.n, 1);
    cJSON *js = cJSON_Parse(fx.v[0].text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    cJSON *usr = cJSON_GetObjectItem(js, "user");
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(usr, "user_id")->valuedouble, 42);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(usr, "state")->valuestring, "main");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(usr, "first_name")->valuestring, "Ann");
    cJSON *vars = cJSON_GetObjectItem(js, "variables");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(vars, "booking.phone")->valuestring, "+381601234567");
    cJSON *recs = cJSON_GetObjectItem(js, "records");
    CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(recs), 1);
    cJSON *rec = cJSON_GetArrayItem(recs, 0);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(rec, "form")->valuestring, "booking");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "data"), "date")->valuestring,
                           "2025-06-01");
    cJSON_Delete(js);

    /* an action this build cannot do */
    CU_ASSERT_EQUAL(handle(b, &u, "/ask", &fx), 0);
    CU_ASSERT_EQUAL_FATAL(fx.n, 1);
    CU_ASSERT_STRING_EQUAL(fx.v[0].text, "Not available yet.");

    /* delete: every row goes, the confirmation comes before the menu */
    bm_user other = user(43, "ru");
    CU_ASSERT_EQUAL(handle(b, &other, "/start", &fx), 0);
    CU_ASSERT_EQUAL(handle(b, &u, "/delete", &fx), 0);
    CU_ASSERT_EQUAL_FATAL(fx.n, 3);
    CU_ASSERT_STRING_EQUAL(fx.v[0].text, "Your data was deleted.");
    CU_ASSERT_STRING_EQUAL(fx.v[1].text, "Hello, Ann!");
    CU_ASSERT_EQUAL(bot_user_exists(b, 42), 0);
    CU_ASSERT_EQUAL(bot_user_exists(b, 43), 1);
    CU_ASSERT_EQUAL(handle(b, &u, "/export", &fx), 0);
    js = cJSON_Parse(fx.v[0].text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    CU_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(js, "user")));
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(js, "records")), 0);
    cJSON_Delete(js);
    bot_free(b);
    bm_effects_free(&fx);
}

static void test_migration(void)
{
    new_db();
    char err[256];
    bm_effects fx;
    bm_effects_init(&fx);
    bm_user a = user(1, "en"), c = user(2, "ru"), d = user(3, "en");
    bot *b = bot_new(&tiny_machine, db, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    handle(b, &a, "ℹ️ Info", &fx); /* a: info (renamed in v2) */
    handle(b, &c, "ℹ️ Info", &fx); /* c: more (deleted in v2) */
    bm_effects_clear(&fx);
    bm_input cb = {.kind = BM_IN_CALLBACK, .user = c, .text = "more", .message_id = 1};
    CU_ASSERT_EQUAL(bot_handle(b, &cb, &fx), 0);
    handle(b, &d, "/start", &fx); /* d: main (unchanged) */
    CU_ASSERT_EQUAL(bot_migrate(b, &fx), 0);
    bot_free(b);

    bm_machine v2;
    tiny_machine_v2(&v2);
    b = bot_new(&v2, db, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    bm_effects_clear(&fx);
    CU_ASSERT_EQUAL(bot_migrate(b, &fx), 2);
    /* only the user whose state vanished hears about it, in their language */
    CU_ASSERT_EQUAL_FATAL(fx.n, 3);
    CU_ASSERT_EQUAL(fx.v[0].chat_id, 1002);
    CU_ASSERT_STRING_EQUAL(fx.v[0].text, "Бот обновлён, начнём сначала.");
    CU_ASSERT_STRING_EQUAL(fx.v[1].text, "Привет, Ann!");
    CU_ASSERT_EQUAL(fx.v[1].markup.kind, BM_MK_REPLY);
    bm_effects_clear(&fx);
    CU_ASSERT_EQUAL(bot_migrate(b, &fx), 0);
    CU_ASSERT_EQUAL(fx.n, 0);
    bot_free(b);

    store *st = store_open(db, &v2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    bm_session s;
    CU_ASSERT_EQUAL_FATAL(store_load_session(st, 1, &s), 1);
    CU_ASSERT_EQUAL(s.state, TS_INFO);
    bm_session_free(&v2, &s);
    CU_ASSERT_EQUAL_FATAL(store_load_session(st, 2, &s), 1);
    CU_ASSERT_EQUAL(s.state, TS_MAIN);
    bm_session_free(&v2, &s);
    CU_ASSERT_EQUAL_FATAL(store_load_session(st, 3, &s), 1);
    CU_ASSERT_EQUAL(s.state, TS_MAIN);
    bm_session_free(&v2, &s);
    int found;
    char *h = store_get_meta(st, "shape_hash", &found);
    CU_ASSERT_STRING_EQUAL(h, "2222222222222222");
    free(h);
    store_user *stale;
    int n;
    CU_ASSERT_EQUAL(store_list_stale(st, &stale, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    store_users_free(stale, n);
    store_close(st);

    /* listing stale users by the old machine's eyes: the v2 names */
    st = store_open(db, &tiny_machine, err, sizeof err);
    CU_ASSERT_EQUAL(store_list_stale(st, &stale, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(stale[0].user_id, 1);
    CU_ASSERT_STRING_EQUAL(stale[0].state, "information");
    CU_ASSERT_STRING_EQUAL(stale[0].lang, "en");
    store_users_free(stale, n);
    store_close(st);
    bm_effects_free(&fx);
}

/* A Telegram update redelivered after a crash is recognised by its exact id
 * and does nothing, even when ids are not increasing. */
static void test_update_handled_once(void)
{
    new_db();
    char err[256];
    bm_effects fx;
    bm_effects_init(&fx);
    bm_user u = user(7, "en");
    bot *b = bot_new(&tiny_machine, db, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    bm_input in = {.kind = BM_IN_TEXT, .user = u, .text = "/start", .update_id = 900};
    CU_ASSERT_EQUAL(bot_handle(b, &in, &fx), 0);
    CU_ASSERT(fx.n > 0);
    bm_effects_clear(&fx);
    CU_ASSERT_EQUAL(bot_handle(b, &in, &fx), 0);
    CU_ASSERT_EQUAL(fx.n, 0);
    bot_free(b);

    /* a new process still knows it; a smaller, unseen id is handled */
    b = bot_new(&tiny_machine, db, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(bot_handle(b, &in, &fx), 0);
    CU_ASSERT_EQUAL(fx.n, 0);
    in.update_id = 12;
    CU_ASSERT_EQUAL(bot_handle(b, &in, &fx), 0);
    CU_ASSERT(fx.n > 0);
    bot_free(b);
    bm_effects_free(&fx);
}

/* Marks older than two days go when an id divisible by 1,024 is marked,
 * found through the handled_at index, not by reading the whole table. */
static void test_prune_handled(void)
{
    new_db();
    char err[256];
    store *st = store_open(db, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    sqlite3 *d = sql_store_db(st);
    CU_ASSERT_EQUAL(sqlite3_exec(d, "INSERT INTO handled(update_id, at) VALUES"
                                    " (5, CAST(strftime('%s','now') AS INTEGER) - 200000),"
                                    " (6, CAST(strftime('%s','now') AS INTEGER) - 100)",
                                 NULL, NULL, NULL), SQLITE_OK);
    CU_ASSERT_EQUAL(store_begin(st), 0);
    CU_ASSERT_EQUAL(store_mark_handled(st, 2048), 1);
    CU_ASSERT_EQUAL(store_commit(st), 0);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM handled WHERE update_id = 5"), 0);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM handled WHERE update_id IN (6, 2048)"),
                    2);

    sqlite3_stmt *q = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(d, "EXPLAIN QUERY PLAN DELETE FROM handled"
                                                " WHERE at < 0", -1, &q, NULL), SQLITE_OK);
    bool by_index = false;
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(q, 3);
        if (detail && strstr(detail, "handled_at"))
            by_index = true;
    }
    sqlite3_finalize(q);
    CU_ASSERT(by_index);
    store_close(st);
}

/* Regression (issue 12): a long export came as chat messages cut
 * mid-string, and each was stored in the history, so the next export held
 * the previous one. Now: one file, whole, outside the history. */
static void test_export_one_file(void)
{
    new_db();
    char err[256];
    bm_effects fx;
    bm_effects_init(&fx);
    bm_user u = user(5, "en");
    bot *b = bot_new(&tiny_machine, db, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    /* a long variable makes the export longer than one message */
    char *big = malloc(6001);
    memset(big, 'x', 6000);
    big[0] = 'n', big[1] = 'i', big[2] = 'c', big[3] = 'k', big[4] = ' ';
    big[6000] = '\0';
    CU_ASSERT_EQUAL(handle(b, &u, big, &fx), 0);
    bm_effects_clear(&fx);
    for (int round = 0; round < 2; round++) {
        CU_ASSERT_EQUAL(handle(b, &u, "/export", &fx), 0);
        CU_ASSERT_EQUAL_FATAL(fx.n, 1);
        CU_ASSERT_EQUAL(fx.v[0].kind, BM_FX_DOCUMENT);
        CU_ASSERT_EQUAL(strncmp(fx.v[0].file_name ? fx.v[0].file_name : "", "my-data-", 8), 0);
        CU_ASSERT(strlen(fx.v[0].text) > 6000);
        cJSON *root = cJSON_Parse(fx.v[0].text);
        CU_ASSERT_PTR_NOT_NULL(root);
        /* the history: what the user typed, never an export */
        const cJSON *h;
        cJSON_ArrayForEach(h, cJSON_GetObjectItem(root, "history")) {
            const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(h, "text"));
            CU_ASSERT_PTR_NULL(t ? strstr(t, "\"variables\"") : NULL);
        }
        cJSON_Delete(root);
        bm_effects_clear(&fx);
    }
    free(big);
    bot_free(b);
    bm_effects_free(&fx);
}

/* session_start's storage: the model's context starts empty again, and
 * nothing is lost (the rows are still exported, as "ai_closed"). */
static void test_close_ai_session(void)
{
    new_db();
    char err[256];
    store *st = store_open(db, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(store_history_add(st, 9, "user", STORE_HIST_AI, "what is 2+2?"), 0);
    CU_ASSERT_EQUAL(store_history_add(st, 9, "bot", STORE_HIST_AI, "4"), 0);
    CU_ASSERT_EQUAL(store_history_add(st, 9, "user", STORE_HIST_MENU, "/help"), 0);
    CU_ASSERT_EQUAL(store_history_add(st, 10, "user", STORE_HIST_AI, "someone else's"), 0);
    CU_ASSERT_EQUAL(store_history_turns(st, 9, 10, NULL, NULL), 2);
    CU_ASSERT_EQUAL(store_history_close_ai(st, 9), 0);
    CU_ASSERT_EQUAL(store_history_turns(st, 9, 10, NULL, NULL), 0);
    CU_ASSERT_EQUAL(store_history_turns(st, 10, 10, NULL, NULL), 1); /* only the user's */
    CU_ASSERT_EQUAL(store_history_list(st, 9, 10, NULL, NULL), 3);   /* nothing lost */
    char *js = store_export_user(st, 9);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    CU_ASSERT_PTR_NOT_NULL(strstr(js, "\"ai_closed\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(js, "what is 2+2?"));
    free(js);
    /* the next turn with the model is the new session's first */
    CU_ASSERT_EQUAL(store_history_add(st, 9, "user", STORE_HIST_AI, "hello again"), 0);
    CU_ASSERT_EQUAL(store_history_turns(st, 9, 10, NULL, NULL), 1);
    store_close(st);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/botc_store_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    log_set_level(LOG_WARN);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("store", NULL, NULL);
    CU_add_test(s, "save and load round trip", test_round_trip);
    CU_add_test(s, "open failures", test_open_fails);
    CU_add_test(s, "schema 2 -> 3 (history.kind)", test_upgrade_3);
    CU_add_test(s, "schema 3 -> 4 (no AUTOINCREMENT), from a schema 3 file", test_upgrade_4);
    CU_add_test(s, "restart mid-form, export, delete", test_restart_mid_form);
    CU_add_test(s, "migration by moves and to start", test_migration);
    CU_add_test(s, "a long export is one file", test_export_one_file);
    CU_add_test(s, "an update is handled once", test_update_handled_once);
    CU_add_test(s, "old handled marks pruned through an index", test_prune_handled);
    CU_add_test(s, "session_start closes the model's context, loses nothing",
                test_close_ai_session);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return fails ? 1 : 0;
}

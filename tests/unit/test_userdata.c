/*
 * test_userdata.c — export_data and delete_data cover every table: a user
 * gets rows in each table of the bot's database (store, feedback, handoff,
 * limits, leads, tool calls), export_data returns all of them, and delete_data leaves
 * none. The check walks the database's schema, so a table added later
 * with a user_id column that delete_data forgets fails here, and so does
 * a new table without one that nobody has looked at (KEPT below).
 */
#include <CUnit/Basic.h>
#include <cJSON.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions/memory.h"
#include "actions/registry.h"
#include "actions/session.h"
#include "dialogue/action.h"
#include "dialogue/bot.h"
#include "people/handoff.h"
#include "base/log.h"
#include "storage/store.h"
#include "support/tiny_machine.h"
#include "support/sql_int.h"

static char dir[64];

/* Tables without a user_id column, and why delete_data leaves them. */
static const char *const KEPT[] = {
    "meta",            /* the schema version, the machine's shape */
    "handled",         /* update ids only */
    "inbox",           /* updates in transit: handled (and removed) next */
    "outbox",          /* calls in transit, the deletion's confirmation among them */
    "lead_topics",     /* the managers' named topics */
    "sqlite_sequence", /* SQLite's AUTOINCREMENT counters */
};

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "%s: %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    return rc;
}

static bool has_user_id(sqlite3 *db, const char *table)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pragma_table_info('%s') WHERE name = 'user_id'",
             table);
    return sql_int(db, sql) == 1;
}

static bool kept(const char *table)
{
    for (size_t i = 0; i < sizeof KEPT / sizeof KEPT[0]; i++)
        if (!strcmp(KEPT[i], table))
            return true;
    return false;
}

/* Everything a user can leave behind, for user id. */
static void fill(bot *b, int64_t id)
{
    sqlite3 *db = sql_store_db(bot_store(b));
    bm_effects fx;
    bm_effects_init(&fx);
    bm_input in = {.kind = BM_IN_TEXT, .text = "/start",
                   .user = {.id = id, .chat_id = id, .first_name = "Ann", .username = "ann",
                            .language_code = "en"}};
    CU_ASSERT_EQUAL(bot_handle(b, &in, &fx), 0); /* users, history */
    bm_effects_free(&fx);
    store *st = bot_store(b);
    CU_ASSERT_EQUAL(store_add_record(st, id, TF_BOOKING, "{\"name\":\"Ann Lee\"}"), 0);
    CU_ASSERT_EQUAL(store_history_add(st, id, "user", STORE_HIST_AI, "how much is the deposit?"), 0);
    CU_ASSERT_EQUAL(store_history_add(st, id, "bot", STORE_HIST_AI, "The deposit is €300."), 0);
    CU_ASSERT_EQUAL(store_history_add(st, id, "operator", STORE_HIST_HANDOFF, "Hello Ann"), 0);
    int64_t hid;
    CU_ASSERT_EQUAL(ho_insert(bot_part_state(b, BOT_PART_HANDOFF), id, id, 100 + id % 100, &hid), 0);
    CU_ASSERT_EQUAL(ho_add_manager(bot_part_state(b, BOT_PART_HANDOFF), id, "Ann"), 0);
    CU_ASSERT_EQUAL(memory_keep(b, id, "fact", "I prefer Python", 0), 0);
    /* a session (opened by a question) and its two turns */
    CU_ASSERT_EQUAL(act_session_record_user(b, id, id, "How do I sort a list?", "sorted(xs)"), 0);
    char sql[2048];
    snprintf(sql, sizeof sql,
             "INSERT INTO vars(user_id, name, value) VALUES(%lld, 'nick', 'annie');"
             "INSERT INTO ai_answers(id, user_id, chat_id, at) VALUES(%lld, %lld, %lld, 1700000000);"
             "INSERT INTO votes(answer_id, user_id, chat_id, message_id, vote, at)"
             " VALUES(%lld, %lld, %lld, 77, 'helped', 1700000001);"
             "INSERT INTO llm_usage(user_id, day, tokens) VALUES(%lld, '2026-05-12', 123);"
             "INSERT INTO leads(user_id, form, text, thread_id, posted)"
             " VALUES(%lld, 'booking', '📝 New lead · booking', 105, 1);"
             "INSERT INTO memory_vectors(item_id, user_id, model, dims, vec, at)"
             " SELECT id, user_id, 'embed-model', 1, x'0000803f', 1700000002 FROM memory_items"
             " WHERE user_id = %lld;"
             "INSERT INTO tool_calls(user_id, chat_id, at, name, arguments, ok, status, result)"
             " VALUES(%lld, %lld, 1700000002, 'weather', '{\"city\":\"Moscow\"}', 1, 200,"
             " '{\"temp\":-3}');",
             (long long)id, (long long)id, (long long)id, (long long)id, (long long)id,
             (long long)id, (long long)id, (long long)id, (long long)id, (long long)id,
             (long long)id, (long long)id);
    CU_ASSERT_EQUAL(exec(db, sql), SQLITE_OK);
    /* updates given up on: one in their private chat that is not even JSON
     * (the chat says whose), one in a group (the sender says) */
    CU_ASSERT_EQUAL(store_dead_letter(st, 7000000 + id * 10, id, "{\"update_id\":", "malformed"), 1);
    char up[256];
    snprintf(up, sizeof up, "{\"update_id\":%lld,\"message\":{\"message_id\":1,\"date\":1,"
             "\"chat\":{\"id\":-100777,\"type\":\"group\"},\"from\":{\"id\":%lld,"
             "\"is_bot\":false,\"first_name\":\"Ann\"},\"text\":\"my secret\"}}",
             (long long)(7000001 + id * 10), (long long)id);
    CU_ASSERT_EQUAL(store_dead_letter(st, 7000001 + id * 10, -100777, up, "handling failed"), 1);
}

static cJSON *array(const cJSON *root, const char *key, int n)
{
    cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);
    CU_ASSERT_TRUE(cJSON_IsArray(a));
    if (cJSON_GetArraySize(a) != n)
        fprintf(stderr, "\n  %s: %d items, expected %d\n", key, cJSON_GetArraySize(a), n);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(a), n);
    return a;
}

static const char *str(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s ? s : "(none)";
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Every time under root is ISO-8601 UTC text (or null: a handoff not
 * closed); returns how many it saw. Regression (issue 12): the export mixed
 * unix seconds and ISO strings. */
static int check_times(const cJSON *node)
{
    static const char *const keys[] = {"at", "opened", "closed", "added", "created", "updated"};
    int seen = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, node) {
        for (size_t i = 0; it->string && i < sizeof keys / sizeof keys[0]; i++) {
            if (strcmp(it->string, keys[i]) || cJSON_IsNull(it))
                continue;
            const char *v = cJSON_GetStringValue(it);
            int y, mo, d, h, mi, sec, n = 0;
            bool iso = v && sscanf(v, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 &&
                       n == 20 && !v[n];
            if (!iso)
                fprintf(stderr, "\n  \"%s\" is not ISO-8601 UTC: %s\n", it->string,
                        v ? v : "(a number)");
            CU_ASSERT_TRUE(iso);
            seen++;
        }
        if (cJSON_IsObject(it) || cJSON_IsArray(it))
            seen += check_times(it);
    }
    return seen;
}

static void test_export_and_delete(void)
{
    char db[128], err[256];
    snprintf(db, sizeof db, "%s/bot.db", dir);
    bot *b = bot_new(&tiny_machine, db, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    sqlite3 *sq = sql_store_db(bot_store(b));
    fill(b, 42);
    fill(b, 43);

    /* export_data: every table's rows about 42, none of 43's */
    char *js = bot_export_user(b, 42);
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    cJSON *root = cJSON_Parse(js);
    free(js);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    const char *keys[] = {"user", "variables", "records", "history", "ai_answers", "votes",
                          "handoffs", "manager", "llm_usage", "leads", "memory",
                          "memory_vectors", "sessions", "dead_letters", "tool_calls"};
    CU_ASSERT_EQUAL(cJSON_GetArraySize(root), (int)(sizeof keys / sizeof keys[0]));
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItemCaseSensitive(root, keys[i]));
    CU_ASSERT_EQUAL(num(cJSON_GetObjectItem(root, "user"), "user_id"), 42);
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetObjectItem(root, "variables"), "nick"), "annie");
    cJSON *a = array(root, "records", 1);
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "data"), "name"),
                           "Ann Lee");
    a = array(root, "history", 6); /* /start, its two messages, two turns, the operator */
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(a, 0), "text"), "/start");
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(a, 1), "kind"), "menu");
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(a, 3), "kind"), "ai");
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(a, 5), "role"), "operator");
    a = array(root, "ai_answers", 1);
    CU_ASSERT_EQUAL(num(cJSON_GetArrayItem(a, 0), "id"), 42);
    a = array(root, "votes", 1);
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(a, 0), "vote"), "helped");
    a = array(root, "handoffs", 1);
    CU_ASSERT_EQUAL(num(cJSON_GetArrayItem(a, 0), "thread_id"), 142);
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetObjectItem(root, "manager"), "name"), "Ann");
    a = array(root, "llm_usage", 1);
    CU_ASSERT_EQUAL(num(cJSON_GetArrayItem(a, 0), "tokens"), 123);
    a = array(root, "leads", 1);
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(a, 0), "form"), "booking");
    a = array(root, "dead_letters", 2);
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(a, 0), "update"), "{\"update_id\":");
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(a, 1), "reason"), "handling failed");
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 1),
                                                                       "update"), "message"),
                               "text"), "my secret");
    a = array(root, "memory", 1);
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(a, 0), "text"), "I prefer Python");
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(a, 0), "kind"), "fact");
    a = array(root, "memory_vectors", 1);
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(a, 0), "model"), "embed-model");
    CU_ASSERT_EQUAL(num(cJSON_GetArrayItem(a, 0), "dims"), 1);
    a = array(root, "sessions", 1);
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(a, 0), "title"), "How do I sort a list?");
    CU_ASSERT_EQUAL(num(cJSON_GetArrayItem(a, 0), "turns"), 1);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "turns_kept")), 2);
    a = array(root, "tool_calls", 1);
    CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(a, 0), "arguments"), "{\"city\":\"Moscow\"}");
    /* user created/updated, a record, 6 history rows, an answer, a vote,
     * a handoff opened (still open: closed is null), the manager, a lead,
     * a memory item and its vector, a session opened and last used (still
     * open) and its two turns, two dead letters, a tool call */
    CU_ASSERT_EQUAL(check_times(root), 23);
    cJSON_Delete(root);

    /* delete_data, as the action runs it (tiny's /delete) */
    bm_effects fx;
    bm_effects_init(&fx);
    bm_input in = {.kind = BM_IN_TEXT, .text = "/delete",
                   .user = {.id = 42, .chat_id = 42, .first_name = "Ann"}};
    CU_ASSERT_EQUAL(bot_handle(b, &in, &fx), 0);
    CU_ASSERT_STRING_EQUAL(fx.n ? fx.v[0].text : "", "Your data was deleted.");
    bm_effects_free(&fx);

    /* every table: nothing of 42 left (but the manager row), 43 untouched */
    sqlite3_stmt *t;
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(sq, "SELECT name FROM sqlite_master WHERE type ="
                                                 " 'table' AND name NOT LIKE 'sqlite_stat%'"
                                                 " ORDER BY name", -1, &t, NULL), SQLITE_OK);
    int with_user = 0;
    while (sqlite3_step(t) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(t, 0);
        if (!has_user_id(sq, name)) {
            if (!kept(name))
                fprintf(stderr, "\n  table %s has no user_id and is not in KEPT: decide\n", name);
            CU_ASSERT_TRUE(kept(name));
            continue;
        }
        with_user++;
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\" WHERE user_id = 42", name);
        int64_t left = sql_int(sq, sql);
        bool is_mgr = !strcmp(name, "managers");
        if (left != (is_mgr ? 1 : 0))
            fprintf(stderr, "\n  table %s: %lld rows of the deleted user\n", name, (long long)left);
        CU_ASSERT_EQUAL(left, is_mgr ? 1 : 0); /* a manager stays one (the admin's list) */
        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\" WHERE user_id = 43", name);
        if (sql_int(sq, sql) < 1)
            fprintf(stderr, "\n  table %s: the other user's rows went too\n", name);
        CU_ASSERT(sql_int(sq, sql) >= 1);
    }
    sqlite3_finalize(t);
    /* users vars records history ai_answers votes handoffs managers llm_usage leads
     * memory_items memory_vectors sessions session_turns dead_letter tool_calls */
    CU_ASSERT_EQUAL(with_user, 16);

    /* and the export says so */
    js = bot_export_user(b, 42);
    root = js ? cJSON_Parse(js) : NULL;
    free(js);
    CU_ASSERT_PTR_NOT_NULL_FATAL(root);
    CU_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(root, "user")));
    const char *lists[] = {"records", "history", "ai_answers", "votes", "handoffs", "llm_usage",
                           "leads", "memory", "memory_vectors", "sessions", "dead_letters"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        array(root, lists[i], 0);
    cJSON_Delete(root);
    bot_free(b);
}

/* Dead letters age out: store_dead_letter_prune removes those older than
 * the retention and keeps the rest. */
static void test_dead_letter_prune(void)
{
    char db[128], err[256];
    snprintf(db, sizeof db, "%s/prune.db", dir);
    store *st = store_open(db, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    sqlite3 *sq = sql_store_db(st);
    CU_ASSERT_EQUAL(store_dead_letter(st, 1, 5, "{}", "old"), 1);
    CU_ASSERT_EQUAL(store_dead_letter(st, 2, 5, "{}", "new"), 1);
    CU_ASSERT_EQUAL(exec(sq, "UPDATE dead_letter SET at = at - 31 * 86400 WHERE update_id = 1"),
                    SQLITE_OK);
    CU_ASSERT_EQUAL(store_dead_letter_prune(st, 30 * 86400L), 1);
    CU_ASSERT_EQUAL(sql_int(sq, "SELECT count(*) FROM dead_letter WHERE update_id = 2"), 1);
    CU_ASSERT_EQUAL(sql_int(sq, "SELECT count(*) FROM dead_letter"), 1);
    CU_ASSERT_EQUAL(store_dead_letter_prune(st, 30 * 86400L), 0);
    store_close(st);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/botc_userdata_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    /* hermetic: no operators' group or admin from the caller's environment */
    unsetenv("MANAGER_GROUP_CHAT_ID");
    unsetenv("ADMIN_USER_ID");
    unsetenv("OPENAI_API_BASE");
    log_set_level(LOG_WARN);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("user data", NULL, NULL);
    CU_add_test(s, "export_data has every table, delete_data empties them",
                test_export_and_delete);
    CU_add_test(s, "dead letters age out", test_dead_letter_prune);
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

/*
 * usage.c — see usage.h.
 */
#include "ai/usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "base/log.h"

struct usage {
    store *st;
    sqlite3 *db;
    sqlite3_stmt *add, *get, *prune, *del;
};

usage *usage_open(store *st, char *err, size_t errlen)
{
    usage *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    u->st = st;
    u->db = store_sqlite(st);
    const char *ddl = "CREATE TABLE IF NOT EXISTS llm_usage("
                      "user_id INTEGER NOT NULL, day TEXT NOT NULL, tokens INTEGER NOT NULL,"
                      "PRIMARY KEY(user_id, day)) WITHOUT ROWID";
    if (sqlite3_exec(u->db, ddl, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(u->db,
                           "INSERT INTO llm_usage(user_id, day, tokens) VALUES(?1, ?2, ?3) "
                           "ON CONFLICT(user_id, day) DO UPDATE SET tokens = tokens + ?3",
                           -1, &u->add, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(u->db, "SELECT tokens FROM llm_usage WHERE user_id = ?1 AND day = ?2",
                           -1, &u->get, NULL) != SQLITE_OK ||
        /* 40 days before today in UTC: a day either side of the zone's
         * date does not matter for a report's horizon */
        sqlite3_prepare_v2(u->db, "DELETE FROM llm_usage WHERE day < date('now', '-40 days')",
                           -1, &u->prune, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(u->db, "DELETE FROM llm_usage WHERE user_id = ?1", -1, &u->del,
                           NULL) != SQLITE_OK) {
        snprintf(err, errlen, "usage table: %s", sqlite3_errmsg(u->db));
        usage_free(u);
        return NULL;
    }
    return u;
}

void usage_free(usage *u)
{
    if (!u)
        return;
    sqlite3_finalize(u->add);
    sqlite3_finalize(u->get);
    sqlite3_finalize(u->prune);
    sqlite3_finalize(u->del);
    free(u);
}

int usage_add(usage *u, int64_t user_id, const char *day, int64_t tokens)
{
    sqlite3_bind_int64(u->add, 1, user_id);
    sqlite3_bind_text(u->add, 2, day, -1, SQLITE_STATIC);
    sqlite3_bind_int64(u->add, 3, tokens);
    int rc = sqlite3_step(u->add);
    sqlite3_reset(u->add);
    sqlite3_clear_bindings(u->add);
    if (rc != SQLITE_DONE) {
        log_warn("usage", "%s", sqlite3_errmsg(u->db));
        return -1;
    }
    /* Keep 40 days: enough for any monthly report, bounded for ever. */
    sqlite3_step(u->prune);
    sqlite3_reset(u->prune);
    return 0;
}

int64_t usage_today(usage *u, int64_t user_id, const char *day)
{
    sqlite3_bind_int64(u->get, 1, user_id);
    sqlite3_bind_text(u->get, 2, day, -1, SQLITE_STATIC);
    int rc = sqlite3_step(u->get);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(u->get, 0) : 0;
    sqlite3_reset(u->get);
    sqlite3_clear_bindings(u->get);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        log_warn("usage", "%s", sqlite3_errmsg(u->db));
        return -1;
    }
    return v;
}

int usage_delete_user(usage *u, int64_t user_id)
{
    sqlite3_bind_int64(u->del, 1, user_id);
    int rc = sqlite3_step(u->del);
    sqlite3_reset(u->del);
    sqlite3_clear_bindings(u->del);
    if (rc != SQLITE_DONE) {
        log_warn("usage", "%s", sqlite3_errmsg(u->db));
        return -1;
    }
    return 0;
}

int usage_export_user(usage *u, int64_t user_id, cJSON *root)
{
    cJSON *arr = cJSON_AddArrayToObject(root, "llm_usage");
    if (!arr || store_json_rows(u->st, "SELECT day, tokens FROM llm_usage WHERE user_id = ?1"
                                       " ORDER BY day", user_id, arr) < 0)
        return -1;
    return 0;
}

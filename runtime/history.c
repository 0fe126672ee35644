/*
 * history.c — see history.h.
 */
#include "history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"

struct hist {
    sqlite3 *db;
    sqlite3_stmt *add, *prune, *recent, *del;
};

hist *hist_open(store *st, char *err, size_t errlen)
{
    hist *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->db = store_sqlite(st);
    if (sqlite3_exec(h->db,
                     "CREATE TABLE IF NOT EXISTS llm_history(id INTEGER PRIMARY KEY, "
                     "user_id INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, "
                     "at TEXT NOT NULL DEFAULT (datetime('now')));"
                     "CREATE INDEX IF NOT EXISTS llm_history_user ON llm_history(user_id, id);",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db, "INSERT INTO llm_history(user_id, role, content) VALUES(?1, ?2, ?3)",
                           -1, &h->add, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db,
                           "DELETE FROM llm_history WHERE user_id = ?1 AND id NOT IN "
                           "(SELECT id FROM llm_history WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2)",
                           -1, &h->prune, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db,
                           "SELECT role, content FROM (SELECT id, role, content FROM llm_history "
                           "WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id",
                           -1, &h->recent, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h->db, "DELETE FROM llm_history WHERE user_id = ?1", -1, &h->del,
                           NULL) != SQLITE_OK) {
        snprintf(err, errlen, "history table: %s", sqlite3_errmsg(h->db));
        hist_free(h);
        return NULL;
    }
    return h;
}

void hist_free(hist *h)
{
    if (!h)
        return;
    sqlite3_finalize(h->add);
    sqlite3_finalize(h->prune);
    sqlite3_finalize(h->recent);
    sqlite3_finalize(h->del);
    free(h);
}

static int done(hist *h, sqlite3_stmt *s, int rc)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        log_warn("history", "%s", sqlite3_errmsg(h->db));
        return -1;
    }
    return 0;
}

int hist_add(hist *h, int64_t user_id, const char *role, const char *content)
{
    size_t n = strlen(content);
    if (n > HIST_CONTENT_MAX) {
        n = HIST_CONTENT_MAX;
        while (n > 0 && ((unsigned char)content[n] & 0xC0) == 0x80)
            n--;
    }
    sqlite3_bind_int64(h->add, 1, user_id);
    sqlite3_bind_text(h->add, 2, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(h->add, 3, content, (int)n, SQLITE_STATIC);
    if (done(h, h->add, sqlite3_step(h->add)))
        return -1;
    sqlite3_bind_int64(h->prune, 1, user_id);
    sqlite3_bind_int(h->prune, 2, HIST_KEEP);
    return done(h, h->prune, sqlite3_step(h->prune));
}

int hist_recent(hist *h, int64_t user_id, int max, cJSON *arr)
{
    sqlite3_bind_int64(h->recent, 1, user_id);
    sqlite3_bind_int(h->recent, 2, max);
    int n = 0, rc;
    while ((rc = sqlite3_step(h->recent)) == SQLITE_ROW) {
        cJSON *m = cJSON_CreateObject();
        if (!m || !cJSON_AddItemToArray(arr, m) ||
            !cJSON_AddStringToObject(m, "role", (const char *)sqlite3_column_text(h->recent, 0)) ||
            !cJSON_AddStringToObject(m, "content",
                                     (const char *)sqlite3_column_text(h->recent, 1))) {
            sqlite3_reset(h->recent);
            sqlite3_clear_bindings(h->recent);
            return -1;
        }
        n++;
    }
    return done(h, h->recent, rc) ? -1 : n;
}

int hist_delete(hist *h, int64_t user_id)
{
    sqlite3_bind_int64(h->del, 1, user_id);
    return done(h, h->del, sqlite3_step(h->del));
}

/*
 * store_usage.c — see store_usage.h.
 */
#include "storage/store_usage.h"

#include <stdio.h>
#include <stdlib.h>

#include "storage/store_int.h"

struct store_usage {
    store *st;
    sqlite3_stmt *add, *get, *prune, *del, *export;
};

#define USAGE_SQL(u) { \
    {&(u)->add, "INSERT INTO llm_usage(user_id, day, tokens) VALUES(?1, ?2, ?3)" \
                " ON CONFLICT(user_id, day) DO UPDATE SET tokens = llm_usage.tokens + ?3"}, \
    {&(u)->get, "SELECT tokens FROM llm_usage WHERE user_id = ?1 AND day = ?2"}, \
    {&(u)->prune, "DELETE FROM llm_usage WHERE day < ?1"}, \
    {&(u)->del, "DELETE FROM llm_usage WHERE user_id = ?1"}, \
    {&(u)->export, "SELECT day, tokens FROM llm_usage WHERE user_id = ?1 ORDER BY day"}, \
}

store_usage *store_usage_open(store *st, char *err, size_t errlen)
{
    store_usage *u = calloc(1, sizeof *u);
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    u->st = st;
    const store__sql q[] = USAGE_SQL(u);
    if (store__sqlite_usage_schema(st, err, errlen) ||
        store__prepare_all(st, q, sizeof q / sizeof q[0], "usage table", err, errlen)) {
        store_usage_free(u);
        return NULL;
    }
    return u;
}

void store_usage_free(store_usage *u)
{
    if (!u)
        return;
    const store__sql q[] = USAGE_SQL(u);
    store__finalize_all(q, sizeof q / sizeof q[0]);
    free(u);
}

int store_usage_add(store_usage *u, int64_t user_id, const char *day, int64_t tokens)
{
    sqlite3_stmt *s = store__reset(u->add);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_text(s, 2, day, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, tokens);
    return store__run(u->st, s, "usage add") < 0 ? -1 : 0;
}

int store_usage_prune(store_usage *u, int days)
{
    time_t t = store__now(u->st) - (time_t)days * 86400;
    struct tm tm;
    char day[16];
    if (!gmtime_r(&t, &tm) || !strftime(day, sizeof day, "%Y-%m-%d", &tm))
        return -1;
    sqlite3_stmt *s = store__reset(u->prune);
    sqlite3_bind_text(s, 1, day, -1, SQLITE_TRANSIENT);
    return store__run(u->st, s, "usage prune") < 0 ? -1 : 0;
}

int64_t store_usage_get(store_usage *u, int64_t user_id, const char *day)
{
    sqlite3_stmt *s = store__reset(u->get);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_text(s, 2, day, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store__fail(u->st, "usage get");
    return v;
}

int store_usage_delete_user(store_usage *u, int64_t user_id)
{
    sqlite3_stmt *s = store__reset(u->del);
    sqlite3_bind_int64(s, 1, user_id);
    return store__run(u->st, s, "usage delete") < 0 ? -1 : 0;
}

int store_usage_export(store_usage *u, int64_t user_id, struct cJSON *arr)
{
    sqlite3_stmt *s = store__reset(u->export);
    sqlite3_bind_int64(s, 1, user_id);
    return store__json_rows(u->st, s, arr);
}

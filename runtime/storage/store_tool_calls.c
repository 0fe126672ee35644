/*
 * store_tool_calls.c — see store_tool_calls.h.
 */
#include "storage/store_tool_calls.h"

#include <stdio.h>
#include <stdlib.h>

#include "storage/store_int.h"

struct store_tool_calls {
    store *st;
    sqlite3_stmt *add, *del, *export, *count;
};

#define TOOL_CALLS_SQL(t) { \
    {&(t)->add, "INSERT INTO tool_calls(user_id, chat_id, at, name, arguments, ok, status, result)" \
                " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"}, \
    {&(t)->del, "DELETE FROM tool_calls WHERE user_id = ?1"}, \
    {&(t)->export, "SELECT id, chat_id, at, name, arguments, ok, status, result FROM tool_calls" \
                   " WHERE user_id = ?1 ORDER BY id"}, \
    {&(t)->count, "SELECT count(*) FROM tool_calls WHERE user_id = ?1"}, \
}

store_tool_calls *store_tool_calls_open(store *st, char *err, size_t errlen)
{
    store_tool_calls *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->st = st;
    const store__sql q[] = TOOL_CALLS_SQL(t);
    if (store__sqlite_tool_calls_schema(st, err, errlen) ||
        store__prepare_all(st, q, sizeof q / sizeof q[0], "tool_calls table", err, errlen)) {
        store_tool_calls_free(t);
        return NULL;
    }
    return t;
}

void store_tool_calls_free(store_tool_calls *t)
{
    if (!t)
        return;
    const store__sql q[] = TOOL_CALLS_SQL(t);
    store__finalize_all(q, sizeof q / sizeof q[0]);
    free(t);
}

int store_tool_calls_add(store_tool_calls *t, int64_t user_id, int64_t chat_id, const char *name,
                         const char *arguments, int ok, long status, const char *result)
{
    sqlite3_stmt *s = store__reset(t->add);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, chat_id);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)store__now(t->st));
    sqlite3_bind_text(s, 4, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, arguments ? arguments : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 6, ok != 0);
    sqlite3_bind_int64(s, 7, status);
    sqlite3_bind_text(s, 8, result ? result : "", -1, SQLITE_STATIC);
    return store__run(t->st, s, "tool call") < 0 ? -1 : 0;
}

int store_tool_calls_delete_user(store_tool_calls *t, int64_t user_id)
{
    sqlite3_stmt *s = store__reset(t->del);
    sqlite3_bind_int64(s, 1, user_id);
    return store__run(t->st, s, "tool calls delete") < 0 ? -1 : 0;
}

int store_tool_calls_export(store_tool_calls *t, int64_t user_id, struct cJSON *arr)
{
    sqlite3_stmt *s = store__reset(t->export);
    sqlite3_bind_int64(s, 1, user_id);
    return store__json_rows(t->st, s, arr) < 0 ? -1 : 0;
}

int store_tool_calls_count(store_tool_calls *t, int64_t user_id)
{
    sqlite3_stmt *s = store__reset(t->count);
    sqlite3_bind_int64(s, 1, user_id);
    int rc = sqlite3_step(s);
    int n = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sqlite3_reset(s);
    return n >= 0 ? n : store__fail(t->st, "tool calls count");
}

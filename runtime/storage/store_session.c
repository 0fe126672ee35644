/*
 * store_session.c — see store_session.h.
 */
#include "storage/store_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "storage/store_int.h"

struct store_session {
    store *st;
    sqlite3_stmt *start, *current, *add_turn, *count_turn, *prune, *turns, *close, *drop_s,
        *drop_t, *reopen, *list, *idle, *del_s, *del_t, *export_s, *export_t;
};

#define SESSION_COLS "id, user_id, chat_id, title, opened, at, coalesce(closed, 0), turns, summary"

#define SESSION_SQL(f) { \
    {&(f)->start, "INSERT INTO sessions(user_id, chat_id, title, opened, at, turns, summary)" \
                  " VALUES(?1, ?2, '', ?3, ?3, 0, '') RETURNING id"}, \
    {&(f)->current, "SELECT " SESSION_COLS " FROM sessions" \
                    " WHERE user_id = ?1 AND closed IS NULL ORDER BY id DESC LIMIT 1"}, \
    {&(f)->add_turn, "INSERT INTO session_turns(session_id, user_id, role, text, at)" \
                     " SELECT id, user_id, ?3, ?4, ?5 FROM sessions WHERE id = ?2 AND user_id = ?1"}, \
    /* a question counts a turn; the first names the session */ \
    {&(f)->count_turn, "UPDATE sessions SET at = ?4, turns = turns + ?3," \
                       " title = CASE WHEN title = '' AND ?3 = 1 THEN ?5 ELSE title END" \
                       " WHERE id = ?2 AND user_id = ?1"}, \
    {&(f)->prune, "DELETE FROM session_turns WHERE session_id = ?1 AND id <=" \
                  " (SELECT id FROM session_turns WHERE session_id = ?1 ORDER BY id DESC" \
                  " LIMIT 1 OFFSET ?2)"}, \
    {&(f)->turns, "SELECT role, text FROM (SELECT id, role, text FROM session_turns" \
                  " WHERE session_id = ?2 AND user_id = ?1 ORDER BY id DESC LIMIT ?3)" \
                  " ORDER BY id"}, \
    {&(f)->close, "UPDATE sessions SET closed = ?4, summary = ?3" \
                  " WHERE id = ?2 AND user_id = ?1 AND closed IS NULL AND (?5 = 0 OR at = ?5)"}, \
    {&(f)->drop_s, "DELETE FROM sessions WHERE id = ?2 AND user_id = ?1"}, \
    {&(f)->drop_t, "DELETE FROM session_turns WHERE session_id = ?2 AND user_id = ?1"}, \
    {&(f)->reopen, "UPDATE sessions SET closed = NULL, at = ?3" \
                   " WHERE id = ?2 AND user_id = ?1 AND closed IS NOT NULL"}, \
    {&(f)->list, "SELECT " SESSION_COLS " FROM sessions WHERE user_id = ?1 AND turns > 0" \
                 " ORDER BY closed IS NULL DESC, at DESC, id DESC LIMIT ?2"}, \
    {&(f)->idle, "SELECT " SESSION_COLS " FROM sessions WHERE closed IS NULL AND at < ?1" \
                 " ORDER BY at LIMIT ?2"}, \
    {&(f)->del_s, "DELETE FROM sessions WHERE user_id = ?1"}, \
    {&(f)->del_t, "DELETE FROM session_turns WHERE user_id = ?1"}, \
    {&(f)->export_s, "SELECT id, title, opened, at, closed, turns, summary FROM sessions" \
                     " WHERE user_id = ?1 ORDER BY id"}, \
    {&(f)->export_t, "SELECT role, text, at FROM session_turns WHERE session_id = ?1" \
                     " ORDER BY id"}, \
}

store_session *store_session_open(store *st, char *err, size_t errlen)
{
    store_session *ss = calloc(1, sizeof *ss);
    if (!ss) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ss->st = st;
    const store__sql q[] = SESSION_SQL(ss);
    if (store__sqlite_session_schema(st, err, errlen) ||
        store__prepare_all(st, q, sizeof q / sizeof q[0], "session tables", err, errlen)) {
        store_session_free(ss);
        return NULL;
    }
    return ss;
}

void store_session_free(store_session *ss)
{
    if (!ss)
        return;
    const store__sql q[] = SESSION_SQL(ss);
    store__finalize_all(q, sizeof q / sizeof q[0]);
    free(ss);
}

/* The first `cap` bytes of text or fewer, ending on a UTF-8 boundary. */
static int utf8_prefix(const char *text, size_t cap)
{
    size_t n = strlen(text);
    if (n <= cap)
        return (int)n;
    n = cap;
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

int store_session_start(store_session *ss, int64_t user_id, int64_t chat_id, int64_t *id)
{
    sqlite3_stmt *s = store__reset(ss->start);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, chat_id);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)store__now(ss->st));
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : store__fail(ss->st, "session start");
}

static void read_row(sqlite3_stmt *s, store_session_row *r)
{
    const char *t = (const char *)sqlite3_column_text(s, 3);
    const char *sum = (const char *)sqlite3_column_text(s, 8);
    *r = (store_session_row){
        .id = sqlite3_column_int64(s, 0),
        .user_id = sqlite3_column_int64(s, 1),
        .chat_id = sqlite3_column_int64(s, 2),
        .title = t ? t : "",
        .opened = sqlite3_column_int64(s, 4),
        .at = sqlite3_column_int64(s, 5),
        .closed = sqlite3_column_int64(s, 6),
        .turns = sqlite3_column_int(s, 7),
        .summary = sum ? sum : "",
    };
}

int store_session_current(store_session *ss, int64_t user_id, store_session_row *row,
                          char *title)
{
    sqlite3_stmt *s = store__reset(ss->current);
    sqlite3_bind_int64(s, 1, user_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        read_row(s, row);
        snprintf(title, STORE_SESSION_TITLE_MAX + 1, "%s", row->title);
        row->title = title;
        row->summary = "";
    }
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : store__fail(ss->st, "session current");
}

int store_session_add_turn(store_session *ss, int64_t user_id, int64_t id, const char *role,
                           const char *text)
{
    if (!text || !*text)
        return 0;
    sqlite3_int64 now = (sqlite3_int64)store__now(ss->st);
    sqlite3_stmt *s = store__reset(ss->add_turn);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, id);
    sqlite3_bind_text(s, 3, role, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, text, utf8_prefix(text, STORE_SESSION_TEXT_MAX), SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, now);
    if (store__run(ss->st, s, "session turn") < 0)
        return -1;
    /* the title: the first line of the first question */
    size_t line = strcspn(text, "\n");
    int tl = utf8_prefix(text, line < STORE_SESSION_TITLE_MAX ? line : STORE_SESSION_TITLE_MAX);
    s = store__reset(ss->count_turn);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, id);
    sqlite3_bind_int(s, 3, strcmp(role, "user") == 0);
    sqlite3_bind_int64(s, 4, now);
    sqlite3_bind_text(s, 5, text, tl, SQLITE_STATIC);
    if (store__run(ss->st, s, "session count") < 0)
        return -1;
    s = store__reset(ss->prune);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, STORE_SESSION_TURNS_KEEP);
    return store__run(ss->st, s, "session prune") < 0 ? -1 : 0;
}

int store_session_turns(store_session *ss, int64_t user_id, int64_t id, int max,
                        store_session_turn_fn fn, void *ud)
{
    sqlite3_stmt *s = store__reset(ss->turns);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, id);
    sqlite3_bind_int(s, 3, max);
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *role = (const char *)sqlite3_column_text(s, 0);
        const char *text = (const char *)sqlite3_column_text(s, 1);
        if (fn(ud, role ? role : "", text ? text : "")) {
            sqlite3_reset(s);
            return -1;
        }
        n++;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? n : store__fail(ss->st, "session turns");
}

int store_session_close(store_session *ss, int64_t user_id, int64_t id, const char *summary,
                        int64_t at_seen)
{
    sqlite3_stmt *s = store__reset(ss->close);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, id);
    sqlite3_bind_text(s, 3, summary ? summary : "",
                      summary ? utf8_prefix(summary, STORE_SESSION_TEXT_MAX) : 0, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)store__now(ss->st));
    sqlite3_bind_int64(s, 5, at_seen);
    int n = store__run(ss->st, s, "session close");
    return n < 0 ? -1 : n > 0;
}

int store_session_drop(store_session *ss, int64_t user_id, int64_t id)
{
    sqlite3_stmt *s = store__reset(ss->drop_t);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, id);
    if (store__run(ss->st, s, "session drop") < 0)
        return -1;
    s = store__reset(ss->drop_s);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, id);
    return store__run(ss->st, s, "session drop") < 0 ? -1 : 0;
}

int store_session_reopen(store_session *ss, int64_t user_id, int64_t id)
{
    sqlite3_stmt *s = store__reset(ss->reopen);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, id);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)store__now(ss->st));
    int n = store__run(ss->st, s, "session reopen");
    return n < 0 ? -1 : n > 0;
}

static int rows(store_session *ss, sqlite3_stmt *s, store_session_fn fn, void *ud,
                const char *what)
{
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_session_row r;
        read_row(s, &r);
        if (fn(ud, &r)) {
            sqlite3_reset(s);
            return -1;
        }
        n++;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? n : store__fail(ss->st, what);
}

int store_session_list(store_session *ss, int64_t user_id, int max, store_session_fn fn,
                       void *ud)
{
    sqlite3_stmt *s = store__reset(ss->list);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int(s, 2, max);
    return rows(ss, s, fn, ud, "session list");
}

int store_session_idle(store_session *ss, int64_t before, int max, store_session_fn fn,
                       void *ud)
{
    sqlite3_stmt *s = store__reset(ss->idle);
    sqlite3_bind_int64(s, 1, before);
    sqlite3_bind_int(s, 2, max);
    return rows(ss, s, fn, ud, "session idle");
}

int store_session_delete_user(store_session *ss, int64_t user_id)
{
    sqlite3_stmt *s = store__reset(ss->del_t);
    sqlite3_bind_int64(s, 1, user_id);
    if (store__run(ss->st, s, "session delete") < 0)
        return -1;
    s = store__reset(ss->del_s);
    sqlite3_bind_int64(s, 1, user_id);
    return store__run(ss->st, s, "session delete") < 0 ? -1 : 0;
}

int store_session_export(store_session *ss, int64_t user_id, cJSON *arr)
{
    sqlite3_stmt *s = store__reset(ss->export_s);
    sqlite3_bind_int64(s, 1, user_id);
    if (store__json_rows(ss->st, s, arr) < 0)
        return -1;
    cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        cJSON *turns = cJSON_AddArrayToObject(it, "turns_kept");
        if (!cJSON_IsNumber(id) || !turns)
            return -1;
        s = store__reset(ss->export_t);
        sqlite3_bind_int64(s, 1, (sqlite3_int64)id->valuedouble);
        if (store__json_rows(ss->st, s, turns) < 0)
            return -1;
    }
    return 0;
}

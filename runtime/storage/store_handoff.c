/*
 * store_handoff.c — see store_handoff.h.
 */
#include "storage/store_handoff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store_int.h"

struct store_handoff {
    store *st;
    sqlite3_stmt *is_mgr, *add_mgr, *del_mgr, *list_mgr;
    sqlite3_stmt *find_open, *find_thread, *find_id, *insert, *close, *rate, *forget;
    sqlite3_stmt *export_ho, *export_mgr;
    sqlite3_stmt *find_creating, *mark, *mark_thread, *promote, *unmark;
};

#define HO_COLS "id, user_id, chat_id, thread_id, status, opened, COALESCE(closed, 0)," \
                " COALESCE(rating, 0)"

/* The times (opened, closed, added) are bound from the store's clock. */
#define HANDOFF_SQL(t) { \
    {&(t)->is_mgr, "SELECT 1 FROM managers WHERE user_id = ?1"}, \
    {&(t)->add_mgr, "INSERT INTO managers(user_id, name, added) VALUES(?1, ?2, ?3)" \
                    " ON CONFLICT(user_id) DO UPDATE SET name = excluded.name"}, \
    {&(t)->del_mgr, "DELETE FROM managers WHERE user_id = ?1"}, \
    {&(t)->list_mgr, "SELECT user_id, name FROM managers ORDER BY user_id"}, \
    {&(t)->find_open, "SELECT " HO_COLS " FROM handoffs WHERE user_id = ?1" \
                      " AND status = 'open'"}, \
    {&(t)->find_thread, "SELECT " HO_COLS " FROM handoffs WHERE thread_id = ?1" \
                        " AND status = 'open' ORDER BY id DESC LIMIT 1"}, \
    {&(t)->find_id, "SELECT " HO_COLS " FROM handoffs WHERE id = ?1"}, \
    {&(t)->insert, "INSERT INTO handoffs(user_id, chat_id, thread_id, status, opened)" \
                   " VALUES(?1, ?2, ?3, 'open', ?4) RETURNING id"}, \
    {&(t)->close, "UPDATE handoffs SET status = 'closed', closed = ?3, closed_by = ?2" \
                  " WHERE id = ?1 AND status = 'open'"}, \
    {&(t)->rate, "UPDATE handoffs SET rating = ?3 WHERE id = ?1 AND user_id = ?2" \
                 " AND status = 'closed' AND rating IS NULL"}, \
    {&(t)->forget, "DELETE FROM handoffs WHERE user_id = ?1"}, \
    {&(t)->export_ho, "SELECT id, chat_id, thread_id, status, opened, closed, closed_by," \
                      " rating FROM handoffs WHERE user_id = ?1 ORDER BY id"}, \
    {&(t)->export_mgr, "SELECT name, added FROM managers WHERE user_id = ?1"}, \
    {&(t)->find_creating, "SELECT id, thread_id, tries FROM handoffs WHERE user_id = ?1" \
                          " AND status = 'creating'"}, \
    {&(t)->mark, "INSERT INTO handoffs(user_id, chat_id, thread_id, status, opened, tries)" \
                 " VALUES(?1, ?2, 0, 'creating', ?3, 1)" \
                 " ON CONFLICT(user_id) WHERE status = 'creating'" \
                 " DO UPDATE SET tries = handoffs.tries + 1, opened = excluded.opened," \
                 " chat_id = excluded.chat_id"}, \
    {&(t)->mark_thread, "UPDATE handoffs SET thread_id = ?2 WHERE user_id = ?1" \
                        " AND status = 'creating'"}, \
    {&(t)->promote, "UPDATE handoffs SET status = 'open', thread_id = ?2, chat_id = ?3," \
                    " opened = ?4 WHERE id = ?1 AND status = 'creating'"}, \
    {&(t)->unmark, "DELETE FROM handoffs WHERE user_id = ?1 AND status = 'creating'"}, \
}

store_handoff *store_handoff_open(store *st, char *err, size_t errlen)
{
    store_handoff *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->st = st;
    const store__sql q[] = HANDOFF_SQL(t);
    if (store__sqlite_handoff_schema(st, err, errlen) ||
        store__prepare_all(st, q, sizeof q / sizeof q[0], "handoff tables", err, errlen)) {
        store_handoff_free(t);
        return NULL;
    }
    return t;
}

void store_handoff_free(store_handoff *t)
{
    if (!t)
        return;
    const store__sql q[] = HANDOFF_SQL(t);
    store__finalize_all(q, sizeof q / sizeof q[0]);
    free(t);
}

/* Binds a (and b) and runs s: the rows changed, or -1. */
static int run_ids(store_handoff *t, sqlite3_stmt *s, int64_t a, int64_t b, int nb,
                   const char *what)
{
    s = store__reset(s);
    sqlite3_bind_int64(s, 1, a);
    if (nb > 1)
        sqlite3_bind_int64(s, 2, b);
    return store__run(t->st, s, what);
}

/* ---- managers ------------------------------------------------------------ */

int store_handoff_is_manager(store_handoff *t, int64_t user_id)
{
    sqlite3_stmt *s = store__reset(t->is_mgr);
    sqlite3_bind_int64(s, 1, user_id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : store__fail(t->st, "managers");
}

int store_handoff_add_manager(store_handoff *t, int64_t user_id, const char *name)
{
    sqlite3_stmt *s = store__reset(t->add_mgr);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)store__now(t->st));
    return store__run(t->st, s, "add manager") < 0 ? -1 : 0;
}

int store_handoff_del_manager(store_handoff *t, int64_t user_id)
{
    int n = run_ids(t, t->del_mgr, user_id, 0, 1, "delete manager");
    return n < 0 ? -1 : n > 0;
}

int store_handoff_list_managers(store_handoff *t, store_manager_fn fn, void *ud)
{
    sqlite3_stmt *s = store__reset(t->list_mgr);
    int rc, n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 1);
        n++;
        if (fn(ud, sqlite3_column_int64(s, 0), name ? name : "")) {
            sqlite3_reset(s);
            return -1;
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? n : store__fail(t->st, "list managers");
}

/* ---- handoffs ------------------------------------------------------------ */

/* One row of HO_COLS from s (bound by the caller) into *out: 1, 0 none, -1. */
static int one_row(store_handoff *t, sqlite3_stmt *s, store_handoff_row *out)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && out) {
        const char *status = (const char *)sqlite3_column_text(s, 4);
        *out = (store_handoff_row){
            .id = sqlite3_column_int64(s, 0),
            .user_id = sqlite3_column_int64(s, 1),
            .chat_id = sqlite3_column_int64(s, 2),
            .thread_id = sqlite3_column_int64(s, 3),
            .open = status && !strcmp(status, "open"),
            .opened = sqlite3_column_int64(s, 5),
            .closed = sqlite3_column_int64(s, 6),
            .rating = sqlite3_column_int(s, 7),
        };
    }
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : store__fail(t->st, "handoffs");
}

static int find_by(store_handoff *t, sqlite3_stmt *s, int64_t key, store_handoff_row *out)
{
    s = store__reset(s);
    sqlite3_bind_int64(s, 1, key);
    return one_row(t, s, out);
}

int store_handoff_find_open(store_handoff *t, int64_t user_id, store_handoff_row *out)
{
    return find_by(t, t->find_open, user_id, out);
}

int store_handoff_find_thread(store_handoff *t, int64_t thread_id, store_handoff_row *out)
{
    return find_by(t, t->find_thread, thread_id, out);
}

int store_handoff_find_id(store_handoff *t, int64_t id, store_handoff_row *out)
{
    return find_by(t, t->find_id, id, out);
}

int store_handoff_insert(store_handoff *t, int64_t user_id, int64_t chat_id, int64_t thread_id,
                         int64_t *id)
{
    sqlite3_stmt *s = store__reset(t->insert);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, chat_id);
    sqlite3_bind_int64(s, 3, thread_id);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)store__now(t->st));
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && id)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : store__fail(t->st, "open handoff");
}

int store_handoff_close(store_handoff *t, int64_t id, int64_t by)
{
    sqlite3_stmt *s = store__reset(t->close);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, by);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)store__now(t->st));
    int n = store__run(t->st, s, "close handoff");
    return n < 0 ? -1 : n > 0;
}

int store_handoff_rate(store_handoff *t, int64_t id, int64_t user_id, int rating)
{
    sqlite3_stmt *s = store__reset(t->rate);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, user_id);
    sqlite3_bind_int(s, 3, rating);
    int n = store__run(t->st, s, "rate handoff");
    return n < 0 ? -1 : n > 0;
}

int store_handoff_forget(store_handoff *t, int64_t user_id)
{
    return run_ids(t, t->forget, user_id, 0, 1, "forget handoffs") < 0 ? -1 : 0;
}

int store_handoff_export(store_handoff *t, int64_t user_id, struct cJSON *handoffs,
                         struct cJSON *manager)
{
    sqlite3_stmt *s = store__reset(t->export_ho);
    sqlite3_bind_int64(s, 1, user_id);
    if (store__json_rows(t->st, s, handoffs) < 0)
        return -1;
    s = store__reset(t->export_mgr);
    sqlite3_bind_int64(s, 1, user_id);
    return store__json_rows(t->st, s, manager) < 0 ? -1 : 0;
}

/* ---- topics being created ------------------------------------------------ */

int store_handoff_find_creating(store_handoff *t, int64_t user_id, store_handoff_creating *out)
{
    sqlite3_stmt *s = store__reset(t->find_creating);
    sqlite3_bind_int64(s, 1, user_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = (store_handoff_creating){.id = sqlite3_column_int64(s, 0),
                                        .thread_id = sqlite3_column_int64(s, 1),
                                        .tries = sqlite3_column_int(s, 2)};
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : store__fail(t->st, "handoffs");
}

int store_handoff_mark_creating(store_handoff *t, int64_t user_id, int64_t chat_id)
{
    sqlite3_stmt *s = store__reset(t->mark);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, chat_id);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)store__now(t->st));
    return store__run(t->st, s, "topic mark") < 0 ? -1 : 0;
}

int store_handoff_mark_thread(store_handoff *t, int64_t user_id, int64_t thread_id)
{
    return run_ids(t, t->mark_thread, user_id, thread_id, 2, "topic mark") < 0 ? -1 : 0;
}

int store_handoff_promote(store_handoff *t, int64_t id, int64_t thread_id, int64_t chat_id)
{
    sqlite3_stmt *s = store__reset(t->promote);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, thread_id);
    sqlite3_bind_int64(s, 3, chat_id);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)store__now(t->st));
    return store__run(t->st, s, "open handoff") < 0 ? -1 : 0;
}

int store_handoff_unmark(store_handoff *t, int64_t user_id)
{
    return run_ids(t, t->unmark, user_id, 0, 1, "unmark topic") < 0 ? -1 : 0;
}

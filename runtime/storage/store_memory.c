/*
 * store_memory.c — see store_memory.h.
 */
#include "storage/store_memory.h"

#include <stdio.h>
#include <stdlib.h>

#include "storage/store_int.h"

struct store_memory {
    store *st;
    sqlite3_stmt *add, *trim, *each, *get, *forget, *count, *del, *export;
    sqlite3_stmt *forget_summary_vecs, *forget_summary;
    sqlite3_stmt *put_vec, *vecs, *has_vecs, *del_vecs, *export_vecs, *unembedded;
};

/* Every statement but add names user_id in its WHERE: the index
 * memory_user (user_id, id) reads the user's rows alone. */
#define MEMORY_SQL(m) { \
    {&(m)->add, "INSERT INTO memory_items(user_id, kind, text, terms, session_id, at)" \
                " VALUES(?1, ?2, ?3, ?4, ?5, ?6) RETURNING id"}, \
    {&(m)->trim, "DELETE FROM memory_items WHERE user_id = ?1 AND id <" \
                 " (SELECT min(id) FROM (SELECT id FROM memory_items WHERE user_id = ?1" \
                 " ORDER BY id DESC LIMIT ?2))"}, \
    {&(m)->each, "SELECT id, kind, text, terms, at FROM memory_items WHERE user_id = ?1" \
                 " ORDER BY id DESC LIMIT ?2"}, \
    {&(m)->get, "SELECT id, kind, text, '', at FROM memory_items WHERE user_id = ?1 AND id = ?2"}, \
    {&(m)->forget, "DELETE FROM memory_items WHERE user_id = ?1 AND id = ?2"}, \
    {&(m)->forget_summary_vecs, "DELETE FROM memory_vectors WHERE user_id = ?1 AND item_id IN" \
                                " (SELECT id FROM memory_items WHERE user_id = ?1" \
                                " AND session_id = ?2 AND kind = 'summary')"}, \
    {&(m)->forget_summary, "DELETE FROM memory_items WHERE user_id = ?1 AND session_id = ?2" \
                           " AND kind = 'summary'"}, \
    {&(m)->count, "SELECT count(*) FROM memory_items WHERE user_id = ?1"}, \
    {&(m)->del, "DELETE FROM memory_items WHERE user_id = ?1"}, \
    {&(m)->export, "SELECT id, kind, text, session_id, at FROM memory_items WHERE user_id = ?1" \
                   " ORDER BY id"}, \
    {&(m)->put_vec, "INSERT OR REPLACE INTO memory_vectors(item_id, user_id, model, dims, vec, at)" \
                    " SELECT id, user_id, ?3, ?4, ?5, ?6 FROM memory_items" \
                    " WHERE user_id = ?1 AND id = ?2"}, \
    {&(m)->vecs, "SELECT item_id, dims, vec FROM memory_vectors WHERE user_id = ?1 AND model = ?2"}, \
    {&(m)->has_vecs, "SELECT 1 FROM memory_vectors WHERE user_id = ?1 AND model = ?2 LIMIT 1"}, \
    {&(m)->del_vecs, "DELETE FROM memory_vectors WHERE user_id = ?1"}, \
    {&(m)->export_vecs, "SELECT item_id, model, dims, at FROM memory_vectors WHERE user_id = ?1" \
                        " ORDER BY item_id"}, \
    {&(m)->unembedded, "SELECT id, user_id, text FROM memory_items i WHERE id > ?2 AND NOT EXISTS" \
                       " (SELECT 1 FROM memory_vectors v WHERE v.item_id = i.id AND v.model = ?1)" \
                       " ORDER BY id LIMIT ?3"}, \
}

store_memory *store_memory_open(store *st, char *err, size_t errlen)
{
    store_memory *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->st = st;
    const store__sql q[] = MEMORY_SQL(m);
    if (store__sqlite_memory_schema(st, err, errlen) ||
        store__prepare_all(st, q, sizeof q / sizeof q[0], "memory table", err, errlen)) {
        store_memory_free(m);
        return NULL;
    }
    return m;
}

void store_memory_free(store_memory *m)
{
    if (!m)
        return;
    const store__sql q[] = MEMORY_SQL(m);
    store__finalize_all(q, sizeof q / sizeof q[0]);
    free(m);
}

int store_memory_add(store_memory *m, int64_t user_id, const char *kind, const char *text,
                     const char *terms, int64_t session_id, int64_t *id)
{
    sqlite3_stmt *s = store__reset(m->add);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, text, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, terms, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, session_id);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)store__now(m->st));
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && id)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : store__fail(m->st, "memory add");
}

int store_memory_trim(store_memory *m, int64_t user_id, int keep)
{
    sqlite3_stmt *s = store__reset(m->trim);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int(s, 2, keep);
    return store__run(m->st, s, "memory trim");
}

/* Steps s (bound), each row to fn. The number of rows, -1. */
static int rows(store_memory *m, sqlite3_stmt *s, store_memory_fn fn, void *ud, const char *what)
{
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(s, 1);
        const char *text = (const char *)sqlite3_column_text(s, 2);
        const char *terms = (const char *)sqlite3_column_text(s, 3);
        n++;
        if (fn(ud, sqlite3_column_int64(s, 0), kind ? kind : "", text ? text : "",
               terms ? terms : "", sqlite3_column_int64(s, 4))) {
            sqlite3_reset(s);
            return -1;
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? n : store__fail(m->st, what);
}

int store_memory_each(store_memory *m, int64_t user_id, int limit, store_memory_fn fn, void *ud)
{
    sqlite3_stmt *s = store__reset(m->each);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int(s, 2, limit);
    return rows(m, s, fn, ud, "memory read");
}

int store_memory_get(store_memory *m, int64_t user_id, int64_t id, store_memory_fn fn, void *ud)
{
    sqlite3_stmt *s = store__reset(m->get);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, id);
    return rows(m, s, fn, ud, "memory get");
}

int store_memory_forget(store_memory *m, int64_t user_id, int64_t id)
{
    sqlite3_stmt *s = store__reset(m->forget);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, id);
    int n = store__run(m->st, s, "memory forget");
    return n < 0 ? -1 : n > 0;
}

int store_memory_forget_summary(store_memory *m, int64_t user_id, int64_t session_id)
{
    /* its vectors first, by name: none is left whatever the connection's
     * foreign_keys says (as store_memory_delete_user) */
    sqlite3_stmt *s = store__reset(m->forget_summary_vecs);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, session_id);
    if (store__run(m->st, s, "memory summary vectors forget") < 0)
        return -1;
    s = store__reset(m->forget_summary);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, session_id);
    return store__run(m->st, s, "memory summary forget");
}

long store_memory_count(store_memory *m, int64_t user_id)
{
    sqlite3_stmt *s = store__reset(m->count);
    sqlite3_bind_int64(s, 1, user_id);
    long n = sqlite3_step(s) == SQLITE_ROW ? (long)sqlite3_column_int64(s, 0) : -1;
    sqlite3_reset(s);
    return n < 0 ? store__fail(m->st, "memory count") : n;
}

int store_memory_delete_user(store_memory *m, int64_t user_id)
{
    /* the vectors go with their items (ON DELETE CASCADE); by user too, so
     * that none is left whatever the connection's foreign_keys says */
    sqlite3_stmt *s = store__reset(m->del_vecs);
    sqlite3_bind_int64(s, 1, user_id);
    if (store__run(m->st, s, "memory vectors delete") < 0)
        return -1;
    s = store__reset(m->del);
    sqlite3_bind_int64(s, 1, user_id);
    return store__run(m->st, s, "memory delete");
}

int store_memory_export(store_memory *m, int64_t user_id, struct cJSON *arr, struct cJSON *vecs)
{
    sqlite3_stmt *s = store__reset(m->export);
    sqlite3_bind_int64(s, 1, user_id);
    if (store__json_rows(m->st, s, arr) < 0)
        return -1;
    s = store__reset(m->export_vecs);
    sqlite3_bind_int64(s, 1, user_id);
    return store__json_rows(m->st, s, vecs) < 0 ? -1 : 0;
}

int store_memory_put_vec(store_memory *m, int64_t user_id, int64_t item_id, const char *model,
                         const float *vec, int dims)
{
    sqlite3_stmt *s = store__reset(m->put_vec);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, item_id);
    sqlite3_bind_text(s, 3, model, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, dims);
    sqlite3_bind_blob(s, 5, vec, dims * (int)sizeof(float), SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)store__now(m->st));
    return store__run(m->st, s, "memory vector") < 0 ? -1 : 0;
}

int store_memory_vecs(store_memory *m, int64_t user_id, const char *model, store_memory_vec_fn fn,
                      void *ud)
{
    sqlite3_stmt *s = store__reset(m->vecs);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_text(s, 2, model, -1, SQLITE_STATIC);
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int dims = sqlite3_column_int(s, 1);
        const void *blob = sqlite3_column_blob(s, 2);
        int bytes = sqlite3_column_bytes(s, 2);
        if (dims <= 0 || !blob || bytes != dims * (int)sizeof(float))
            continue; /* not a vector this build wrote */
        n++;
        if (fn(ud, sqlite3_column_int64(s, 0), blob, dims)) {
            sqlite3_reset(s);
            return -1;
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? n : store__fail(m->st, "memory vectors");
}

int store_memory_has_vecs(store_memory *m, int64_t user_id, const char *model)
{
    sqlite3_stmt *s = store__reset(m->has_vecs);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_text(s, 2, model, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store__fail(m->st, "memory vectors");
}

int store_memory_unembedded(store_memory *m, const char *model, int64_t after_id, int limit,
                            store_memory_text_fn fn, void *ud)
{
    sqlite3_stmt *s = store__reset(m->unembedded);
    sqlite3_bind_text(s, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, after_id);
    sqlite3_bind_int(s, 3, limit);
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(s, 2);
        n++;
        if (fn(ud, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), text ? text : "")) {
            sqlite3_reset(s);
            return -1;
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? n : store__fail(m->st, "memory to embed");
}

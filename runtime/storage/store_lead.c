/*
 * store_lead.c — see store_lead.h.
 */
#include "storage/store_lead.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store_int.h"

struct store_lead {
    store *st;
    sqlite3_stmt *add, *next, *posted, *set_thread, *unmark, *count;
    sqlite3_stmt *topic_get, *topic_put, *topic_unmark, *forget, *export;
};

#define LEAD_SQL(t) { \
    {&(t)->add, "INSERT INTO leads(user_id, form, text, created) VALUES(?1, ?2, ?3, ?4)"}, \
    {&(t)->next, "SELECT id, form, text, thread_id, user_id FROM leads WHERE posted = 0" \
                 " ORDER BY id LIMIT 1"}, \
    {&(t)->posted, "UPDATE leads SET posted = 1, thread_id = ?2 WHERE id = ?1"}, \
    {&(t)->set_thread, "UPDATE leads SET thread_id = ?2 WHERE id = ?1"}, \
    {&(t)->unmark, "UPDATE leads SET thread_id = NULL WHERE id = ?1 AND thread_id = ?2"}, \
    {&(t)->count, "SELECT count(*) FROM leads WHERE posted = 0"}, \
    {&(t)->topic_get, "SELECT thread_id FROM lead_topics WHERE chat_id = ?1 AND name = ?2"}, \
    {&(t)->topic_put, "INSERT INTO lead_topics(chat_id, name, thread_id) VALUES(?1, ?2, ?3)" \
                      " ON CONFLICT(chat_id, name) DO UPDATE SET thread_id = excluded.thread_id"}, \
    {&(t)->topic_unmark, "DELETE FROM lead_topics WHERE chat_id = ?1 AND name = ?2" \
                         " AND thread_id = ?3"}, \
    {&(t)->forget, "DELETE FROM leads WHERE user_id = ?1"}, \
    {&(t)->export, "SELECT id, form, text, thread_id, posted, created FROM leads" \
                   " WHERE user_id = ?1 ORDER BY id"}, \
}

store_lead *store_lead_open(store *st, int64_t group, char *err, size_t errlen)
{
    store_lead *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->st = st;
    const store__sql q[] = LEAD_SQL(t);
    if (store__sqlite_lead_schema(st, group, err, errlen) ||
        store__prepare_all(st, q, sizeof q / sizeof q[0], "lead tables", err, errlen)) {
        store_lead_free(t);
        return NULL;
    }
    return t;
}

void store_lead_free(store_lead *t)
{
    if (!t)
        return;
    const store__sql q[] = LEAD_SQL(t);
    store__finalize_all(q, sizeof q / sizeof q[0]);
    free(t);
}

int store_lead_add(store_lead *t, int64_t user_id, const char *form, const char *text)
{
    sqlite3_stmt *s = store__reset(t->add);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_text(s, 2, form, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, text, -1, SQLITE_TRANSIENT);
    store__now(t->st);
    sqlite3_bind_text(s, 4, t->st->now_iso, -1, SQLITE_TRANSIENT);
    return store__run(t->st, s, "lead add") < 0 ? -1 : 0;
}

int store_lead_next(store_lead *t, store_lead_row *out)
{
    sqlite3_stmt *s = store__reset(t->next);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *form = (const char *)sqlite3_column_text(s, 1);
        const char *text = (const char *)sqlite3_column_text(s, 2);
        *out = (store_lead_row){
            .id = sqlite3_column_int64(s, 0),
            .user_id = sqlite3_column_int64(s, 4),
            .form = strdup(form ? form : ""),
            .text = strdup(text ? text : ""),
            .thread_id = sqlite3_column_type(s, 3) == SQLITE_NULL ? 0
                                                                   : sqlite3_column_int64(s, 3),
        };
    }
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) {
        if (out->form && out->text)
            return 1;
        free(out->form);
        free(out->text);
        return -1;
    }
    return rc == SQLITE_DONE ? 0 : store__fail(t->st, "lead next");
}

int store_lead_pending(store_lead *t)
{
    sqlite3_stmt *s = store__reset(t->count);
    int rc = sqlite3_step(s);
    int n = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sqlite3_reset(s);
    return n < 0 ? store__fail(t->st, "leads pending") : n;
}

/* Binds id and v and runs s. 0 or -1. */
static int run_id(store_lead *t, sqlite3_stmt *s, int64_t id, int64_t v, const char *what)
{
    s = store__reset(s);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, v);
    return store__run(t->st, s, what) < 0 ? -1 : 0;
}

int store_lead_posted(store_lead *t, int64_t id, int64_t thread_id)
{
    return run_id(t, t->posted, id, thread_id, "lead posted");
}

int store_lead_set_thread(store_lead *t, int64_t id, int64_t thread_id)
{
    return run_id(t, t->set_thread, id, thread_id, "lead thread");
}

int store_lead_unmark(store_lead *t, int64_t id, int64_t mark)
{
    return run_id(t, t->unmark, id, mark, "lead unmark");
}

int store_lead_topic_get(store_lead *t, int64_t chat_id, const char *name, int64_t *thread_id)
{
    sqlite3_stmt *s = store__reset(t->topic_get);
    sqlite3_bind_int64(s, 1, chat_id);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *thread_id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : store__fail(t->st, "lead topic");
}

/* Binds (chat_id, name, v) and runs s. 0 or -1. */
static int run_topic(store_lead *t, sqlite3_stmt *s, int64_t chat_id, const char *name,
                     int64_t v, const char *what)
{
    s = store__reset(s);
    sqlite3_bind_int64(s, 1, chat_id);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, v);
    return store__run(t->st, s, what) < 0 ? -1 : 0;
}

int store_lead_topic_put(store_lead *t, int64_t chat_id, const char *name, int64_t thread_id)
{
    return run_topic(t, t->topic_put, chat_id, name, thread_id, "lead topic put");
}

int store_lead_topic_unmark(store_lead *t, int64_t chat_id, const char *name, int64_t mark)
{
    return run_topic(t, t->topic_unmark, chat_id, name, mark, "lead topic unmark");
}

int store_lead_forget(store_lead *t, int64_t user_id)
{
    sqlite3_stmt *s = store__reset(t->forget);
    sqlite3_bind_int64(s, 1, user_id);
    return store__run(t->st, s, "forget leads") < 0 ? -1 : 0;
}

int store_lead_export(store_lead *t, int64_t user_id, struct cJSON *arr)
{
    sqlite3_stmt *s = store__reset(t->export);
    sqlite3_bind_int64(s, 1, user_id);
    return store__json_rows(t->st, s, arr) < 0 ? -1 : 0;
}

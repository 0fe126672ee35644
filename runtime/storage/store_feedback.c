/*
 * store_feedback.c — see store_feedback.h.
 */
#include "storage/store_feedback.h"

#include <stdio.h>
#include <stdlib.h>

#include "storage/store_int.h"

struct store_feedback {
    store *st;
    sqlite3_stmt *add, *prune, *owner, *vote, *del_a, *del_v, *export_a, *export_v;
};

#define FEEDBACK_SQL(f) { \
    {&(f)->add, "INSERT INTO ai_answers(user_id, chat_id, at) VALUES(?1, ?2, ?3)" \
                " RETURNING id"}, \
    {&(f)->prune, "DELETE FROM ai_answers WHERE at < ?1"}, \
    {&(f)->owner, "SELECT user_id FROM ai_answers WHERE id = ?1"}, \
    {&(f)->vote, "INSERT INTO votes(answer_id, user_id, chat_id, message_id, vote, at)" \
                 " VALUES(?1, ?2, ?3, ?4, ?5, ?6)" \
                 " ON CONFLICT(answer_id) DO NOTHING"}, \
    {&(f)->del_a, "DELETE FROM ai_answers WHERE user_id = ?1"}, \
    {&(f)->del_v, "DELETE FROM votes WHERE user_id = ?1"}, \
    {&(f)->export_a, "SELECT id, chat_id, at FROM ai_answers WHERE user_id = ?1 ORDER BY id"}, \
    {&(f)->export_v, "SELECT answer_id, chat_id, message_id, vote, at FROM votes" \
                     " WHERE user_id = ?1 ORDER BY answer_id"}, \
}

store_feedback *store_feedback_open(store *st, char *err, size_t errlen)
{
    store_feedback *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->st = st;
    const store__sql q[] = FEEDBACK_SQL(f);
    if (store__sqlite_feedback_schema(st, err, errlen) ||
        store__prepare_all(st, q, sizeof q / sizeof q[0], "feedback tables", err, errlen)) {
        store_feedback_free(f);
        return NULL;
    }
    return f;
}

void store_feedback_free(store_feedback *f)
{
    if (!f)
        return;
    const store__sql q[] = FEEDBACK_SQL(f);
    store__finalize_all(q, sizeof q / sizeof q[0]);
    free(f);
}

int store_feedback_add_answer(store_feedback *f, int64_t user_id, int64_t chat_id, int64_t *id)
{
    sqlite3_stmt *s = store__reset(f->add);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int64(s, 2, chat_id);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)store__now(f->st));
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : store__fail(f->st, "feedback answer");
}

int store_feedback_prune(store_feedback *f, int64_t keep_s)
{
    sqlite3_stmt *s = store__reset(f->prune);
    sqlite3_bind_int64(s, 1, (sqlite3_int64)store__now(f->st) - keep_s);
    return store__run(f->st, s, "feedback prune") < 0 ? -1 : 0;
}

int store_feedback_owner(store_feedback *f, int64_t id, int64_t *user_id)
{
    sqlite3_stmt *s = store__reset(f->owner);
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *user_id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : store__fail(f->st, "feedback owner");
}

int store_feedback_vote(store_feedback *f, int64_t answer_id, int64_t user_id, int64_t chat_id,
                        int64_t message_id, const char *vote)
{
    sqlite3_stmt *s = store__reset(f->vote);
    sqlite3_bind_int64(s, 1, answer_id);
    sqlite3_bind_int64(s, 2, user_id);
    sqlite3_bind_int64(s, 3, chat_id);
    sqlite3_bind_int64(s, 4, message_id);
    sqlite3_bind_text(s, 5, vote, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)store__now(f->st));
    int n = store__run(f->st, s, "feedback vote");
    return n < 0 ? -1 : n > 0;
}

int store_feedback_delete_user(store_feedback *f, int64_t user_id)
{
    sqlite3_stmt *s = store__reset(f->del_a);
    sqlite3_bind_int64(s, 1, user_id);
    if (store__run(f->st, s, "feedback delete") < 0)
        return -1;
    s = store__reset(f->del_v);
    sqlite3_bind_int64(s, 1, user_id);
    return store__run(f->st, s, "feedback delete") < 0 ? -1 : 0;
}

int store_feedback_export(store_feedback *f, int64_t user_id, struct cJSON *answers,
                          struct cJSON *votes)
{
    sqlite3_stmt *s = store__reset(f->export_a);
    sqlite3_bind_int64(s, 1, user_id);
    if (store__json_rows(f->st, s, answers) < 0)
        return -1;
    s = store__reset(f->export_v);
    sqlite3_bind_int64(s, 1, user_id);
    return store__json_rows(f->st, s, votes) < 0 ? -1 : 0;
}

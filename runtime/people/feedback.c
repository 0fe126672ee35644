/*
 * feedback.c — see feedback.h.
 */
#include "people/feedback.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/log.h"

#define FB_KEEP_ANSWERS_S (90L * 86400) /* older answers' buttons stop counting */

struct fb {
    store *st;
    sqlite3 *db;
    sqlite3_stmt *add, *prune, *owner, *vote, *del_a, *del_v;
};

fb *fb_open(store *st, char *err, size_t errlen)
{
    fb *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->st = st;
    f->db = store_sqlite(st);
    static const char ddl[] =
        "CREATE TABLE IF NOT EXISTS ai_answers(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,"
        " chat_id INTEGER NOT NULL, at INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS votes(answer_id INTEGER PRIMARY KEY,"
        " user_id INTEGER NOT NULL, chat_id INTEGER NOT NULL, message_id INTEGER NOT NULL,"
        " vote TEXT NOT NULL, at INTEGER NOT NULL);";
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } q[] = {
        {&f->add, "INSERT INTO ai_answers(user_id, chat_id, at)"
                  " VALUES(?1, ?2, CAST(strftime('%s','now') AS INTEGER))"},
        {&f->prune, "DELETE FROM ai_answers WHERE at < CAST(strftime('%s','now') AS INTEGER) - ?1"},
        {&f->owner, "SELECT user_id FROM ai_answers WHERE id = ?1"},
        {&f->vote, "INSERT INTO votes(answer_id, user_id, chat_id, message_id, vote, at)"
                   " VALUES(?1, ?2, ?3, ?4, ?5, CAST(strftime('%s','now') AS INTEGER))"
                   " ON CONFLICT(answer_id) DO UPDATE SET vote = ?5, message_id = ?4,"
                   " at = CAST(strftime('%s','now') AS INTEGER)"},
        {&f->del_a, "DELETE FROM ai_answers WHERE user_id = ?1"},
        {&f->del_v, "DELETE FROM votes WHERE user_id = ?1"},
    };
    int ok = sqlite3_exec(f->db, ddl, NULL, NULL, NULL) == SQLITE_OK;
    for (size_t i = 0; ok && i < sizeof q / sizeof q[0]; i++)
        ok = sqlite3_prepare_v2(f->db, q[i].sql, -1, q[i].st, NULL) == SQLITE_OK;
    if (!ok) {
        snprintf(err, errlen, "feedback tables: %s", sqlite3_errmsg(f->db));
        fb_free(f);
        return NULL;
    }
    return f;
}

void fb_free(fb *f)
{
    if (!f)
        return;
    sqlite3_finalize(f->add);
    sqlite3_finalize(f->prune);
    sqlite3_finalize(f->owner);
    sqlite3_finalize(f->vote);
    sqlite3_finalize(f->del_a);
    sqlite3_finalize(f->del_v);
    free(f);
}

/* Steps a statement that returns no row; resets it. 0 or -1 (logged). */
static int run(fb *f, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        log_error("feedback", "%s", sqlite3_errmsg(f->db));
        return -1;
    }
    return 0;
}

int fb_attach(fb *f, const bm_machine *m, const bm_session *s, const bm_user *u, bm_effect *e)
{
    if (e->kind != BM_FX_SEND || e->markup.kind != BM_MK_NONE)
        return 0;
    sqlite3_bind_int64(f->add, 1, s->user_id);
    sqlite3_bind_int64(f->add, 2, e->chat_id);
    if (run(f, f->add))
        return -1;
    int64_t id = sqlite3_last_insert_rowid(f->db);
    sqlite3_bind_int64(f->prune, 1, FB_KEEP_ANSWERS_S);
    run(f, f->prune);

    char dh[48], dop[48];
    snprintf(dh, sizeof dh, FB_CB_PREFIX "%" PRId64 ":h", id);
    snprintf(dop, sizeof dop, FB_CB_PREFIX "%" PRId64 ":o", id);
    int *row_len = malloc(sizeof *row_len);
    bm_button_out *btn = calloc(2, sizeof *btn);
    char *l0 = bm_render(m, s, u, m->sys_texts[BM_SYS_HELPED], "");
    char *l1 = bm_render(m, s, u, m->sys_texts[BM_SYS_OPERATOR], "");
    char *d0 = strdup(dh), *d1 = strdup(dop);
    if (!row_len || !btn || !l0 || !l1 || !d0 || !d1) {
        free(row_len);
        free(btn);
        free(l0);
        free(l1);
        free(d0);
        free(d1);
        return -1;
    }
    row_len[0] = 2;
    btn[0] = (bm_button_out){.label = l0, .data = d0, .kind = BM_BTN_CALLBACK};
    btn[1] = (bm_button_out){.label = l1, .data = d1, .kind = BM_BTN_CALLBACK};
    e->markup = (bm_markup){.kind = BM_MK_INLINE, .n_rows = 1, .row_len = row_len,
                            .n_buttons = 2, .buttons = btn};
    return 0;
}

int fb_press(fb *f, const bm_input *in)
{
    size_t pl = strlen(FB_CB_PREFIX);
    if (in->kind != BM_IN_CALLBACK || !in->text || strncmp(in->text, FB_CB_PREFIX, pl))
        return FB_NOT_MINE;
    char *end;
    long long id = strtoll(in->text + pl, &end, 10);
    const char *vote = !strcmp(end, ":h") ? "helped" : !strcmp(end, ":o") ? "operator" : NULL;
    if (id <= 0 || !vote) {
        log_info("feedback", "user %" PRId64 ": malformed feedback data ignored", in->user.id);
        return FB_IGNORED;
    }
    sqlite3_bind_int64(f->owner, 1, id);
    int rc = sqlite3_step(f->owner);
    int64_t owner = rc == SQLITE_ROW ? sqlite3_column_int64(f->owner, 0) : 0;
    sqlite3_reset(f->owner);
    sqlite3_clear_bindings(f->owner);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        log_error("feedback", "%s", sqlite3_errmsg(f->db));
        return -1;
    }
    if (!owner || owner != in->user.id) {
        /* someone else's answer (a group), a forged id, or a pruned one */
        log_info("feedback", "user %" PRId64 " pressed feedback on answer %lld %s; ignored",
                 in->user.id, id, owner ? "of another user" : "that is not known");
        return FB_IGNORED;
    }
    sqlite3_bind_int64(f->vote, 1, id);
    sqlite3_bind_int64(f->vote, 2, in->user.id);
    sqlite3_bind_int64(f->vote, 3, in->user.chat_id);
    sqlite3_bind_int64(f->vote, 4, in->message_id);
    sqlite3_bind_text(f->vote, 5, vote, -1, SQLITE_STATIC);
    if (run(f, f->vote))
        return -1;
    log_info("feedback", "user %" PRId64 ": answer %lld voted '%s'", in->user.id, id, vote);
    return vote[0] == 'h' ? FB_HELPED : FB_OPERATOR;
}

int fb_delete_user(fb *f, int64_t user_id)
{
    if (!f)
        return 0;
    sqlite3_bind_int64(f->del_a, 1, user_id);
    if (run(f, f->del_a))
        return -1;
    sqlite3_bind_int64(f->del_v, 1, user_id);
    return run(f, f->del_v);
}

int fb_export_user(fb *f, int64_t user_id, cJSON *root)
{
    if (!f)
        return 0;
    cJSON *a = cJSON_AddArrayToObject(root, "ai_answers");
    cJSON *v = cJSON_AddArrayToObject(root, "votes");
    if (!a || !v ||
        store_json_rows(f->st, "SELECT id, chat_id, at FROM ai_answers WHERE user_id = ?1"
                               " ORDER BY id", user_id, a) < 0 ||
        store_json_rows(f->st, "SELECT answer_id, chat_id, message_id, vote, at FROM votes"
                               " WHERE user_id = ?1 ORDER BY answer_id", user_id, v) < 0)
        return -1;
    return 0;
}

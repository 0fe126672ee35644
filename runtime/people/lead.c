/*
 * lead.c — see lead.h.
 */
#include "people/lead.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "people/handoff.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"

#define LEAD_TEXT_MAX 4096     /* UTF-16 units: one Telegram message */
#define LEAD_TOPIC_MAX 128     /* createForumTopic name */
#define LEAD_BATCH 16          /* leads posted per pump */
#define LEAD_RETRY_MIN_MS 2000
#define LEAD_RETRY_MAX_MS 300000
#define LEAD_NO_TOPICS_MS 3600000 /* after a group refused a topic, ask again in an hour */
/* leads.thread_id / lead_topics.thread_id while createForumTopic is out:
 * written before the call, replaced by its answer. Seen at the next pump it
 * means the bot stopped meanwhile, and the topic may exist already. */
#define LEAD_CREATING (-2)

struct lead_book {
    store *st;
    sqlite3 *db;
    const bm_machine *m;
    int64_t group;
    sqlite3_stmt *add, *next, *posted, *set_thread, *topic_get, *topic_put, *count;
    sqlite3_stmt *unmark, *topic_unmark;
    bool dirty;          /* a lead may be waiting: look */
    bool busy;           /* a createForumTopic is in flight */
    int64_t busy_lead;   /* the lead it is for */
    char *busy_name;     /* the named topic it creates, NULL for a per-lead one */
    long not_before;     /* ms (monotonic): wait after a failure */
    long retry_ms;
    long no_topics_until; /* ms (monotonic): the group refused topics; post plain till then */
};

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A named topic belongs to one group: a thread id means nothing in another
 * chat. Databases from before the chat_id column keep their topics, as the
 * current group's (the one they were made in, unless it changed meanwhile). */
static int migrate_topics(lead_book *lb)
{
    sqlite3_stmt *st = NULL;
    int old = 0, cols = 0;
    if (sqlite3_prepare_v2(lb->db, "SELECT name FROM pragma_table_info('lead_topics')", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        cols++;
        old |= !strcmp((const char *)sqlite3_column_text(st, 0), "chat_id");
    }
    sqlite3_finalize(st);
    if (cols == 0 || old)
        return 0; /* no table yet, or already with chat_id */
    char sql[512];
    snprintf(sql, sizeof sql,
             "BEGIN;"
             "CREATE TABLE lead_topics_new(chat_id INTEGER NOT NULL, name TEXT NOT NULL,"
             " thread_id INTEGER NOT NULL, PRIMARY KEY(chat_id, name));"
             "INSERT INTO lead_topics_new SELECT %" PRId64 ", name, thread_id FROM lead_topics;"
             "DROP TABLE lead_topics;"
             "ALTER TABLE lead_topics_new RENAME TO lead_topics;"
             "COMMIT;", lb->group);
    if (sqlite3_exec(lb->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(lb->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    log_info("lead", "lead_topics: named topics now belong to a group (%" PRId64 ")", lb->group);
    return 0;
}

lead_book *lead_open(store *st, const bm_machine *m, int64_t group_chat_id, char *err,
                     size_t errlen)
{
    lead_book *lb = calloc(1, sizeof *lb);
    if (!lb) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    lb->st = st;
    lb->db = store_sqlite(st);
    lb->m = m;
    lb->group = group_chat_id;
    lb->dirty = true;
    static const char ddl[] =
        "CREATE TABLE IF NOT EXISTS leads(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,"
        " form TEXT NOT NULL, text TEXT NOT NULL, thread_id INTEGER, posted INTEGER NOT NULL"
        " DEFAULT 0, created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')));"
        "CREATE TABLE IF NOT EXISTS lead_topics(chat_id INTEGER NOT NULL, name TEXT NOT NULL,"
        " thread_id INTEGER NOT NULL, PRIMARY KEY(chat_id, name));";
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } q[] = {
        {&lb->add, "INSERT INTO leads(user_id, form, text) VALUES(?1, ?2, ?3)"},
        {&lb->next, "SELECT id, form, text, thread_id, user_id FROM leads WHERE posted = 0"
                    " ORDER BY id LIMIT 1"},
        /* where it went: its topic, or -1 for the group itself */
        {&lb->posted, "UPDATE leads SET posted = 1, thread_id = ?2 WHERE id = ?1"},
        {&lb->set_thread, "UPDATE leads SET thread_id = ?2 WHERE id = ?1"},
        {&lb->topic_get, "SELECT thread_id FROM lead_topics WHERE chat_id = ?2 AND name = ?1"},
        {&lb->topic_put, "INSERT OR REPLACE INTO lead_topics(chat_id, name, thread_id)"
                         " VALUES(?3, ?1, ?2)"},
        {&lb->count, "SELECT count(*) FROM leads WHERE posted = 0"},
        /* a topic mark taken back: Telegram did not make that topic */
        {&lb->unmark, "UPDATE leads SET thread_id = NULL WHERE id = ?1 AND thread_id = -2"},
        {&lb->topic_unmark, "DELETE FROM lead_topics WHERE chat_id = ?2 AND name = ?1"
                            " AND thread_id = -2"},
    };
    int ok = migrate_topics(lb) == 0 && sqlite3_exec(lb->db, ddl, NULL, NULL, NULL) == SQLITE_OK;
    for (size_t i = 0; ok && i < sizeof q / sizeof q[0]; i++)
        ok = sqlite3_prepare_v2(lb->db, q[i].sql, -1, q[i].st, NULL) == SQLITE_OK;
    if (!ok) {
        snprintf(err, errlen, "lead tables: %s", sqlite3_errmsg(lb->db));
        lead_free(lb);
        return NULL;
    }
    return lb;
}

void lead_free(lead_book *lb)
{
    if (!lb)
        return;
    sqlite3_stmt *v[] = {lb->add, lb->next, lb->posted, lb->set_thread,
                         lb->topic_get, lb->topic_put, lb->count, lb->unmark, lb->topic_unmark};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        sqlite3_finalize(v[i]);
    free(lb->busy_name);
    free(lb);
}

int64_t lead_group_from_env(void)
{
    const char *v = getenv("MANAGER_GROUP_CHAT_ID");
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n == 0) {
        log_warn("lead", "MANAGER_GROUP_CHAT_ID=%s is not a chat id; ignored", v);
        return 0;
    }
    return (int64_t)n;
}

/* ---- the text ------------------------------------------------------------ */

/* "pickup_date" -> "Pickup date" */
static int add_label(text_buf *tb, const char *name)
{
    int rc = 0;
    for (const char *p = name; *p && !rc; p++) {
        char ch = *p == '_' ? ' ' : *p;
        if (p == name && ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        rc = text_buf_addc(tb, ch);
    }
    return rc;
}

char *lead_render(const bm_machine *m, int form, const char *record_json, const bm_user *u,
                  const char *lang_code)
{
    if (form < 0 || form >= m->n_forms)
        return NULL;
    const bm_form *f = &m->forms[form];
    cJSON *rec = cJSON_Parse(record_json ? record_json : "{}");
    text_buf tb;
    text_buf_init(&tb, 64 * 1024);
    char *head = ho_mgr_text(m, BM_SYS_LEAD, u, NULL);
    int rc = !head || text_buf_adds(&tb, head) ||
             text_buf_adds(&tb, " · ") || text_buf_adds(&tb, f->name) ||
             text_buf_adds(&tb, "\n👤 ");
    bool named = false;
    if (!rc && u->first_name && *u->first_name) {
        rc = text_buf_adds(&tb, u->first_name);
        named = true;
    }
    if (!rc && u->last_name && *u->last_name)
        rc = (named ? text_buf_addc(&tb, ' ') : 0) || text_buf_adds(&tb, u->last_name);
    if (!rc && u->username && *u->username)
        rc = text_buf_adds(&tb, " @") || text_buf_adds(&tb, u->username);
    free(head);
    /* ", id 1001, language en" (sys_mgr_lead_client): the topic name of a
     * per-lead topic is the part before it */
    const char *lang = u->language_code && *u->language_code ? u->language_code : lang_code;
    char *who = rc ? NULL : ho_mgr_text(m, BM_SYS_MGR_LEAD_CLIENT, u, lang ? lang : "?");
    if (!rc)
        rc = !who || text_buf_adds(&tb, ", ") || text_buf_adds(&tb, who);
    free(who);
    for (int i = 0; i < f->n_fields && !rc; i++) {
        const bm_field *fd = &m->fields[f->first_field + i];
        const cJSON *v = rec ? cJSON_GetObjectItemCaseSensitive(rec, fd->name) : NULL;
        const char *val = cJSON_IsString(v) ? v->valuestring : NULL;
        char num[64];
        if (cJSON_IsNumber(v)) {
            snprintf(num, sizeof num, "%g", v->valuedouble);
            val = num;
        }
        rc = text_buf_addc(&tb, '\n') || add_label(&tb, fd->name) || text_buf_adds(&tb, ": ") ||
             text_buf_adds(&tb, val ? val : "—");
    }
    cJSON_Delete(rec);
    char *s = rc ? NULL : text_buf_take(&tb);
    text_buf_free(&tb);
    if (!s)
        return NULL;
    /* the fields are bounded by their validators, but a lead must fit one message */
    char *t = text_truncate(s, LEAD_TEXT_MAX);
    free(s);
    return t;
}

int lead_add(lead_book *lb, int form, const char *record_json, const bm_user *u,
             const char *lang_code)
{
    const bm_machine *m = lb->m;
    if (form < 0 || form >= m->n_forms || m->forms[form].lead == BM_LEAD_NONE)
        return 0;
    char *text = lead_render(m, form, record_json, u, lang_code);
    if (!text)
        return -1;
    sqlite3_bind_int64(lb->add, 1, u->id);
    sqlite3_bind_text(lb->add, 2, m->forms[form].name, -1, SQLITE_STATIC);
    sqlite3_bind_text(lb->add, 3, text, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(lb->add);
    sqlite3_reset(lb->add);
    sqlite3_clear_bindings(lb->add);
    free(text);
    if (rc != SQLITE_DONE) {
        log_error("lead", "%s", sqlite3_errmsg(lb->db));
        return -1;
    }
    log_info("lead", "user %" PRId64 ": a lead from form '%s'%s", u->id, m->forms[form].name,
             lb->group ? "" : " (stored; MANAGER_GROUP_CHAT_ID is not set)");
    lb->dirty = true;
    return 0;
}

int lead_pending(lead_book *lb)
{
    int rc = sqlite3_step(lb->count);
    int n = rc == SQLITE_ROW ? sqlite3_column_int(lb->count, 0) : -1;
    sqlite3_reset(lb->count);
    return n;
}

/* ---- posting --------------------------------------------------------------- */

typedef struct pending_lead {
    int64_t id, user_id;
    int form;            /* index, BM_NONE when the spec no longer has it */
    char *text;
    int64_t thread;      /* 0 none yet, -1 plain, else the topic */
} pending_lead;

/* 1 with *p filled (free p->text), 0 when none waits, -1 on error. */
static int next_lead(lead_book *lb, pending_lead *p)
{
    int rc = sqlite3_step(lb->next);
    if (rc == SQLITE_ROW) {
        p->id = sqlite3_column_int64(lb->next, 0);
        p->form = bm_form_by_name(lb->m, (const char *)sqlite3_column_text(lb->next, 1));
        const char *t = (const char *)sqlite3_column_text(lb->next, 2);
        p->text = strdup(t ? t : "");
        p->thread = sqlite3_column_type(lb->next, 3) == SQLITE_NULL
                        ? 0 : sqlite3_column_int64(lb->next, 3);
        p->user_id = sqlite3_column_int64(lb->next, 4);
    }
    sqlite3_reset(lb->next);
    if (rc == SQLITE_ROW)
        return p->text ? 1 : -1;
    if (rc != SQLITE_DONE) {
        log_error("lead", "%s", sqlite3_errmsg(lb->db));
        return -1;
    }
    return 0;
}

static int64_t named_thread(lead_book *lb, const char *name)
{
    sqlite3_bind_text(lb->topic_get, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(lb->topic_get, 2, lb->group);
    int64_t t = sqlite3_step(lb->topic_get) == SQLITE_ROW ? sqlite3_column_int64(lb->topic_get, 0)
                                                          : 0;
    sqlite3_reset(lb->topic_get);
    sqlite3_clear_bindings(lb->topic_get);
    return t;
}

static int exec_id(lead_book *lb, sqlite3_stmt *st, int64_t id, int64_t v, int has_v)
{
    sqlite3_bind_int64(st, 1, id);
    if (has_v)
        sqlite3_bind_int64(st, 2, v);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        log_error("lead", "%s", sqlite3_errmsg(lb->db));
        return -1;
    }
    return 0;
}

/* The message staged in the outbox and the lead marked posted, together. */
static int post(lead_book *lb, outq *q, const pending_lead *p, int64_t thread)
{
    cJSON *params = cJSON_CreateObject();
    if (!params || !json_add_i64(params, "chat_id", lb->group) ||
        !cJSON_AddStringToObject(params, "text", p->text) ||
        (thread > 0 && !json_add_i64(params, "message_thread_id", thread))) {
        cJSON_Delete(params);
        return -1;
    }
    if (store_begin(lb->st)) {
        cJSON_Delete(params);
        return -1;
    }
    if (outq_stage(q, lb->group, "sendMessage", params) ||
        exec_id(lb, lb->posted, p->id, thread > 0 ? thread : -1, 1) ||
        store_commit(lb->st)) {
        store_rollback(lb->st);
        outq_stage_abort(q);
        return -1;
    }
    outq_stage_commit(q);
    log_info("lead", "lead %" PRId64 " posted to the managers' group%s", p->id,
             thread > 0 ? " (in its topic)" : "");
    return 0;
}

static void failed(lead_book *lb)
{
    lb->retry_ms = lb->retry_ms ? lb->retry_ms * 2 : LEAD_RETRY_MIN_MS;
    if (lb->retry_ms > LEAD_RETRY_MAX_MS)
        lb->retry_ms = LEAD_RETRY_MAX_MS;
    lb->not_before = mono_ms() + lb->retry_ms;
}

/* lead_topics(group, name) = thread. 0 or -1. */
static int put_named(lead_book *lb, const char *name, int64_t thread)
{
    sqlite3_bind_text(lb->topic_put, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(lb->topic_put, 2, thread);
    sqlite3_bind_int64(lb->topic_put, 3, lb->group);
    int rc = sqlite3_step(lb->topic_put);
    sqlite3_reset(lb->topic_put);
    sqlite3_clear_bindings(lb->topic_put);
    if (rc != SQLITE_DONE) {
        log_error("lead", "%s", sqlite3_errmsg(lb->db));
        return -1;
    }
    return 0;
}

/* Takes back the mark of the topic just asked for (named, else the lead's). */
static void unmark(lead_book *lb, const char *name)
{
    if (name) {
        sqlite3_bind_text(lb->topic_unmark, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(lb->topic_unmark, 2, lb->group);
        if (sqlite3_step(lb->topic_unmark) != SQLITE_DONE)
            log_error("lead", "%s", sqlite3_errmsg(lb->db));
        sqlite3_reset(lb->topic_unmark);
        sqlite3_clear_bindings(lb->topic_unmark);
    } else {
        exec_id(lb, lb->unmark, lb->busy_lead, 0, 0);
    }
}

static void on_topic(const tg_result *r, void *ud)
{
    lead_book *lb = ud;
    lb->busy = false;
    lb->dirty = true;
    char *name = lb->busy_name;
    lb->busy_name = NULL;
    if (r->err == TG_ERR_CANCELLED) {
        free(name);
        /* stopping: the lead waits for the next start; the mark stays (the
         * request may have gone out), so that start says so */
        return;
    }
    int64_t thread = 0;
    if (r->err == TG_OK && json_i64(r->result, "message_thread_id", &thread) != 0)
        thread = 0;
    if (r->err == TG_OK && thread > 0) {
        lb->retry_ms = 0;
        if (name) {
            put_named(lb, name, thread);
            log_info("lead", "created the leads topic '%s' (thread %" PRId64 ")", name, thread);
        } else {
            exec_id(lb, lb->set_thread, lb->busy_lead, thread, 1);
        }
        free(name);
        return;
    }
    if (r->err == TG_OK || r->error_code == 400 || r->error_code == 403) {
        /* not a forum, no right to manage topics, or an answer without a
         * thread: the lead still reaches the managers, without a topic */
        log_warn("lead", "createForumTopic failed (%d: %s); lead %" PRId64 " is posted in the "
                 "group without a topic, and so are the next hour's (is %" PRId64 " a forum "
                 "where the bot may manage topics?)", r->error_code, r->description,
                 lb->busy_lead, lb->group);
        exec_id(lb, lb->set_thread, lb->busy_lead, -1, 1);
        if (name)
            unmark(lb, name);
        /* every lead would be refused the same way: one call, not one per lead */
        lb->no_topics_until = mono_ms() + LEAD_NO_TOPICS_MS;
        free(name);
        return;
    }
    if ((r->maybe_taken || r->http_status >= 500) && name)
        log_warn("lead", "the leads topic '%s' may have been created twice (Telegram's answer "
                 "to createForumTopic was lost: %s %d: %s); creating it again", name,
                 tg_err_str(r->err), r->error_code, r->description);
    else if (r->maybe_taken || r->http_status >= 500)
        log_warn("lead", "a topic may have been created twice for lead %" PRId64 " (Telegram's "
                 "answer to createForumTopic was lost: %s %d: %s); creating it again",
                 lb->busy_lead, tg_err_str(r->err), r->error_code, r->description);
    else
        log_warn("lead", "createForumTopic failed (%s %d: %s); retrying", tg_err_str(r->err),
                 r->error_code, r->description);
    /* said now: the retry marks its own attempt */
    unmark(lb, name);
    failed(lb);
    if (r->retry_after > 0)
        lb->not_before = mono_ms() + r->retry_after * 1000L;
    free(name);
}

/* Starts createForumTopic; name is consumed (NULL: a per-lead topic named tname). */
static void create_topic(lead_book *lb, tg_client *tg, const pending_lead *p, char *name,
                         const char *tname)
{
    cJSON *params = cJSON_CreateObject();
    char *t = text_truncate(tname, LEAD_TOPIC_MAX);
    if (!params || !t || !json_add_i64(params, "chat_id", lb->group) ||
        !cJSON_AddStringToObject(params, "name", t)) {
        cJSON_Delete(params);
        free(t);
        free(name);
        failed(lb);
        return;
    }
    free(t);
    lb->busy_lead = p->id;
    /* committed before the request can go out (autocommit: the event loop
     * holds no transaction here) */
    if (name ? put_named(lb, name, LEAD_CREATING)
             : exec_id(lb, lb->set_thread, p->id, LEAD_CREATING, 1)) {
        cJSON_Delete(params);
        free(name);
        failed(lb);
        return;
    }
    lb->busy_name = name;
    if (tg_call(tg, "createForumTopic", params, on_topic, lb) != TG_OK) {
        lb->busy_name = NULL;
        unmark(lb, name);
        free(name);
        failed(lb);
        return;
    }
    lb->busy = true;
}

void lead_pump(lead_book *lb, tg_client *tg, outq *q)
{
    if (!lb || !lb->group || lb->busy || !lb->dirty)
        return;
    if (lb->not_before && mono_ms() < lb->not_before)
        return;
    lb->not_before = 0;
    for (int k = 0; k < LEAD_BATCH; k++) {
        pending_lead p = {0};
        int got = next_lead(lb, &p);
        if (got <= 0) {
            if (got == 0)
                lb->dirty = false;
            else
                failed(lb);
            return;
        }
        bm_lead mode = p.form >= 0 ? lb->m->forms[p.form].lead : BM_LEAD_CHAT;
        if (lb->no_topics_until && mono_ms() < lb->no_topics_until)
            mode = BM_LEAD_CHAT;
        int64_t thread = -1;
        if (p.thread == LEAD_CREATING) {
            log_warn("lead", "a topic may have been created twice for lead %" PRId64 " (the bot "
                     "stopped while Telegram was creating it); %s", p.id,
                     mode == BM_LEAD_TOPIC ? "creating it again" : "posting the lead anyway");
            p.thread = 0;
        }
        if (p.thread != 0) {
            thread = p.thread; /* its topic exists, or it goes without one */
        } else if (mode == BM_LEAD_NAMED) {
            const char *name = lb->m->forms[p.form].lead_topic;
            thread = named_thread(lb, name);
            if (thread == LEAD_CREATING)
                log_warn("lead", "the leads topic '%s' may have been created twice (the bot "
                         "stopped while Telegram was creating it); creating it again", name);
            if (thread == 0 || thread == LEAD_CREATING) {
                char *nm = strdup(name);
                if (nm)
                    create_topic(lb, tg, &p, nm, name);
                else
                    failed(lb);
                free(p.text);
                return;
            }
        } else if (mode == BM_LEAD_TOPIC) {
            /* the topic names the lead: "📝 #12 · Ann Smith" is found at a glance */
            const char *line = strstr(p.text, "\n👤 ");
            char tname[256];
            int n = 0;
            if (line) {
                line += strlen("\n👤 ");
                n = (int)strcspn(line, ",\n");
            }
            snprintf(tname, sizeof tname, "#%" PRId64 " · %.*s", p.id, n > 200 ? 200 : n,
                     line ? line : "");
            create_topic(lb, tg, &p, NULL, tname);
            free(p.text);
            return;
        }
        int rc = post(lb, q, &p, thread);
        free(p.text);
        if (rc) {
            failed(lb);
            return;
        }
    }
}

/* ---- the user's data ---------------------------------------------------------- */

int lead_forget_user(lead_book *lb, int64_t user_id)
{
    if (!lb)
        return 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(lb->db, "DELETE FROM leads WHERE user_id = ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, user_id);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        log_error("lead", "%s", sqlite3_errmsg(lb->db));
        return -1;
    }
    return 0;
}

int lead_export_user(lead_book *lb, int64_t user_id, cJSON *root)
{
    if (!lb)
        return 0;
    cJSON *arr = cJSON_AddArrayToObject(root, "leads");
    if (!arr || store_json_rows(lb->st, "SELECT id, form, text, thread_id, posted, created"
                                        " FROM leads WHERE user_id = ?1 ORDER BY id",
                                user_id, arr) < 0)
        return -1;
    return 0;
}

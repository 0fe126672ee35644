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

#include "people/handoff.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "storage/store_lead.h"

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
    store_lead *t;
    const bm_machine *m;
    int64_t group;
    bool dirty;          /* a lead may be waiting: look */
    bool busy;           /* a createForumTopic is in flight */
    int64_t busy_lead;   /* the lead it is for */
    char *busy_name;     /* the named topic it creates, NULL for a per-lead one */
    long not_before;     /* ms (monotonic): wait after a failure */
    long retry_ms;
    long no_topics_until; /* ms (monotonic): the group refused topics; post plain till then */
    int retry_after_max_s; /* the outbox's cap of a 429's retry_after (TELEGRAM_RETRY_AFTER_MAX) */
};

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
    lb->m = m;
    lb->group = group_chat_id;
    lb->dirty = true;
    lb->t = store_lead_open(st, group_chat_id, err, errlen);
    if (!lb->t) {
        free(lb);
        return NULL;
    }
    return lb;
}

void lead_free(lead_book *lb)
{
    if (!lb)
        return;
    store_lead_free(lb->t);
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
    int rc = store_lead_add(lb->t, u->id, m->forms[form].name, text);
    free(text);
    if (rc)
        return -1;
    log_info("lead", "user %" PRId64 ": a lead from form '%s'%s", u->id, m->forms[form].name,
             lb->group ? "" : " (stored; MANAGER_GROUP_CHAT_ID is not set)");
    lb->dirty = true;
    return 0;
}

int lead_pending(lead_book *lb)
{
    return store_lead_pending(lb->t);
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
    store_lead_row r;
    int got = store_lead_next(lb->t, &r);
    if (got != 1)
        return got;
    *p = (pending_lead){.id = r.id, .user_id = r.user_id,
                        .form = bm_form_by_name(lb->m, r.form), .text = r.text,
                        .thread = r.thread_id};
    free(r.form);
    return 1;
}

/* The thread of named topic `name` in the group, 0 when none (or on a
 * database error: the topic is then asked for again). */
static int64_t named_thread(lead_book *lb, const char *name)
{
    int64_t t = 0;
    if (store_lead_topic_get(lb->t, lb->group, name, &t) != 1)
        return 0;
    return t;
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
        store_lead_posted(lb->t, p->id, thread > 0 ? thread : -1) ||
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
    return store_lead_topic_put(lb->t, lb->group, name, thread);
}

/* Takes back the mark of the topic just asked for (named, else the lead's):
 * Telegram did not make that topic. */
static void unmark(lead_book *lb, const char *name)
{
    if (name)
        store_lead_topic_unmark(lb->t, lb->group, name, LEAD_CREATING);
    else
        store_lead_unmark(lb->t, lb->busy_lead, LEAD_CREATING);
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
            store_lead_set_thread(lb->t, lb->busy_lead, thread);
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
        store_lead_set_thread(lb->t, lb->busy_lead, -1);
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
    if (r->retry_after > 0) /* capped as the outbox caps it: a day's wait helps no one */
        lb->not_before = mono_ms() + (lb->retry_after_max_s > 0 && r->retry_after >
                                      lb->retry_after_max_s ? lb->retry_after_max_s
                                                            : r->retry_after) * 1000L;
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
             : store_lead_set_thread(lb->t, p->id, LEAD_CREATING)) {
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
    if (q)
        lb->retry_after_max_s = outq_retry_after_max_s(q);
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
    return store_lead_forget(lb->t, user_id);
}

int lead_export_user(lead_book *lb, int64_t user_id, cJSON *root)
{
    if (!lb)
        return 0;
    cJSON *arr = cJSON_AddArrayToObject(root, "leads");
    if (!arr || store_lead_export(lb->t, user_id, arr))
        return -1;
    return 0;
}

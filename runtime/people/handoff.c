/*
 * handoff.c — see handoff.h.
 *
 * Texts for the user are the spec's sys_handoff_* texts (bm_render, in the
 * user's language); texts for the managers (the client card, the notes in a
 * topic, admin command answers) are the spec's sys_mgr_* texts in the
 * managers' language (ho_mgr_text).
 */
#include "people/handoff.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "dialogue/deferred.h"
#include "people/feedback.h"
#include "base/log.h"
#include "base/text.h"
#include "base/json.h"
#include "storage/store_handoff.h"

#define HO_NAME_MAX 64          /* bytes of a manager's name */
#define HO_TOPIC_MAX 128        /* bytes of a topic name (Telegram: 1-128 chars) */
#define HO_CARD_MAX 16384       /* bytes of the card + conversation */
#define HO_LINE_MAX 600         /* UTF-16 units of one history line in the card */
#define HO_HISTORY_LINES 30     /* messages of the conversation posted */
#define HO_RECORDS_MAX 5        /* booking records on the card */
#define HO_CREATE_TRIES 3       /* createForumTopic attempts for one request */

/* What must outlive the input's savepoint (ho_after_input): the mark of a
 * topic being created (the step defers, so its savepoint is rolled back),
 * or the thread id Telegram answered (the rest of the step may fail). */
typedef enum ho_note_kind { HO_NOTE_NONE = 0, HO_NOTE_CREATING, HO_NOTE_THREAD } ho_note_kind;

struct ho {
    store_handoff *t;
    store *st;
    const bm_machine *m;
    int64_t group, admin, bot_id;
    struct {
        ho_note_kind kind;
        int64_t user_id, chat_id, thread_id;
    } note;
};

static int64_t env_i64(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end) {
        log_warn("handoff", "%s=%s is not a number; ignored", name, v);
        return 0;
    }
    return (int64_t)n;
}

/* The bot's own user id: the digits before ':' in its token. */
static int64_t token_bot_id(void)
{
    const char *t = getenv("TELEGRAM_BOT_TOKEN");
    if (!t)
        return 0;
    int64_t id = 0;
    for (; *t >= '0' && *t <= '9' && id < INT64_MAX / 10; t++)
        id = id * 10 + (*t - '0');
    return *t == ':' ? id : 0;
}

int ho_mgr_lang(const bm_machine *m)
{
    static int warned;
    const char *v = getenv("MANAGER_LANGUAGE");
    if (v && *v) {
        for (int i = 0; i < m->n_langs; i++)
            if (!strcmp(m->langs[i], v))
                return i;
        if (!warned++)
            log_warn("handoff", "MANAGER_LANGUAGE=%s is not a language of this bot; the managers "
                     "get %s", v, m->langs[m->default_lang]);
    }
    return m->default_lang;
}

char *ho_mgr_text(const bm_machine *m, bm_sys_text t, const bm_user *u, const char *text)
{
    bm_session s;
    memset(&s, 0, sizeof s);
    s.lang = ho_mgr_lang(m);
    s.user_id = u ? u->id : 0;
    return bm_render(m, &s, u, m->sys_texts[t], text ? text : "");
}

/* Appends sys text t (in the managers' language, no placeholders in use). */
static int add_mgr(const bm_machine *m, text_buf *tb, bm_sys_text t)
{
    char *v = ho_mgr_text(m, t, NULL, NULL);
    int rc = !v || text_buf_adds(tb, v);
    free(v);
    return rc;
}

ho *ho_open(store *st, const bm_machine *m, char *err, size_t errlen)
{
    ho *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->st = st;
    h->m = m;
    h->group = env_i64("MANAGER_GROUP_CHAT_ID");
    h->admin = env_i64("ADMIN_USER_ID");
    h->bot_id = token_bot_id();
    if (h->group > 0) {
        log_warn("handoff", "MANAGER_GROUP_CHAT_ID must be a (negative) supergroup id; "
                 "operators are off");
        h->group = 0;
    }
    h->t = store_handoff_open(st, err, errlen);
    if (!h->t) {
        free(h);
        return NULL;
    }
    if (h->group)
        log_info("handoff", "operators: managers' group %" PRId64 ", admin %" PRId64, h->group,
                 h->admin);
    return h;
}

void ho_free(ho *h)
{
    if (!h)
        return;
    store_handoff_free(h->t);
    free(h);
}

int64_t ho_group_chat_id(const ho *h) { return h ? h->group : 0; }
int64_t ho_admin_id(const ho *h) { return h ? h->admin : 0; }

void ho_set_config(ho *h, int64_t group_chat_id, int64_t admin_user_id)
{
    h->group = group_chat_id;
    h->admin = admin_user_id;
}

/* ---- the tables (storage/store_handoff.h) ------------------------------------- */

int ho_is_manager(ho *h, int64_t user_id)
{
    if (!h || user_id == 0)
        return 0;
    if (h->admin && user_id == h->admin)
        return 1;
    return store_handoff_is_manager(h->t, user_id);
}

int ho_add_manager(ho *h, int64_t user_id, const char *name)
{
    return store_handoff_add_manager(h->t, user_id, name);
}

int ho_del_manager(ho *h, int64_t user_id)
{
    return store_handoff_del_manager(h->t, user_id);
}

/* "555 Mia\n" onto the text_buf ud. */
static int add_manager_line(void *ud, int64_t user_id, const char *name)
{
    text_buf *tb = ud;
    char id[32];
    snprintf(id, sizeof id, "%" PRId64 " ", user_id);
    return text_buf_adds(tb, id) || text_buf_adds(tb, name) || text_buf_addc(tb, '\n');
}

char *ho_list_managers(ho *h)
{
    text_buf tb;
    text_buf_init(&tb, 65536);
    char *out = NULL;
    if (store_handoff_list_managers(h->t, add_manager_line, &tb) >= 0)
        out = text_buf_take(&tb);
    text_buf_free(&tb);
    return out;
}

/* The store's row r (all zero when not found) as the handoff.h view into
 * out (may be NULL); rc, the find's result, passed on. */
static int as_handoff(int rc, const store_handoff_row *r, ho_handoff *out)
{
    if (out)
        *out = (ho_handoff){.id = r->id, .user_id = r->user_id, .chat_id = r->chat_id,
                            .thread_id = r->thread_id, .status = r->open ? HO_OPEN : HO_CLOSED,
                            .opened = r->opened, .closed = r->closed, .rating = r->rating};
    return rc;
}

int ho_find_open(ho *h, int64_t user_id, ho_handoff *out)
{
    store_handoff_row r = {0};
    return as_handoff(store_handoff_find_open(h->t, user_id, &r), &r, out);
}

int ho_find_thread(ho *h, int64_t thread_id, ho_handoff *out)
{
    store_handoff_row r = {0};
    return as_handoff(store_handoff_find_thread(h->t, thread_id, &r), &r, out);
}

int ho_find_id(ho *h, int64_t id, ho_handoff *out)
{
    store_handoff_row r = {0};
    return as_handoff(store_handoff_find_id(h->t, id, &r), &r, out);
}

int ho_insert(ho *h, int64_t user_id, int64_t chat_id, int64_t thread_id, int64_t *id)
{
    return store_handoff_insert(h->t, user_id, chat_id, thread_id, id);
}

int ho_close(ho *h, int64_t id, int64_t by)
{
    return store_handoff_close(h->t, id, by);
}

int ho_rate(ho *h, int64_t id, int64_t user_id, int rating)
{
    if (rating < 1 || rating > 5)
        return 0;
    return store_handoff_rate(h->t, id, user_id, rating);
}

int ho_forget_user(ho *h, int64_t user_id)
{
    if (!h)
        return 0;
    return store_handoff_forget(h->t, user_id);
}

int ho_export_user(ho *h, int64_t user_id, cJSON *root)
{
    if (!h)
        return 0;
    cJSON *hs = cJSON_AddArrayToObject(root, "handoffs");
    cJSON *mg = cJSON_CreateArray();
    int rc = !hs || !mg || store_handoff_export(h->t, user_id, hs, mg);
    cJSON *one = rc ? NULL : cJSON_DetachItemFromArray(mg, 0);
    cJSON_Delete(mg);
    if (rc || !cJSON_AddItemToObject(root, "manager", one ? one : cJSON_CreateNull())) {
        cJSON_Delete(one);
        return -1;
    }
    return 0;
}

/* ---- routing (pure) ---------------------------------------------------------- */

/* "/name" or "/name@bot" at the start of text: the name into out. */
static int command_name(const char *text, char *out, size_t outlen)
{
    if (!text || text[0] != '/')
        return 0;
    size_t n = 0;
    for (const char *p = text + 1; *p && *p != '@' && !isspace((unsigned char)*p); p++) {
        if (n + 1 >= outlen)
            return 0;
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = '\0';
    return n > 0;
}

static int is_admin_command(const char *cmd)
{
    return !strcmp(cmd, "addmanager") || !strcmp(cmd, "delmanager") || !strcmp(cmd, "managers");
}

ho_route ho_classify(int64_t group_chat_id, int64_t admin_id, int64_t bot_id,
                     const bm_input *in, int is_manager)
{
    char cmd[32] = "";
    bool is_cmd = in->kind == BM_IN_TEXT && command_name(in->text, cmd, sizeof cmd);
    bool admin = admin_id != 0 && in->user.id == admin_id && !in->from_bot;
    if (group_chat_id != 0 && in->user.chat_id == group_chat_id) {
        if (in->from_bot || (bot_id && in->user.id == bot_id))
            return HO_R_IGNORE; /* our own copies and cards, other bots */
        if (in->kind == BM_IN_CALLBACK)
            return HO_R_IGNORE; /* the bot puts no buttons in the group */
        if (is_cmd && admin && is_admin_command(cmd))
            return HO_R_ADMIN;
        if (!is_manager && !admin)
            return HO_R_IGNORE;
        if (in->thread_id == 0)
            return HO_R_IGNORE; /* the General topic is the managers' own */
        if (is_cmd && !strcmp(cmd, "close"))
            return HO_R_GROUP_CLOSE;
        return HO_R_GROUP_RELAY;
    }
    if (in->user.chat_id < 0)
        return HO_R_PASS; /* another group: the dialogue as ever */
    if (in->kind == BM_IN_CALLBACK && !strncmp(in->text, "ho:", 3))
        return HO_R_BUTTON;
    if (is_cmd && admin && is_admin_command(cmd))
        return HO_R_ADMIN;
    return HO_R_PASS;
}

int ho_parse_button(const char *data, int64_t *id, int *rating)
{
    char *end;
    if (!data || strncmp(data, "ho:", 3))
        return 0;
    if (!strncmp(data + 3, "ok:", 3)) {
        long long v = strtoll(data + 6, &end, 10);
        if (end == data + 6 || *end || v <= 0)
            return 0;
        *id = v;
        return 's';
    }
    if (!strncmp(data + 3, "r:", 2)) {
        long long v = strtoll(data + 5, &end, 10);
        if (end == data + 5 || *end != ':' || v <= 0)
            return 0;
        const char *r = end + 1;
        if (r[0] < '1' || r[0] > '5' || r[1])
            return 0;
        *id = v;
        *rating = r[0] - '0';
        return 'r';
    }
    return 0;
}

void ho_topic_name(const bm_user *u, char *out, size_t outlen)
{
    char buf[512];
    const char *f = u->first_name && *u->first_name ? u->first_name : "Client";
    int n = snprintf(buf, sizeof buf, "%s%s%s", f, u->last_name && *u->last_name ? " " : "",
                     u->last_name ? u->last_name : "");
    if (u->username && *u->username && n >= 0 && (size_t)n < sizeof buf)
        n += snprintf(buf + n, sizeof buf - (size_t)n, " (@%s)", u->username);
    if (n >= 0 && (size_t)n < sizeof buf)
        snprintf(buf + n, sizeof buf - (size_t)n, " #%" PRId64, u->id);
    size_t max = outlen ? outlen - 1 : 0;
    if (max > HO_TOPIC_MAX)
        max = HO_TOPIC_MAX;
    size_t len = text_utf8_prefix(buf, strlen(buf), max);
    if (outlen) {
        memcpy(out, buf, len);
        out[len] = '\0';
    }
}

/* ---- effects ------------------------------------------------------------------- */

/* A Bot API call effect; takes params. */
static int add_call(bm_effects *out, const char *method, int64_t chat_id, cJSON *params)
{
    char *js = params ? cJSON_PrintUnformatted(params) : NULL;
    cJSON_Delete(params);
    bm_effect *e = js ? bm_effects_add(out, BM_FX_CALL, chat_id) : NULL;
    if (!e) {
        free(js);
        return -1;
    }
    e->method = method;
    e->text = js;
    return 0;
}

/* An inline keyboard of one row: labels[i] -> datas[i]. Takes nothing. */
static int inline_row(bm_markup *mk, char **labels, char **datas, int n)
{
    int *row_len = malloc(sizeof *row_len);
    bm_button_out *b = calloc((size_t)n, sizeof *b);
    if (!row_len || !b) {
        free(row_len);
        free(b);
        return -1;
    }
    row_len[0] = n;
    for (int i = 0; i < n; i++)
        b[i] = (bm_button_out){.label = labels[i], .data = datas[i], .kind = BM_BTN_CALLBACK};
    *mk = (bm_markup){.kind = BM_MK_INLINE, .n_rows = 1, .row_len = row_len, .n_buttons = n,
                      .buttons = b};
    return 0;
}

/* The user's session (for language and placeholders): loaded, else a
 * fresh one in the default language. */
static int user_session(ho *h, int64_t user_id, int64_t chat_id, bm_session *s)
{
    int found = store_load_session(h->st, user_id, s);
    if (found < 0)
        return -1;
    if (!found) {
        bm_user u = {.id = user_id, .chat_id = chat_id};
        if (bm_session_init(h->m, s, &u))
            return -1;
    }
    s->chat_id = chat_id;
    return 0;
}

/* SEND sys text `t` to the user, with the "I'm satisfied" button of
 * handoff `sat_id` (0 = none) or the rating buttons of `rate_id` (0 = none). */
static int send_user(ho *h, const bm_session *s, const bm_user *u, bm_sys_text t,
                     int64_t sat_id, int64_t rate_id, bm_effects *out)
{
    char *text = bm_render(h->m, s, u, h->m->sys_texts[t], "");
    bm_effect *e = text ? bm_effects_add(out, BM_FX_SEND, s->chat_id) : NULL;
    if (!e) {
        free(text);
        return -1;
    }
    e->text = text;
    char *labels[5] = {0}, *datas[5] = {0};
    int n = 0;
    if (sat_id) {
        labels[0] = bm_render(h->m, s, u, h->m->sys_texts[BM_SYS_SATISFIED], "");
        char d[40];
        snprintf(d, sizeof d, "ho:ok:%" PRId64, sat_id);
        datas[0] = strdup(d);
        n = 1;
    } else if (rate_id) {
        for (int i = 0; i < 5; i++) {
            char l[8], d[48];
            snprintf(l, sizeof l, "%d", i + 1);
            snprintf(d, sizeof d, "ho:r:%" PRId64 ":%d", rate_id, i + 1);
            labels[i] = strdup(l);
            datas[i] = strdup(d);
        }
        n = 5;
    }
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad |= !labels[i] || !datas[i];
    if (n && (bad || inline_row(&e->markup, labels, datas, n))) {
        for (int i = 0; i < n; i++) {
            free(labels[i]);
            free(datas[i]);
        }
        return -1;
    }
    return 0;
}

/* The "I'm satisfied" button as reply_markup JSON (for copyMessage). */
static cJSON *satisfied_markup(ho *h, const bm_session *s, int64_t id)
{
    char *label = bm_render(h->m, s, NULL, h->m->sys_texts[BM_SYS_SATISFIED], "");
    char d[40];
    snprintf(d, sizeof d, "ho:ok:%" PRId64, id);
    cJSON *mk = cJSON_CreateObject();
    cJSON *rows = mk ? cJSON_AddArrayToObject(mk, "inline_keyboard") : NULL;
    cJSON *row = cJSON_CreateArray();
    cJSON *b = cJSON_CreateObject();
    bool ok = label && rows && row && b && cJSON_AddStringToObject(b, "text", label) &&
              cJSON_AddStringToObject(b, "callback_data", d);
    free(label);
    if (ok && cJSON_AddItemToArray(row, b)) {
        b = NULL;
        if (cJSON_AddItemToArray(rows, row))
            return mk;
    }
    cJSON_Delete(b);
    cJSON_Delete(row);
    cJSON_Delete(mk);
    return NULL;
}

/* copyMessage from_chat/msg -> chat (thread 0 = none), reply_markup taken. */
static int copy_msg(bm_effects *out, int64_t chat, int64_t thread, int64_t from_chat,
                    int64_t msg, cJSON *markup)
{
    cJSON *p = cJSON_CreateObject();
    bool ok = p && json_add_i64(p, "chat_id", chat) &&
              (!thread || json_add_i64(p, "message_thread_id", thread)) &&
              json_add_i64(p, "from_chat_id", from_chat) && json_add_i64(p, "message_id", msg);
    if (ok && markup) {
        cJSON_AddItemToObject(p, "reply_markup", markup);
        markup = NULL;
    }
    cJSON_Delete(markup);
    if (!ok) {
        cJSON_Delete(p);
        return -1;
    }
    return add_call(out, "copyMessage", chat, p);
}

/* sendMessage text to chat (in topic thread, 0 = none), split at 4096. */
static int send_plain(bm_effects *out, int64_t chat, int64_t thread, const char *text)
{
    char **parts;
    int n;
    if (text_split(text, TEXT_TG_MAX, &parts, &n))
        return -1;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        cJSON *p = cJSON_CreateObject();
        if (!p || !json_add_i64(p, "chat_id", chat) ||
            (thread && !json_add_i64(p, "message_thread_id", thread)) ||
            !cJSON_AddStringToObject(p, "text", parts[i])) {
            cJSON_Delete(p);
            rc = -1;
        } else {
            rc = add_call(out, "sendMessage", chat, p);
        }
    }
    text_parts_free(parts, n);
    return rc;
}

static int close_topic(bm_effects *out, int64_t group, int64_t thread)
{
    cJSON *p = cJSON_CreateObject();
    if (!p || !json_add_i64(p, "chat_id", group) ||
        !json_add_i64(p, "message_thread_id", thread)) {
        cJSON_Delete(p);
        return -1;
    }
    return add_call(out, "closeForumTopic", group, p);
}

static int answer_cb(const bm_input *in, bm_effects *out)
{
    bm_effect *e = bm_effects_add(out, BM_FX_ANSWER, in->user.chat_id);
    if (!e || !(e->callback_id = strdup(in->callback_id ? in->callback_id : "")))
        return -1;
    return 0;
}

/* ---- the card -------------------------------------------------------------------- */

typedef struct card_ctx {
    const bm_machine *m;
    text_buf *tb;
    int bad;
} card_ctx;

/* "• booking #3 (2026-05-01T10:00:00Z): days: 3, phone: +381..." */
static int card_record(void *ud, int64_t id, const char *form, const char *json,
                       const char *created)
{
    card_ctx *c = ud;
    char head[160];
    snprintf(head, sizeof head, "\n• %s #%" PRId64 " (%s): ", form, id, created);
    c->bad |= text_buf_adds(c->tb, head);
    cJSON *o = cJSON_Parse(json);
    const cJSON *it;
    int k = 0;
    cJSON_ArrayForEach(it, o) {
        char num[40];
        const char *v = cJSON_IsString(it) ? it->valuestring : NULL;
        if (!v && cJSON_IsNumber(it)) {
            snprintf(num, sizeof num, "%g", it->valuedouble);
            v = num;
        }
        c->bad |= (k++ ? text_buf_adds(c->tb, ", ") : 0) ||
                  text_buf_adds(c->tb, it->string ? it->string : "?") ||
                  text_buf_adds(c->tb, ": ") || text_buf_adds(c->tb, v ? v : "…");
    }
    cJSON_Delete(o);
    return c->bad;
}

/* "\n<Who>: <text>" */
static int card_line(card_ctx *c, bm_sys_text who, const char *text)
{
    char *t = text_truncate(text, HO_LINE_MAX);
    c->bad |= !t || text_buf_adds(c->tb, "\n") || add_mgr(c->m, c->tb, who) ||
              text_buf_adds(c->tb, ": ") || text_buf_adds(c->tb, t);
    free(t);
    return c->bad;
}

static int card_history(void *ud, const char *role, const char *text, int64_t at)
{
    (void)at;
    bm_sys_text who = !strcmp(role, "user") ? BM_SYS_MGR_CLIENT : !strcmp(role, "operator")
                                                                     ? BM_SYS_MGR_OPERATOR
                                                                     : BM_SYS_MGR_BOT;
    return card_line(ud, who, text);
}

/* "\n<Label>: " */
static int card_label(card_ctx *c, bm_sys_text label)
{
    c->bad |= text_buf_addc(c->tb, '\n') || add_mgr(c->m, c->tb, label) ||
              text_buf_adds(c->tb, ": ");
    return c->bad;
}

/* The client card and the conversation so far, as two texts (malloc'd), in
 * the managers' language. */
static int build_card(ho *h, const bm_input *in, int lang, char **card, char **conv)
{
    const bm_user *u = &in->user;
    text_buf tb;
    text_buf_init(&tb, HO_CARD_MAX);
    card_ctx c = {.m = h->m, .tb = &tb};
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "%" PRId64, u->id);
    c.bad |= text_buf_adds(&tb, "👤 ") || add_mgr(h->m, &tb, BM_SYS_MGR_CLIENT) ||
             text_buf_adds(&tb, ": ") ||
             text_buf_adds(&tb, u->first_name && *u->first_name ? u->first_name : "?");
    if (u->last_name && *u->last_name)
        c.bad |= text_buf_addc(&tb, ' ') || text_buf_adds(&tb, u->last_name);
    card_label(&c, BM_SYS_MGR_USERNAME);
    if (u->username && *u->username)
        c.bad |= text_buf_addc(&tb, '@') || text_buf_adds(&tb, u->username);
    else
        c.bad |= add_mgr(h->m, &tb, BM_SYS_MGR_NONE);
    card_label(&c, BM_SYS_MGR_LANGUAGE);
    c.bad |= text_buf_adds(&tb, h->m->langs[lang]) || text_buf_adds(&tb, "\nID: ") ||
             text_buf_adds(&tb, idbuf) || text_buf_addc(&tb, '\n') ||
             add_mgr(h->m, &tb, BM_SYS_MGR_BOOKINGS) || text_buf_addc(&tb, ':');
    int n = store_list_records(h->st, u->id, HO_RECORDS_MAX, card_record, &c);
    if (n < 0 && !c.bad) {
        text_buf_free(&tb);
        return -1;
    }
    if (n == 0)
        c.bad |= text_buf_addc(&tb, ' ') || add_mgr(h->m, &tb, BM_SYS_MGR_NONE);
    *card = c.bad ? NULL : text_buf_take(&tb);

    c.bad = 0;
    c.bad |= add_mgr(h->m, &tb, BM_SYS_MGR_CONVERSATION);
    n = store_history_list(h->st, u->id, HO_HISTORY_LINES, card_history, &c);
    if (n < 0 && !c.bad) {
        text_buf_free(&tb);
        free(*card);
        *card = NULL;
        return -1;
    }
    if (in->kind == BM_IN_TEXT && in->text && *in->text)
        card_line(&c, BM_SYS_MGR_CLIENT, in->text); /* the request itself, not logged yet */
    else if (n == 0)
        c.bad |= text_buf_addc(&tb, '\n') || add_mgr(h->m, &tb, BM_SYS_MGR_NOTHING_YET);
    *conv = c.bad ? NULL : text_buf_take(&tb);
    text_buf_free(&tb);
    if (!*card || !*conv) {
        free(*card);
        free(*conv);
        *card = *conv = NULL;
        return -1;
    }
    return 0;
}

/* ---- taking inputs ----------------------------------------------------------------- */

/* Ends handoff x (already closed in the table): a note in the topic,
 * the topic closed, the rating question to the user. */
static int end_handoff(ho *h, const ho_handoff *x, const char *note, bm_effects *out)
{
    bm_session s;
    if (user_session(h, x->user_id, x->chat_id, &s))
        return -1;
    int rc = send_plain(out, h->group, x->thread_id, note) ||
             close_topic(out, h->group, x->thread_id) ||
             send_user(h, &s, NULL, BM_SYS_HANDOFF_CLOSED, 0, x->id, out);
    bm_session_free(h->m, &s);
    return rc ? -1 : 0;
}

static int reply_admin(const bm_input *in, const char *text, bm_effects *out)
{
    return send_plain(out, in->user.chat_id, in->thread_id, text);
}

/* Answers the admin with sys text t; u names the manager in question. */
static int mgr_reply(ho *h, const bm_input *in, bm_sys_text t, const bm_user *u, bm_effects *out)
{
    char *v = ho_mgr_text(h->m, t, u, NULL);
    int rc = v ? reply_admin(in, v, out) : -1;
    free(v);
    return rc;
}

/* /addmanager ID NAME, /delmanager ID, /managers */
static int admin_command(ho *h, const bm_input *in, bm_effects *out)
{
    char cmd[32];
    command_name(in->text, cmd, sizeof cmd);
    const char *p = in->text;
    while (*p && !isspace((unsigned char)*p))
        p++;
    while (isspace((unsigned char)*p))
        p++;
    if (!strcmp(cmd, "managers")) {
        char *list = ho_list_managers(h);
        if (!list)
            return -1;
        text_buf tb;
        text_buf_init(&tb, 65536);
        int bad = *list ? add_mgr(h->m, &tb, BM_SYS_MGR_LIST) || text_buf_addc(&tb, '\n') ||
                              text_buf_adds(&tb, list)
                        : add_mgr(h->m, &tb, BM_SYS_MGR_LIST_EMPTY);
        free(list);
        char *t = bad ? NULL : text_buf_take(&tb);
        text_buf_free(&tb);
        int rc = t ? reply_admin(in, t, out) : -1;
        free(t);
        return rc;
    }
    char *end;
    long long id = strtoll(p, &end, 10);
    bool id_ok = end != p && id > 0 && (*end == '\0' || isspace((unsigned char)*end));
    const char *name = end;
    while (id_ok && isspace((unsigned char)*name))
        name++;
    bm_user who = {.id = id_ok ? id : 0};
    if (!strcmp(cmd, "addmanager")) {
        size_t nl = strlen(name);
        while (nl && isspace((unsigned char)name[nl - 1]))
            nl--;
        if (!id_ok || nl == 0 || nl > HO_NAME_MAX)
            return mgr_reply(h, in, BM_SYS_MGR_ADD_USAGE, NULL, out);
        char nm[HO_NAME_MAX + 1];
        memcpy(nm, name, nl);
        nm[nl] = '\0';
        if (ho_add_manager(h, id, nm))
            return -1;
        log_info("handoff", "admin %" PRId64 " made %lld (%s) a manager", in->user.id, id, nm);
        who.first_name = nm;
        return mgr_reply(h, in, BM_SYS_MGR_ADDED, &who, out);
    }
    if (!id_ok || *name)
        return mgr_reply(h, in, BM_SYS_MGR_DEL_USAGE, NULL, out);
    int r = ho_del_manager(h, id);
    if (r < 0)
        return -1;
    if (r)
        log_info("handoff", "admin %" PRId64 " removed manager %lld", in->user.id, id);
    return mgr_reply(h, in, r ? BM_SYS_MGR_REMOVED : BM_SYS_MGR_NOT_MANAGER, &who, out);
}

/* A manager's message in a topic: relayed to the client, or /close. */
static int group_message(ho *h, const bm_input *in, ho_route r, bm_effects *out)
{
    ho_handoff x;
    int found = ho_find_thread(h, in->thread_id, &x);
    if (found <= 0) {
        if (found == 0)
            log_info("handoff", "a message in topic %" PRId64 " with no open handoff; ignored",
                     in->thread_id);
        return found;
    }
    if (r == HO_R_GROUP_CLOSE) {
        if (ho_close(h, x.id, in->user.id) < 0)
            return -1;
        log_info("handoff", "handoff %" PRId64 " of user %" PRId64 " closed by manager %" PRId64,
                 x.id, x.user_id, in->user.id);
        char *note = ho_mgr_text(h->m, BM_SYS_MGR_CLOSED_BY, &in->user, NULL);
        int rc = note ? end_handoff(h, &x, note, out) : -1;
        free(note);
        return rc;
    }
    bm_session s;
    if (user_session(h, x.user_id, x.chat_id, &s))
        return -1;
    cJSON *mk = satisfied_markup(h, &s, x.id);
    bm_session_free(h->m, &s);
    if (!mk || copy_msg(out, x.chat_id, 0, h->group, in->msg_id, mk))
        return -1;
    if (in->kind == BM_IN_TEXT &&
        (store_history_add(h->st, x.user_id, "operator", STORE_HIST_HANDOFF, in->text) ||
         store_history_trim(h->st, x.user_id)))
        return -1;
    return 0;
}

/* "I'm satisfied" and the rating buttons: only the handoff's own user. */
static int button(ho *h, const bm_input *in, bm_effects *out)
{
    int64_t id = 0;
    int rating = 0;
    int kind = ho_parse_button(in->text, &id, &rating);
    if (answer_cb(in, out))
        return -1;
    ho_handoff x;
    int found = kind ? ho_find_id(h, id, &x) : 0;
    if (found < 0)
        return -1;
    if (!found || x.user_id != in->user.id) {
        log_warn("handoff", "user %" PRId64 " pressed \"%s\", which is not theirs; ignored",
                 in->user.id, in->text);
        return 0;
    }
    if (kind == 's') {
        int closed = ho_close(h, x.id, in->user.id);
        if (closed <= 0)
            return closed; /* closed before (a second press): nothing more */
        log_info("handoff", "handoff %" PRId64 " closed by its user %" PRId64, x.id, x.user_id);
        char *note = ho_mgr_text(h->m, BM_SYS_MGR_CLIENT_CLOSED, &in->user, NULL);
        int rc = note ? end_handoff(h, &x, note, out) : -1;
        free(note);
        return rc;
    }
    int r = ho_rate(h, x.id, in->user.id, rating);
    if (r <= 0)
        return r; /* open still, or rated before */
    log_info("handoff", "handoff %" PRId64 " rated %d", x.id, rating);
    bm_session s;
    if (user_session(h, x.user_id, x.chat_id, &s))
        return -1;
    char *t = bm_render(h->m, &s, &in->user, h->m->sys_texts[BM_SYS_HANDOFF_THANKS], "");
    bm_session_free(h->m, &s);
    bm_effect *e = t && in->message_id ? bm_effects_add(out, BM_FX_EDIT, in->user.chat_id) : NULL;
    if (!e) {
        free(t);
        return t ? 0 : -1;
    }
    e->message_id = in->message_id; /* the rating question becomes the thanks */
    e->text = t;
    return 0;
}

/* Whether input `in` of a user in handoff asks for an operator again (a
 * button, command or pattern whose transition is the handoff action): then
 * the machine runs it, and ho_start reuses the topic. */
static int asks_again(ho *h, const bm_input *in)
{
    const bm_machine *m = h->m;
    if (in->kind == BM_IN_CALLBACK)
        return !strcmp(in->text, "bm:operator");
    if (in->kind != BM_IN_TEXT || !m->match_text)
        return 0;
    bm_session s;
    int found = store_load_session(h->st, in->user.id, &s);
    if (found < 0)
        return -1;
    int state = found ? s.state : BM_NONE;
    if (found)
        bm_session_free(m, &s);
    int tr = m->match_text(state, in->text);
    return tr >= 0 && tr < m->n_transitions && m->transitions[tr].action == BM_ACT_HANDOFF;
}

int ho_take(ho *h, const bm_input *in, bm_effects *out)
{
    if (!h || !h->group)
        return 0;
    int mgr = 0;
    if (in->user.chat_id == h->group) {
        mgr = ho_is_manager(h, in->user.id);
        if (mgr < 0)
            return -1;
    }
    ho_route r = ho_classify(h->group, h->admin, h->bot_id, in, mgr);
    switch (r) {
    case HO_R_PASS:
        break;
    case HO_R_IGNORE:
        log_debug("handoff", "group message from %" PRId64 " ignored", in->user.id);
        /* a press is still answered: else the button spins until Telegram
         * gives up (the bot puts no buttons there, but a stale or forged
         * one can be pressed) */
        if (in->kind == BM_IN_CALLBACK && in->callback_id && *in->callback_id)
            return answer_cb(in, out) ? -1 : 1;
        return 1;
    case HO_R_GROUP_RELAY:
    case HO_R_GROUP_CLOSE:
        return group_message(h, in, r, out) < 0 ? -1 : 1;
    case HO_R_ADMIN:
        return admin_command(h, in, out) < 0 ? -1 : 1;
    case HO_R_BUTTON:
        return button(h, in, out) < 0 ? -1 : 1;
    case HO_R_USER_RELAY:
        break;
    }
    if (in->user.chat_id <= 0 || in->user.chat_id != in->user.id)
        return 0;
    ho_handoff x;
    int found = ho_find_open(h, in->user.id, &x);
    if (found <= 0)
        return found;
    int again = asks_again(h, in);
    if (again)
        return again < 0 ? -1 : 0;
    if (in->kind == BM_IN_CALLBACK) {
        /* a vote under an earlier AI answer still counts (the feedback part's fb_press
         * checks who presses; its "Call an operator" leads back here) */
        if (in->text && !strncmp(in->text, FB_CB_PREFIX, strlen(FB_CB_PREFIX)))
            return 0;
        return answer_cb(in, out) ? -1 : 1; /* a menu button: the machine is bypassed */
    }
    if (!in->msg_id)
        return 1;
    if (copy_msg(out, h->group, x.thread_id, x.chat_id, in->msg_id, NULL))
        return -1;
    if (in->kind == BM_IN_TEXT && in->from_voice) {
        /* the voice note went as it is; its transcript follows it */
        size_t n = strlen(in->text) + 8;
        char *t = malloc(n);
        if (!t)
            return -1;
        snprintf(t, n, "🎤 %s", in->text);
        int rc = send_plain(out, h->group, x.thread_id, t);
        free(t);
        if (rc)
            return -1;
    }
    if (in->kind == BM_IN_TEXT &&
        (store_history_add(h->st, in->user.id, "user", STORE_HIST_HANDOFF, in->text) ||
         store_history_trim(h->st, in->user.id)))
        return -1;
    return 1;
}

/* ---- the handoff action --------------------------------------------------------------- */

static int send_sys(ho *h, const bm_session *s, const bm_input *in, bm_sys_text t,
                    bm_effects *out)
{
    return send_user(h, s, &in->user, t, 0, 0, out);
}

/* ---- creating the topic ------------------------------------------------------
 *
 * Telegram has no idempotency key and no way to list a group's topics, so a
 * createForumTopic whose answer never arrives (the bot was killed, the
 * connection broke after the request went out) may have made a topic we do
 * not know. That cannot be prevented, only kept small and said:
 *   - before the call goes out, a 'creating' row for the user is committed
 *     (ho_after_input writes it after the deferring step's savepoint is
 *     rolled back; it commits with the inbox batch, before the request is
 *     put on the wire);
 *   - the answer's thread id is written as soon as the update runs again
 *     (in the commit of that run, the same loop turn; and, should the rest
 *     of that run fail, by ho_after_input on the 'creating' row);
 *   - a 'creating' row without a thread id seen again (after a restart the
 *     update runs again from the inbox; or the answer was lost) is logged
 *     as a possible duplicate topic and the topic is created again: the
 *     client is never left without an operator. At most HO_CREATE_TRIES
 *     attempts, then the client is told no operator is reachable.
 */

/* Asks for createForumTopic (the input is deferred) and notes the mark that
 * ho_after_input writes outside the input's savepoint. */
static int ask_topic(ho *h, const bm_session *s, const bm_input *in, bot_io_req *req)
{
    char name[HO_TOPIC_MAX + 1];
    ho_topic_name(&in->user, name, sizeof name);
    cJSON *p = cJSON_CreateObject();
    char *js = NULL;
    if (p && json_add_i64(p, "chat_id", h->group) && cJSON_AddStringToObject(p, "name", name))
        js = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    if (!js)
        return -1;
    req->kind = BOT_IO_TG_CALL;
    req->u.tg.method = "createForumTopic";
    req->u.tg.params = js;
    h->note.kind = HO_NOTE_CREATING;
    h->note.user_id = s->user_id;
    h->note.chat_id = s->chat_id;
    h->note.thread_id = 0;
    log_info("handoff", "user %" PRId64 ": creating a topic in the managers' group", s->user_id);
    return 0;
}

/* No topic after HO_CREATE_TRIES attempts: the mark goes (with the reply,
 * in the input's savepoint) and the client hears that no operator is
 * reachable now rather than nothing. */
static int give_up(ho *h, const bm_session *s, const bm_input *in, int tries, const char *why,
                   bm_effects *out)
{
    log_warn("handoff", "user %" PRId64 ": no topic after %d createForumTopic attempts (%s); "
             "up to %d topics may exist for them; they were told operators are unavailable",
             s->user_id, tries, why, tries);
    if (store_handoff_unmark(h->t, s->user_id))
        return -1;
    return send_sys(h, s, in, BM_SYS_UNAVAILABLE, out);
}

int ho_start(ho *h, const bm_session *s, const bm_input *in, const bot_io_res *res,
             bot_io_req *req, bm_effects *out)
{
    if (!req) {
        log_info("handoff", "user %" PRId64 ": operators are reachable in Telegram only",
                 s->user_id);
        return send_sys(h, s, in, BM_SYS_HANDOFF_OFF, out);
    }
    if (!h || !h->group) {
        log_info("handoff", "user %" PRId64 ": MANAGER_GROUP_CHAT_ID is not set", s->user_id);
        return send_sys(h, s, in, BM_SYS_UNAVAILABLE, out);
    }
    ho_handoff x;
    int found = ho_find_open(h, s->user_id, &x);
    if (found < 0)
        return -1;
    if (found) {
        /* a second request: the same topic; what they wrote goes there too */
        if (in->kind != BM_IN_CALLBACK && in->msg_id &&
            copy_msg(out, h->group, x.thread_id, x.chat_id, in->msg_id, NULL))
            return -1;
        return send_user(h, s, &in->user, BM_SYS_HANDOFF_STARTED, x.id, 0, out);
    }
    store_handoff_creating cr = {0};
    int creating = store_handoff_find_creating(h->t, s->user_id, &cr);
    if (creating < 0)
        return -1;
    int64_t thread = 0;
    if (!res) {
        if (req->kind != BOT_IO_NONE)
            return 0; /* one request per step */
        if (creating && cr.thread_id > 0) {
            /* Telegram's answer was stored, the rest of that run failed */
            log_info("handoff", "user %" PRId64 ": topic %" PRId64 " was created before; "
                     "using it", s->user_id, cr.thread_id);
            thread = cr.thread_id;
        } else if (creating) {
            /* the request went out and no answer was stored: the bot
             * stopped (crash, kill) while Telegram was creating it */
            if (cr.tries >= HO_CREATE_TRIES)
                return give_up(h, s, in, cr.tries, "the bot stopped during each", out);
            log_warn("handoff", "a topic may have been created twice for user %" PRId64
                     " (the bot stopped while Telegram was creating it); creating it again",
                     s->user_id);
            return ask_topic(h, s, in, req);
        } else {
            return ask_topic(h, s, in, req);
        }
    } else {
        cJSON *ans = res->ok && res->body ? cJSON_ParseWithLength(res->body, res->len) : NULL;
        const cJSON *result = cJSON_GetObjectItemCaseSensitive(ans, "result");
        if (!result || json_i64(result, "message_thread_id", &thread) || thread <= 0)
            thread = 0;
        cJSON_Delete(ans);
        if (!thread) {
            const char *why = res->error ? res->error : "no message_thread_id";
            /* a Bot API refusal (not a forum, no right to manage topics):
             * nothing was created and asking again would not help */
            if (!res->ok && res->status >= 400 && res->status < 500 && !res->maybe_taken) {
                log_warn("handoff", "user %" PRId64 ": createForumTopic failed (%s); is %" PRId64
                         " a forum supergroup where the bot may manage topics?", s->user_id,
                         why, h->group);
                if (store_handoff_unmark(h->t, s->user_id))
                    return -1;
                return send_sys(h, s, in, BM_SYS_UNAVAILABLE, out);
            }
            int tries = creating ? cr.tries : 1;
            if (tries >= HO_CREATE_TRIES)
                return give_up(h, s, in, tries, why, out);
            if (res->maybe_taken || res->ok || res->status >= 500)
                log_warn("handoff", "a topic may have been created twice for user %" PRId64
                         " (Telegram's answer to createForumTopic was lost: %s); creating it "
                         "again", s->user_id, why);
            else
                log_warn("handoff", "user %" PRId64 ": createForumTopic did not reach Telegram "
                         "(%s); trying again", s->user_id, why);
            return ask_topic(h, s, in, req);
        }
        /* kept even if the rest of this run fails (ho_after_input) */
        h->note.kind = HO_NOTE_THREAD;
        h->note.user_id = s->user_id;
        h->note.chat_id = s->chat_id;
        h->note.thread_id = thread;
    }
    int64_t id;
    if (creating) {
        if (store_handoff_promote(h->t, cr.id, thread, s->chat_id))
            return -1;
        id = cr.id;
    } else if (ho_insert(h, s->user_id, s->chat_id, thread, &id)) {
        return -1;
    }
    log_info("handoff", "user %" PRId64 ": handoff %" PRId64 " open in topic %" PRId64,
             s->user_id, id, thread);
    char *card = NULL, *conv = NULL;
    if (build_card(h, in, s->lang, &card, &conv))
        return -1;
    int rc = send_plain(out, h->group, thread, card) || send_plain(out, h->group, thread, conv) ||
             send_user(h, s, &in->user, BM_SYS_HANDOFF_STARTED, id, 0, out);
    free(card);
    free(conv);
    return rc ? -1 : 0;
}

int ho_after_input(ho *h, int outcome)
{
    if (!h)
        return 0;
    ho_note_kind kind = h->note.kind;
    h->note.kind = HO_NOTE_NONE;
    /* committed: the rows were written in the input's own savepoint */
    if (kind == HO_NOTE_NONE || outcome == HO_INPUT_COMMITTED)
        return 0;
    int rc;
    if (kind == HO_NOTE_CREATING) {
        if (outcome != HO_INPUT_DEFERRED)
            return 0; /* the step failed: no request goes out */
        rc = store_handoff_mark_creating(h->t, h->note.user_id, h->note.chat_id);
    } else {
        rc = store_handoff_mark_thread(h->t, h->note.user_id, h->note.thread_id);
    }
    if (rc) {
        log_error("handoff", "user %" PRId64 ": could not record the topic %s; a crash now "
                  "could create a second one unnoticed", h->note.user_id,
                  kind == HO_NOTE_CREATING ? "being created" : "created");
        return -1;
    }
    return 0;
}

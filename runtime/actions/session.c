/*
 * session.c — the session part and the actions `session_start`,
 * `session_end` and `session_list` (see session.h).
 *
 * Closing a session needs its summary, and the model's summary is deferred
 * I/O: each action that closes one (start, end, a continued session) runs
 * in two halves. run finds the open session; when the model is configured
 * and the input can wait, it asks for the summary (quiet: nothing is shown
 * meanwhile) and the input rolls back; resume, with the answer, closes the
 * session (the extractive summary when the model failed) and does the
 * rest. Without a model, or where nothing can wait (conversation tests),
 * both halves happen in run.
 */
#include "actions/session.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "actions/llm.h"
#include "actions/memory.h"
#include "actions/registry.h"
#include "base/log.h"
#include "storage/store.h"
#include "storage/store_session.h"

#define SESS_CB "sess:"          /* callback_data of a session_list button */
#define SESS_LIST_MAX 10         /* sessions listed (and buttons) */
#define SESS_LABEL_MAX STORE_SESSION_TITLE_MAX /* bytes of a title on a button */
#define SESS_SUMMARY_TURNS 40    /* turns the model summarises */
#define SESS_TRANSCRIPT_MAX 12000 /* bytes of them sent */
#define SESS_DIGEST_QUESTIONS 3  /* questions in an extractive summary */
#define SESS_DIGEST_Q_MAX 100    /* bytes of each */
#define SESS_SUMMARY_MAX 1500    /* bytes of a model's summary kept and shown (a memory
                                  * item's own cap; asked for 1 to 3 sentences) */

typedef struct sess_part {
    store_session *ss;
    bool remote; /* OPENAI_API_BASE is set: summaries by the model */
} sess_part;

static int part_open(bot *b, void **state, char *err, size_t errlen)
{
    sess_part *p = calloc(1, sizeof *p);
    *state = p;
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *base = getenv("OPENAI_API_BASE");
    p->remote = base && *base;
    p->ss = store_session_open(bot_store(b), err, errlen);
    return p->ss ? 0 : -1;
}

static void part_close(void *state)
{
    sess_part *p = state;
    if (!p)
        return;
    store_session_free(p->ss);
    free(p);
}

/* A session_list button: answered here, and the list action continues the
 * session it names (its text is the button's data). */
static int part_pre_step(void *state, const bm_machine *m, bm_session *s, const bm_input *in,
                         bm_effects *step_fx)
{
    (void)state;
    (void)m;
    if (in->kind != BM_IN_CALLBACK || strncmp(in->text, SESS_CB, strlen(SESS_CB)) != 0)
        return 0;
    bm_effect *e = bm_effects_add(step_fx, BM_FX_ANSWER, s->chat_id);
    if (!e || !(e->callback_id = strdup(in->callback_id ? in->callback_id : "")))
        return -1;
    e = bm_effects_add(step_fx, BM_FX_ACTION, s->chat_id);
    if (!e || !(e->text = strdup(in->text)))
        return -1;
    e->action = BM_ACT_SESSION_LIST;
    return 1;
}

static int part_forget(void *state, int64_t user_id)
{
    return store_session_delete_user(((sess_part *)state)->ss, user_id);
}

static int part_export(void *state, int64_t user_id, struct cJSON *root)
{
    cJSON *arr = cJSON_AddArrayToObject(root, "sessions");
    return arr ? store_session_export(((sess_part *)state)->ss, user_id, arr) : -1;
}

const bot_part part_session = {
    .name = "session",
    .open = part_open,
    .close = part_close,
    .pre_step = part_pre_step,
    .forget_user = part_forget,
    .export_user = part_export,
};

/* ---- summaries ------------------------------------------------------------ */

/* The session's turns as one transcript ("User: ...\nAssistant: ..."), the
 * newest SESS_TRANSCRIPT_MAX bytes, or its questions only. */
typedef struct turns_buf {
    cJSON *arr;       /* the turns as read, oldest first */
    bool questions;   /* only the user's */
} turns_buf;

static int take_turn(void *ud, const char *role, const char *text)
{
    turns_buf *t = ud;
    if (t->questions && strcmp(role, "user"))
        return 0;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(t->arr, o) || !cJSON_AddStringToObject(o, "role", role) ||
        !cJSON_AddStringToObject(o, "text", text))
        return -1;
    return 0;
}

/* The prefix of s of at most cap bytes on a UTF-8 boundary, its first line
 * only when line. */
static int utf8_cut(const char *s, size_t cap, bool line)
{
    size_t n = line ? strcspn(s, "\n") : strlen(s);
    if (n <= cap)
        return (int)n;
    n = cap;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

/* The model's summary, cut to SESS_SUMMARY_MAX bytes on a UTF-8 boundary
 * and trimmed; malloc'd, NULL on out-of-memory. */
static char *model_summary(const char *text)
{
    while (*text == ' ' || *text == '\n')
        text++;
    int n = utf8_cut(text, SESS_SUMMARY_MAX, false);
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\n'))
        n--;
    char *s = malloc((size_t)n + 1);
    if (s) {
        memcpy(s, text, (size_t)n);
        s[n] = '\0';
    }
    return s;
}

/* The extractive summary of the session: its first questions, rendered in
 * sys_session_digest; the untitled text when it has none. malloc'd, NULL on
 * an error. */
static char *digest(bot *b, sess_part *p, const bm_session *s, int64_t id)
{
    const bm_machine *m = bot_machine(b);
    turns_buf t = {.arr = cJSON_CreateArray(), .questions = true};
    if (!t.arr || store_session_turns(p->ss, s->user_id, id, SESS_SUMMARY_TURNS, take_turn, &t) < 0) {
        cJSON_Delete(t.arr);
        return NULL;
    }
    char qs[SESS_DIGEST_QUESTIONS * (SESS_DIGEST_Q_MAX + 8)] = "";
    size_t n = 0;
    int k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, t.arr) {
        if (k == SESS_DIGEST_QUESTIONS)
            break;
        const char *q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "text"));
        if (!q)
            continue;
        int ql = utf8_cut(q, SESS_DIGEST_Q_MAX, true);
        n += (size_t)snprintf(qs + n, sizeof qs - n, "%s%.*s%s", k ? " · " : "", ql, q,
                              ql < (int)strlen(q) ? "…" : "");
        k++;
    }
    cJSON_Delete(t.arr);
    if (k == 0)
        return bm_render(m, s, NULL, m->sys_texts[BM_SYS_SESSION_UNTITLED], "");
    return bm_render(m, s, NULL, m->sys_texts[BM_SYS_SESSION_DIGEST], qs);
}

static const char SUMMARY_PROMPT[] =
    "Summarize this conversation between a user and an AI assistant in one to three short "
    "sentences: what the user wanted and what was concluded. Write in the language of the "
    "conversation. Plain text, no lists, no preamble.";

/* The model's request for the summary of the user's session id. */
static char *summary_request(sess_part *p, int64_t user_id, int64_t id)
{
    turns_buf t = {.arr = cJSON_CreateArray()};
    if (!t.arr || store_session_turns(p->ss, user_id, id, SESS_SUMMARY_TURNS, take_turn, &t) <= 0) {
        cJSON_Delete(t.arr);
        return NULL;
    }
    /* the newest turns that fit */
    int n = cJSON_GetArraySize(t.arr), from = n;
    size_t total = 0;
    while (from > 0) {
        const char *x = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(t.arr, from - 1), "text"));
        size_t l = (x ? strlen(x) : 0) + 16;
        if (total + l > SESS_TRANSCRIPT_MAX && from < n)
            break;
        total += l;
        from--;
    }
    char *tr = malloc(total + 1);
    size_t w = 0;
    for (int i = from; tr && i < n; i++) {
        const cJSON *o = cJSON_GetArrayItem(t.arr, i);
        const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "role"));
        const char *x = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "text"));
        int xl = utf8_cut(x ? x : "", total - w > 16 ? total - w - 16 : 0, false);
        w += (size_t)snprintf(tr + w, total + 1 - w, "%s: %.*s\n",
                              role && !strcmp(role, "user") ? "User" : "Assistant", xl, x ? x : "");
    }
    cJSON_Delete(t.arr);
    if (!tr)
        return NULL;
    cJSON *arr = cJSON_CreateArray();
    cJSON *sm = arr ? cJSON_AddObjectToObject(arr, "") : NULL;
    cJSON *um = NULL;
    bool ok = sm && cJSON_AddStringToObject(sm, "role", "system") &&
              cJSON_AddStringToObject(sm, "content", SUMMARY_PROMPT) &&
              (um = cJSON_AddObjectToObject(arr, "")) &&
              cJSON_AddStringToObject(um, "role", "user") &&
              cJSON_AddStringToObject(um, "content", tr);
    free(tr);
    char *js = ok ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return js;
}

long act_session_summary_tokens(long prompt_tokens, long completion_tokens, size_t asked,
                               size_t answer)
{
    if (prompt_tokens > 0 || completion_tokens > 0)
        return (prompt_tokens > 0 ? prompt_tokens : 0) +
               (completion_tokens > 0 ? completion_tokens : 0);
    return (long)((asked + answer) / 4) + 1; /* the server said nothing: 4 bytes a token */
}

/* The closed session's summary becomes a long-term memory item (kind
 * "summary", actions/memory.h); the session row keeps it too, for
 * /list_sessions and the export. */
static int keep_summary(bot *b, int64_t user_id, int64_t id, const char *summary)
{
    log_info("bot", "user %" PRId64 ": session %" PRId64 " closed (summary: %zu bytes)", user_id,
             id, strlen(summary));
    return memory_keep(b, user_id, "summary", summary, id);
}

/* Closes the user's open session (see the top of this file). 0 when done
 * (*shown: the summary to show, malloc'd, or NULL when no session with a
 * turn was open), 1 when the summary was asked of the model (the input
 * waits), -1 on error. */
static int close_open(bot_act *c, sess_part *p, char **shown)
{
    *shown = NULL;
    store_session_row r;
    char title[STORE_SESSION_TITLE_MAX + 1];
    int k = store_session_current(p->ss, c->s->user_id, &r, title);
    if (k <= 0)
        return k;
    if (r.turns == 0) /* nothing in it to keep */
        return store_session_drop(p->ss, c->s->user_id, r.id);
    const bot_io_res *res = c->io_res;
    char *sum = NULL;
    if (res) { /* the answer to our summary request: the only one we ask */
        char *asked = summary_request(p, c->s->user_id, r.id); /* to estimate, as llm does */
        if (act_llm_count(c->b, c->s->user_id,
                          act_session_summary_tokens(res->prompt_tokens,
                                                     res->completion_tokens,
                                                     asked ? strlen(asked) : 0, res->len))) {
            free(asked);
            return -1;
        }
        free(asked);
        if (res->ok && res->body && *res->body) {
            if (!(sum = model_summary(res->body)))
                return -1;
        } else
            log_warn("bot", "user %" PRId64 ": no summary from the model (%s); an extractive one",
                     c->s->user_id, res->error ? res->error : "empty");
    } else if (p->remote && bot_act_can_defer(c) && act_llm_allowed(c->b, c->s->user_id)) {
        /* (a user whose daily tokens are spent gets the extractive one) */
        char *msgs = summary_request(p, c->s->user_id, r.id);
        if (msgs) {
            c->io_req->kind = BOT_IO_LLM;
            c->io_req->u.llm.messages = msgs;
            c->io_req->u.llm.chat_id = c->s->chat_id;
            c->io_req->u.llm.private_chat = c->s->chat_id > 0;
            c->io_req->u.llm.quiet = 1;
            return 1;
        }
    }
    if (!sum)
        sum = digest(c->b, p, c->s, r.id);
    if (!sum || store_session_close(p->ss, c->s->user_id, r.id, sum, 0) < 0 ||
        keep_summary(c->b, c->s->user_id, r.id, sum)) {
        free(sum);
        return -1;
    }
    *shown = sum;
    return 0;
}

/* sys_session_ended with the summary, when a session was closed. */
static int say_ended(bot_act *c, char *shown)
{
    if (!shown)
        return 0;
    const bm_machine *m = bot_machine(c->b);
    int rc = bot_act_say(c, bm_render(m, c->s, &c->in->user, m->sys_texts[BM_SYS_SESSION_ENDED],
                                      shown));
    free(shown);
    return rc;
}

/* ---- the actions ---------------------------------------------------------- */

static int session_start_run(bot_act *c)
{
    sess_part *p = bot_part_state(c->b, BOT_PART_SESSION);
    char *shown;
    int k = close_open(c, p, &shown);
    if (k != 0)
        return k < 0 ? -1 : 0;
    int64_t id;
    if (say_ended(c, shown) || store_session_start(p->ss, c->s->user_id, c->s->chat_id, &id) ||
        store_history_close_ai(bot_store(c->b), c->s->user_id))
        return -1;
    log_info("bot", "user %" PRId64 ": session %" PRId64 " opened", c->s->user_id, id);
    return bot_act_say_sys(c, BM_SYS_SESSION_STARTED);
}

const bot_action act_session_start = {.name = "session_start", .run = session_start_run};

static int session_end_run(bot_act *c)
{
    sess_part *p = bot_part_state(c->b, BOT_PART_SESSION);
    char *shown;
    int k = close_open(c, p, &shown);
    if (k != 0)
        return k < 0 ? -1 : 0;
    if (!shown)
        return bot_act_say_sys(c, BM_SYS_SESSION_NONE);
    return say_ended(c, shown);
}

const bot_action act_session_end = {.name = "session_end", .run = session_end_run};

/* The list being built: its text and its buttons. */
typedef struct list_ctx {
    bot_act *c;
    char *text;
    size_t len;
    bm_button_out *btn;
    int n;
    bool failed;
} list_ctx;

static int list_row(void *ud, const store_session_row *r)
{
    list_ctx *l = ud;
    const bm_machine *m = bot_machine(l->c->b);
    const char *title = *r->title ? r->title
                                  : bm_text(m, m->sys_texts[BM_SYS_SESSION_UNTITLED], l->c->s->lang);
    char day[16] = "?";
    time_t t = (time_t)r->opened;
    struct tm tm;
    if (gmtime_r(&t, &tm))
        strftime(day, sizeof day, "%Y-%m-%d", &tm);
    char line[STORE_SESSION_TITLE_MAX + 64];
    int n = snprintf(line, sizeof line, "\n%d. %s%s · %s · 💬 %d", l->n + 1, r->closed ? "" : "🟢 ",
                     day, title, r->turns);
    char *text = realloc(l->text, l->len + (size_t)n + 1);
    if (!text)
        return -1;
    memcpy(text + l->len, line, (size_t)n + 1);
    l->text = text;
    l->len += (size_t)n;
    char label[SESS_LABEL_MAX + 16], data[32];
    int tl = utf8_cut(title, SESS_LABEL_MAX, true);
    snprintf(label, sizeof label, "%d. %.*s%s", l->n + 1, tl, title,
             tl < (int)strlen(title) ? "…" : "");
    snprintf(data, sizeof data, SESS_CB "%" PRId64, r->id);
    bm_button_out *b = &l->btn[l->n];
    *b = (bm_button_out){.label = strdup(label), .data = strdup(data), .kind = BM_BTN_CALLBACK};
    l->n++;
    return b->label && b->data ? 0 : -1;
}

static int list_sessions(bot_act *c, sess_part *p)
{
    const bm_machine *m = bot_machine(c->b);
    list_ctx l = {.c = c, .btn = calloc(SESS_LIST_MAX, sizeof *l.btn)};
    l.text = bm_render(m, c->s, &c->in->user, m->sys_texts[BM_SYS_SESSIONS_LIST], "");
    l.len = l.text ? strlen(l.text) : 0;
    int n = l.text && l.btn ? store_session_list(p->ss, c->s->user_id, SESS_LIST_MAX, list_row, &l)
                            : -1;
    int *row_len = n > 0 ? calloc((size_t)n, sizeof *row_len) : NULL;
    bm_effect *e = n > 0 && row_len ? bm_effects_add(c->out, BM_FX_SEND, c->s->chat_id) : NULL;
    if (!e) {
        for (int i = 0; i < l.n; i++) {
            free(l.btn[i].label);
            free(l.btn[i].data);
        }
        free(l.btn);
        free(l.text);
        free(row_len);
        return n == 0 ? bot_act_say_sys(c, BM_SYS_SESSIONS_EMPTY) : -1;
    }
    for (int i = 0; i < n; i++)
        row_len[i] = 1;
    e->text = l.text;
    e->markup = (bm_markup){.kind = BM_MK_INLINE, .n_rows = n, .row_len = row_len,
                            .n_buttons = n, .buttons = l.btn};
    return 0;
}

/* Keeps the title of the session a continue button names. */
static int find_title(void *ud, const store_session_row *r)
{
    struct { int64_t id; char title[STORE_SESSION_TITLE_MAX + 1]; bool found; } *f = ud;
    if (r->id == f->id) {
        snprintf(f->title, sizeof f->title, "%s", r->title);
        f->found = true;
    }
    return 0;
}

/* A list button: the open session closes (unless it is that one) and the
 * session the button names opens again, its turns the model's context. */
static int continue_session(bot_act *c, sess_part *p, int64_t id)
{
    const bm_machine *m = bot_machine(c->b);
    struct { int64_t id; char title[STORE_SESSION_TITLE_MAX + 1]; bool found; } f = {.id = id};
    if (store_session_list(p->ss, c->s->user_id, -1, find_title, &f) < 0)
        return -1;
    if (!f.found)
        return bot_act_say_sys(c, BM_SYS_SESSION_GONE);
    store_session_row r;
    char title[STORE_SESSION_TITLE_MAX + 1];
    int k = store_session_current(p->ss, c->s->user_id, &r, title);
    if (k < 0)
        return -1;
    if (k == 0 || r.id != id) {
        char *shown;
        k = close_open(c, p, &shown);
        if (k != 0)
            return k < 0 ? -1 : 0;
        if (say_ended(c, shown) || store_session_reopen(p->ss, c->s->user_id, id) < 0)
            return -1;
        log_info("bot", "user %" PRId64 ": session %" PRId64 " continued", c->s->user_id, id);
    }
    const char *t = *f.title ? f.title
                             : bm_text(m, m->sys_texts[BM_SYS_SESSION_UNTITLED], c->s->lang);
    return bot_act_say(c, bm_render(m, c->s, &c->in->user,
                                    m->sys_texts[BM_SYS_SESSION_CONTINUED], t));
}

static int session_list_run(bot_act *c)
{
    sess_part *p = bot_part_state(c->b, BOT_PART_SESSION);
    if (!strncmp(c->text, SESS_CB, strlen(SESS_CB))) {
        char *end = NULL;
        long long id = strtoll(c->text + strlen(SESS_CB), &end, 10);
        if (end && !*end && id > 0)
            return continue_session(c, p, (int64_t)id);
    }
    return list_sessions(c, p);
}

const bot_action act_session_list = {.name = "session_list", .run = session_list_run};

/* ---- for the llm action --------------------------------------------------- */

int act_session_turns(bot_act *c, int max, int (*fn)(void *ud, const char *role, const char *text),
                      void *ud)
{
    sess_part *p = bot_part_state(c->b, BOT_PART_SESSION);
    store_session_row r;
    char title[STORE_SESSION_TITLE_MAX + 1];
    int k = p ? store_session_current(p->ss, c->s->user_id, &r, title) : 0;
    if (k <= 0)
        return k;
    return store_session_turns(p->ss, c->s->user_id, r.id, max, fn, ud);
}

/* The spec's idle limit in seconds, 0 = none. */
static long idle_limit(bot *b)
{
    const bm_machine *m = bot_machine(b);
    return m->llm ? m->llm->session_idle : 0;
}

int act_session_expire(bot_act *c)
{
    sess_part *p = bot_part_state(c->b, BOT_PART_SESSION);
    long idle = idle_limit(c->b);
    if (!p || idle <= 0)
        return 0;
    store_session_row r;
    char title[STORE_SESSION_TITLE_MAX + 1];
    int k = store_session_current(p->ss, c->s->user_id, &r, title);
    if (k <= 0 || r.at >= (int64_t)time(NULL) - idle)
        return k < 0 ? -1 : 0;
    if (r.turns == 0)
        return store_session_drop(p->ss, c->s->user_id, r.id);
    char *sum = digest(c->b, p, c->s, r.id);
    int rc = sum && store_session_close(p->ss, c->s->user_id, r.id, sum, 0) >= 0 &&
                     keep_summary(c->b, c->s->user_id, r.id, sum) == 0 ? 0 : -1;
    if (rc == 0)
        log_info("bot", "user %" PRId64 ": session %" PRId64 " idle; closed before the question",
                 c->s->user_id, r.id);
    free(sum);
    return rc;
}

int act_session_record_user(bot *b, int64_t user_id, int64_t chat_id, const char *question,
                            const char *answer)
{
    sess_part *p = bot_part_state(b, BOT_PART_SESSION);
    if (!p)
        return 0;
    store_session_row r;
    char title[STORE_SESSION_TITLE_MAX + 1];
    int k = store_session_current(p->ss, user_id, &r, title);
    if (k < 0)
        return -1;
    if (k == 0) {
        if (store_session_start(p->ss, user_id, chat_id, &r.id))
            return -1;
        log_info("bot", "user %" PRId64 ": session %" PRId64 " opened by a question", user_id,
                 r.id);
    }
    return store_session_add_turn(p->ss, user_id, r.id, "user", question) ||
                   store_session_add_turn(p->ss, user_id, r.id, "assistant", answer)
               ? -1
               : 0;
}

int act_session_record(bot_act *c, const char *question, const char *answer)
{
    return act_session_record_user(c->b, c->s->user_id, c->s->chat_id, question, answer);
}

/* ---- the idle sweep -------------------------------------------------------- */

typedef struct due_ctx {
    act_idle *out;
    int n;
} due_ctx;

static int take_due(void *ud, const store_session_row *r)
{
    due_ctx *d = ud;
    d->out[d->n++] = (act_idle){.user_id = r->user_id, .id = r->id, .at = r->at};
    return 0;
}

int act_session_idle_due(bot *b, int64_t now, act_idle *out, int max)
{
    sess_part *p = bot_part_state(b, BOT_PART_SESSION);
    long idle = idle_limit(b);
    if (!p || idle <= 0 || max <= 0)
        return 0;
    due_ctx d = {.out = out};
    return store_session_idle(p->ss, now - idle, max, take_due, &d) < 0 ? -1 : d.n;
}

char *act_session_summary_request(bot *b, const act_idle *k)
{
    sess_part *p = bot_part_state(b, BOT_PART_SESSION);
    return p ? summary_request(p, k->user_id, k->id) : NULL;
}

int act_session_idle_close(bot *b, const act_idle *k, const char *summary, long tokens)
{
    sess_part *p = bot_part_state(b, BOT_PART_SESSION);
    store *st = bot_store(b);
    if (!p)
        return 0;
    bm_session s;
    if (store_begin(st))
        return -1;
    int found = store_load_session(st, k->user_id, &s);
    char *sum = NULL;
    int rc = found < 0 || (found > 0 && act_llm_count(b, k->user_id, tokens)) ? -1 : 0;
    if (found > 0 && rc == 0) {
        sum = summary && *summary ? model_summary(summary) : digest(b, p, &s, k->id);
        rc = !sum ? -1 : store_session_close(p->ss, k->user_id, k->id, sum, k->at);
        if (rc > 0 && keep_summary(b, k->user_id, k->id, sum))
            rc = -1;
        bm_session_free(bot_machine(b), &s);
    }
    if (found == 0) /* the user is gone (deleted): their sessions went with them */
        rc = store_session_drop(p->ss, k->user_id, k->id) ? -1 : 0;
    free(sum);
    if (rc < 0) {
        store_rollback(st);
        return -1;
    }
    if (store_commit(st))
        return -1;
    if (rc > 0)
        log_info("bot", "user %" PRId64 ": session %" PRId64 " closed after being idle (%s summary)",
                 k->user_id, k->id, summary && *summary ? "the model's" : "an extractive");
    return rc;
}

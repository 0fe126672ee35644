/*
 * bot.c — one running bot: load a session, step the machine, answer the
 * actions the runtime owns, persist, all in one transaction (see bot.h).
 *
 * Actions go through a table of handlers indexed by bm_action. This issue
 * answers export_data and delete_data; every other action gets the
 * sys_unavailable text until a later issue plugs its handler into the
 * table (LLM, handoff, transcription, AI sessions).
 */
#include "dialogue/bot.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "people/feedback.h"
#include "people/handoff.h"
#include "ai/kb.h"
#include "people/lead.h"
#include "ai/token_limits.h"
#include "base/log.h"
#include "storage/store.h"
#include "base/text.h"

#define BOT_HTTP_ANSWER_MAX 4096 /* UTF-16 units of an http_get answer sent */
#define BOT_LLM_TURNS 6          /* earlier messages with the model in its request */

struct bot {
    const bm_machine *m;
    store *st;
    kb *kb;                  /* the spec's knowledge, NULL without any */
    lim *lim;                /* daily token limits (token_limits.h) */
    fb *fb;                  /* feedback buttons and votes (feedback.h) */
    lead_book *leads;        /* completed forms for the managers (lead.h) */
    ho *ho;                  /* human operators (handoff.h) */
    bool llm_remote;         /* OPENAI_API_BASE is set */
    char *http_get_url;      /* BOT_HTTP_GET_URL, NULL = http_get unavailable */
    char error[256];         /* why the last bot_handle failed */
    const bm_trace *trace;   /* bot_set_trace */
    bot_action_hook hook;    /* bot_set_action_hook */
    void *hook_ud;
};

/* What an action handler sees and may change. */
typedef struct act_ctx {
    bot *b;
    bm_session *s;
    const bm_input *in;
    const bm_effect *act;  /* the BM_FX_ACTION effect being answered */
    bm_effects *out;       /* where its messages go, in order */
    bool deleted;          /* the user's data is gone: do not save */
    bot_tx *tx;            /* NULL: no event loop to wait in (console) */
    bool deferred;         /* an action needs tx->io_req answered first */
    /* the model's answer in out (v[ai_from..ai_to)): with the question,
     * logged as turns of the conversation with the model (STORE_HIST_AI) */
    bool ai_answered;
    int ai_from, ai_to;
} act_ctx;

/* Returns 0, or -1 to fail the whole input (rolled back). */
typedef int (*act_fn)(act_ctx *c);

static int send_owned(act_ctx *c, char *text)
{
    if (!text)
        return -1;
    bm_effect *e = bm_effects_add(c->out, BM_FX_SEND, c->s->chat_id);
    if (!e) {
        free(text);
        return -1;
    }
    e->text = text;
    return 0;
}

static int send_sys(act_ctx *c, bm_sys_text t)
{
    const bm_machine *m = c->b->m;
    return send_owned(c, bm_render(m, c->s, &c->in->user, m->sys_texts[t], c->in->text));
}

static int act_unavailable(act_ctx *c)
{
    log_info("bot", "action %d for user %" PRId64 " is not available in this build",
             (int)c->act->action, c->s->user_id);
    return send_sys(c, BM_SYS_UNAVAILABLE);
}

int bot_delete_user(bot *b, int64_t user_id)
{
    if (store_delete_user(b->st, user_id) || fb_delete_user(b->fb, user_id) ||
        ho_forget_user(b->ho, user_id) || lim_forget_user(b->lim, user_id) ||
        lead_forget_user(b->leads, user_id))
        return -1;
    return 0;
}

char *bot_export_user(bot *b, int64_t user_id)
{
    cJSON *root = cJSON_CreateObject();
    char *out = NULL;
    if (root && !store_export_into(b->st, user_id, root) &&
        !fb_export_user(b->fb, user_id, root) && !ho_export_user(b->ho, user_id, root) &&
        !lim_export_user(b->lim, user_id, root) && !lead_export_user(b->leads, user_id, root)) {
        char *js = cJSON_Print(root);
        if (js) {
            out = strdup(js);
            cJSON_free(js);
        }
    }
    cJSON_Delete(root);
    return out;
}

static int act_delete(act_ctx *c)
{
    if (bot_delete_user(c->b, c->s->user_id))
        return -1;
    c->deleted = true;
    log_info("bot", "deleted the data of user %" PRId64, c->s->user_id);
    return send_sys(c, BM_SYS_DATA_DELETED);
}

static int act_export(act_ctx *c)
{
    char *js = bot_export_user(c->b, c->s->user_id);
    if (!js)
        return -1;
    char **parts;
    int n;
    int rc = text_split(js, TEXT_TG_MAX, &parts, &n);
    free(js);
    if (rc)
        return -1;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = send_owned(c, parts[i]);
        parts[i] = NULL;
    }
    text_parts_free(parts, n);
    return rc;
}

/* %-encodes s for a query string value. */
static int url_escape(text_buf *tb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            rc = text_buf_addc(tb, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = text_buf_add(tb, e, 3);
        }
    }
    return rc;
}

/* http_get: the answer needs an HTTP GET of BOT_HTTP_GET_URL?text=..&user=..
 * The first run of the input only asks for it (the whole input is then
 * rolled back and the chat waits); the transport runs the request in its
 * event loop and runs the input again with the answer, which is sent in the
 * action's place and committed with everything else. */
static int act_http_get(act_ctx *c)
{
    bot *b = c->b;
    if (!b->http_get_url || !c->tx) {
        log_info("bot", "http_get for user %" PRId64 ": %s", c->s->user_id,
                 !b->http_get_url ? "BOT_HTTP_GET_URL is not set"
                                  : "no event loop to wait in (console)");
        return send_sys(c, BM_SYS_UNAVAILABLE);
    }
    const bot_io_res *res = c->tx->io_res;
    if (!res) {
        if (c->tx->io_req.url)
            return 0; /* a second http_get in one step: one request at a time */
        text_buf tb;
        text_buf_init(&tb, 16384);
        char uid[32];
        snprintf(uid, sizeof uid, "%" PRId64, c->s->user_id);
        int rc = text_buf_adds(&tb, b->http_get_url) ||
                 text_buf_adds(&tb, strchr(b->http_get_url, '?') ? "&text=" : "?text=") ||
                 url_escape(&tb, c->act->text ? c->act->text : "") ||
                 text_buf_adds(&tb, "&user=") || text_buf_adds(&tb, uid);
        char *url = rc ? NULL : text_buf_take(&tb);
        text_buf_free(&tb);
        if (!url)
            return -1;
        c->tx->io_req.url = url;
        c->deferred = true;
        return 0;
    }
    if (!res->ok || !res->body || !res->len || !text_utf8_valid(res->body, res->len)) {
        log_warn("bot", "http_get for user %" PRId64 " failed (%s), answering sys_unavailable",
                 c->s->user_id, res->error ? res->error : "empty or not UTF-8 text");
        return send_sys(c, BM_SYS_UNAVAILABLE);
    }
    char *body = malloc(res->len + 1);
    if (!body)
        return -1;
    memcpy(body, res->body, res->len);
    body[res->len] = '\0';
    char *t = text_truncate(body, BOT_HTTP_ANSWER_MAX);
    free(body);
    return send_owned(c, t);
}

/* ---- llm ------------------------------------------------------------------
 * Offline (no OPENAI_API_BASE), the answer is the best-matching passage of
 * the spec's knowledge (kb_extract: local and fast, so it runs inside the
 * input's transaction). When nothing matches well, or the question is one
 * the spec's handoff_patterns reserve for a human, the user gets
 * sys_no_answer with an inline "call an operator" button (BOT_CB_OPERATOR),
 * which runs the handoff action like the spec's own operator buttons.
 * With OPENAI_API_BASE set the model answers: that is a streamed transfer
 * and arrives with the event loop's asynchronous actions; until then such a
 * build answers sys_unavailable. A bot without knowledge files has nothing
 * to answer from offline, and answers sys_unavailable too. */

/* callback_data of that button; the machine's own data never has a ':'
 * prefix like this one (botc picks "<state>.<n>") */
#define BOT_CB_OPERATOR "bm:operator"

static int send_with_operator(act_ctx *c, bm_sys_text t);

/* "I could not find that": sys_no_answer with the operator button. */
static int offer_operator(act_ctx *c) { return send_with_operator(c, BM_SYS_NO_ANSWER); }

/* The earlier turns with the model (store_history_turns) as chat messages. */
static int add_turn(void *ud, const char *role, const char *text, int64_t at)
{
    (void)at;
    cJSON *m = cJSON_CreateObject();
    if (!m || !cJSON_AddItemToArray(ud, m) ||
        !cJSON_AddStringToObject(m, "role", !strcmp(role, "user") ? "user" : "assistant") ||
        !cJSON_AddStringToObject(m, "content", text))
        return -1;
    return 0;
}

/* The model's request: the grounded system prompt (persona, policy, the
 * best chunks for q in the user's language), the user's recent history, q.
 * A malloc'd JSON array, NULL on out-of-memory. */
static char *llm_messages(act_ctx *c, const char *q)
{
    bot *b = c->b;
    const bm_machine *m = b->m;
    const bm_llm *l = m->llm;
    const char *lang = m->langs[c->s->lang];
    kb_hit hits[4];
    int n = b->kb ? kb_search(b->kb, q, lang, hits, 4) : 0;
    if (n <= 0 && b->kb) /* nothing in the user's language: any language */
        n = kb_search(b->kb, q, NULL, hits, 4);
    if (n < 0)
        n = 0;
    char *persona = l->persona != BM_NONE ? bm_render(m, c->s, &c->in->user, l->persona, q) : NULL;
    char *policy = l->policy != BM_NONE ? bm_render(m, c->s, &c->in->user, l->policy, q) : NULL;
    char *sys = kb_system_prompt(persona, policy, l->strict, lang, hits, n, 6000);
    free(persona);
    free(policy);
    cJSON *arr = cJSON_CreateArray();
    cJSON *sm = arr ? cJSON_AddObjectToObject(arr, "") : NULL;
    bool ok = sys && sm && cJSON_AddStringToObject(sm, "role", "system") &&
              cJSON_AddStringToObject(sm, "content", sys);
    free(sys);
    cJSON *um = NULL;
    ok = ok && store_history_turns(b->st, c->s->user_id, BOT_LLM_TURNS, add_turn, arr) >= 0 &&
         (um = cJSON_AddObjectToObject(arr, "")) &&
         cJSON_AddStringToObject(um, "role", "user") && cJSON_AddStringToObject(um, "content", q);
    char *js = ok ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return js;
}

/* The online llm action. First run: the request goes to the transport
 * (deferred; it streams the answer into the chat as drafts). Second run,
 * with the whole answer: the marker offers the operator, a failure says
 * sys_llm_down with the operator button, else the answer goes as the final
 * message(s) — committed to the outbox with the new state, so it is
 * delivered even if every draft was dropped. Tokens are recorded per user
 * and day (the server's usage, else an estimate of 4 bytes a token). */
static int llm_online(act_ctx *c, const char *q)
{
    bot *b = c->b;
    const bot_io_res *res = c->tx->io_res;
    if (!res) {
        if (c->tx->io_req.url || c->tx->io_req.tg_method || c->tx->io_req.llm_messages)
            return 0; /* one request per step */
        char *msgs = llm_messages(c, q);
        if (!msgs)
            return -1;
        c->tx->io_req.llm_messages = msgs;
        c->tx->io_req.llm_model = b->m->llm->model ? strdup(b->m->llm->model) : NULL;
        c->tx->io_req.chat_id = c->s->chat_id;
        c->tx->io_req.private_chat = c->s->chat_id > 0;
        c->deferred = true;
        return 0;
    }
    long used = 0;
    if (res->prompt_tokens > 0 || res->completion_tokens > 0) {
        used = (res->prompt_tokens > 0 ? res->prompt_tokens : 0) +
               (res->completion_tokens > 0 ? res->completion_tokens : 0);
    } else {
        char *msgs = llm_messages(c, q); /* the same request, to estimate it */
        used = (long)((msgs ? strlen(msgs) : strlen(q)) + res->len) / 4 + 1;
        free(msgs);
    }
    if (b->lim && lim_record(b->lim, c->s->user_id, used))
        return -1;
    if (!res->ok || !res->body) {
        log_warn("bot", "user %" PRId64 ": no model answer (%s)", c->s->user_id,
                 res->error ? res->error : "?");
        return send_with_operator(c, BM_SYS_LLM_DOWN);
    }
    if (strstr(res->body, KB_MARKER)) {
        log_info("bot", "user %" PRId64 ": the knowledge does not answer (marker)",
                 c->s->user_id);
        return offer_operator(c);
    }
    char **parts;
    int n;
    if (text_split(res->body, TEXT_TG_MAX, &parts, &n))
        return -1;
    int rc = 0;
    c->ai_from = c->out->n;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = send_owned(c, parts[i]);
        parts[i] = NULL;
    }
    text_parts_free(parts, n);
    c->ai_to = c->out->n;
    c->ai_answered = rc == 0;
    return rc;
}

static int act_llm(act_ctx *c)
{
    bot *b = c->b;
    const bm_machine *m = b->m;
    const char *q = c->act->text ? c->act->text : "";
    if (!m->llm || (!b->kb && !b->llm_remote))
        return act_unavailable(c);
    for (int i = 0; i < m->llm->n_handoff; i++) {
        if (m->match_regex && m->match_regex(m->llm->handoff[i], q)) {
            log_info("bot", "user %" PRId64 ": a question for a human (handoff pattern %d)",
                     c->s->user_id, i);
            return offer_operator(c);
        }
    }
    if (b->llm_remote && c->tx)
        return llm_online(c, q);
    if (!b->kb) /* the console has no event loop to stream in */
        return send_sys(c, BM_SYS_UNAVAILABLE);
    char *answer = NULL;
    int found = kb_extract(b->kb, q, m->langs[c->s->lang], &answer);
    if (found < 0)
        log_error("bot", "user %" PRId64 ": knowledge search failed", c->s->user_id);
    if (found <= 0)
        return offer_operator(c);
    char **parts;
    int n;
    int rc = text_split(answer, TEXT_TG_MAX, &parts, &n);
    free(answer);
    if (rc)
        return -1;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = send_owned(c, parts[i]);
        parts[i] = NULL;
    }
    text_parts_free(parts, n);
    return rc;
}

/* Open the knowledge index of the spec's `llm:`. */
static int open_knowledge(bot *b, char *err, size_t errlen)
{
    const bm_llm *l = b->m->llm;
    const char *base = getenv("OPENAI_API_BASE");
    b->llm_remote = base && *base;
    if (!l || l->n_knowledge == 0)
        return 0;
    kb_doc *docs = calloc((size_t)l->n_knowledge, sizeof *docs);
    if (!docs) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < l->n_knowledge; i++) {
        const bm_knowledge *k = &l->knowledge[i];
        docs[i] = (kb_doc){.name = k->name, .text = k->text, .len = k->len,
                           .lang = k->lang >= 0 && k->lang < b->m->n_langs ? b->m->langs[k->lang]
                                                                          : NULL};
    }
    b->kb = kb_open(docs, l->n_knowledge, err, errlen);
    free(docs);
    if (!b->kb)
        return -1;
    log_info("bot", "knowledge: %d chunks from %d files; answers %s", kb_chunk_count(b->kb),
             l->n_knowledge, b->llm_remote ? "by the model" : "offline, from the passages");
    return 0;
}

/* handoff: the mechanics are handoff.c's; creating the topic waits in the
 * event loop like http_get (createForumTopic through tx->io_req). */
static int act_handoff(act_ctx *c)
{
    int deferred = 0;
    int rc = ho_start(c->b->ho, c->s, c->in, c->tx, &deferred, c->out);
    if (deferred)
        c->deferred = true;
    return rc;
}

static const act_fn actions[BM_ACT_COUNT] = {
    [BM_ACT_HANDOFF] = act_handoff,
    [BM_ACT_EXPORT_DATA] = act_export,
    [BM_ACT_DELETE_DATA] = act_delete,
    [BM_ACT_LLM] = act_llm,
    [BM_ACT_HTTP_GET] = act_http_get,
};

/* bm_step, except for a press of the operator button of a no-answer
 * reply: the machine has no such button, so the step is the press's answer
 * plus the handoff action, as if a spec button with `action: handoff` had
 * been pressed. */
static int step_or_operator(const bm_machine *m, bm_session *s, const bm_input *in,
                            bm_effects *fx)
{
    if (in->kind != BM_IN_CALLBACK || !in->text || strcmp(in->text, BOT_CB_OPERATOR))
        return bm_step(m, s, in, fx);
    if (in->user.chat_id)
        s->chat_id = in->user.chat_id;
    if (in->user.language_code && *in->user.language_code)
        s->lang = bm_lang_for(m, in->user.language_code);
    bm_effect *e = bm_effects_add(fx, BM_FX_ANSWER, s->chat_id);
    if (!e || !(e->callback_id = strdup(in->callback_id ? in->callback_id : "")))
        return -1;
    e = bm_effects_add(fx, BM_FX_ACTION, s->chat_id);
    if (!e || !(e->text = strdup("")))
        return -1;
    e->action = BM_ACT_HANDOFF;
    return 0;
}

/* ---- limits, feedback, leads (token_limits.h, feedback.h, lead.h) -------------- */

/* Managers and the admin answer customers: the token limit is not for them. */
static int user_is_manager(bot *b, int64_t user_id)
{
    return ho_is_manager(b->ho, user_id);
}

/* sys text t with the inline "call an operator" button (BOT_CB_OPERATOR). */
static int send_with_operator(act_ctx *c, bm_sys_text t)
{
    const bm_machine *m = c->b->m;
    char *text = bm_render(m, c->s, &c->in->user, m->sys_texts[t], c->in->text);
    char *label = bm_render(m, c->s, &c->in->user, m->sys_texts[BM_SYS_OPERATOR], "");
    char *data = strdup(BOT_CB_OPERATOR);
    int *row_len = malloc(sizeof *row_len);
    bm_button_out *btn = calloc(1, sizeof *btn);
    bm_effect *e = text && label && data && row_len && btn
                       ? bm_effects_add(c->out, BM_FX_SEND, c->s->chat_id) : NULL;
    if (!e) {
        free(text);
        free(label);
        free(data);
        free(row_len);
        free(btn);
        return -1;
    }
    e->text = text;
    row_len[0] = 1;
    *btn = (bm_button_out){.label = label, .data = data, .kind = BM_BTN_CALLBACK};
    e->markup = (bm_markup){.kind = BM_MK_INLINE, .n_rows = 1, .row_len = row_len,
                            .n_buttons = 1, .buttons = btn};
    return 0;
}

/* Before the llm action: 1 when the user may have an answer, 0 when the
 * daily limit is reached (sys_limit_reached and the operator button sent),
 * -1 on out-of-memory. A database error lets the answer through (logged by
 * lim_check): a broken counter should not silence the bot. */
static int llm_allowed(act_ctx *c)
{
    bot *b = c->b;
    if (!b->lim || lim_daily(b->lim) <= 0)
        return 1;
    if (lim_check(b->lim, c->s->user_id, user_is_manager(b, c->s->user_id)) != 0)
        return 1;
    return send_with_operator(c, BM_SYS_LIMIT_REACHED) ? -1 : 0;
}

/* After the llm action: its last message (fx from `first` on), when it is
 * an answer (no markup of its own: the operator offers have one), gets
 * "👍 Helped" / "Call an operator". */
static int attach_feedback(bot *b, const bm_session *s, const bm_input *in, bm_effects *fx,
                           int first)
{
    for (int j = fx->n - 1; b->fb && j >= first; j--) {
        bm_effect *e = &fx->v[j];
        if (e->kind != BM_FX_SEND)
            continue;
        /* "not available in this build" is no answer to vote on */
        char *na = bm_render(b->m, s, &in->user, b->m->sys_texts[BM_SYS_UNAVAILABLE], in->text);
        int unavailable = !na || (e->text && !strcmp(na, e->text));
        free(na);
        return unavailable ? 0 : fb_attach(b->fb, b->m, s, &in->user, e);
    }
    return 0;
}

/* A press of a feedback button is answered here (the vote stored when the
 * presser is the answer's user; "Call an operator" then runs the handoff);
 * any other input steps the machine. */
static int step_input(bot *b, bm_session *s, const bm_input *in, bm_effects *fx)
{
    int k = b->fb ? fb_press(b->fb, in) : FB_NOT_MINE;
    if (k < 0)
        return -1;
    if (k == FB_NOT_MINE)
        return step_or_operator(b->m, s, in, fx);
    if (k == FB_OPERATOR) {
        bm_input op = *in;
        op.text = BOT_CB_OPERATOR;
        return step_or_operator(b->m, s, &op, fx);
    }
    bm_effect *e = bm_effects_add(fx, BM_FX_ANSWER, s->chat_id);
    if (!e || !(e->callback_id = strdup(in->callback_id ? in->callback_id : "")))
        return -1;
    return 0;
}

/* The three handles above, on the bot's store. */
static int open_extras(bot *b, char *err, size_t errlen)
{
    const bm_machine *m = b->m;
    const bm_llm *l = m->llm;
    if (l && lim_zone_setup(l->timezone) == 0 && l->timezone)
        log_info("bot", "daily limits count days in %s", l->timezone);
    long daily = lim_tokens_from_env(l ? l->daily_tokens : 0);
    b->lim = lim_new(b->st, daily, lim_admin_from_env(), err, errlen);
    b->fb = b->lim ? fb_open(b->st, err, errlen) : NULL;
    int64_t group = lead_group_from_env();
    b->leads = b->fb ? lead_open(b->st, m, group, err, errlen) : NULL;
    if (!b->leads)
        return -1;
    if (daily > 0)
        log_info("bot", "AI answers: %ld tokens per user per day", daily);
    for (int i = 0; i < m->n_forms; i++) {
        if (m->forms[i].lead != BM_LEAD_NONE && !group) {
            log_info("bot", "MANAGER_GROUP_CHAT_ID is not set: leads (form '%s') stay in the "
                     "database only (table leads)", m->forms[i].name);
            break;
        }
    }
    return 0;
}

static void free_extras(bot *b)
{
    lead_free(b->leads);
    fb_free(b->fb);
    lim_free(b->lim);
}

lead_book *bot_leads(bot *b) { return b->leads; }

bot *bot_new(const bm_machine *m, const char *db_path, char *err, size_t errlen)
{
    bot *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->m = m;
    b->st = store_open(db_path, m, err, errlen);
    if (!b->st) {
        free(b);
        return NULL;
    }
    if (open_knowledge(b, err, errlen) || open_extras(b, err, errlen) ||
        !(b->ho = ho_open(b->st, m, err, errlen))) {
        ho_free(b->ho);
        free_extras(b);
        kb_free(b->kb);
        store_close(b->st);
        free(b);
        return NULL;
    }
    const char *u = getenv("BOT_HTTP_GET_URL");
    if (u && (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8))) {
        b->http_get_url = strdup(u);
    } else if (u && *u) {
        log_warn("bot", "BOT_HTTP_GET_URL must start with http:// or https://; http_get is off");
    }
    return b;
}

void bot_free(bot *b)
{
    if (!b)
        return;
    free_extras(b);
    ho_free(b->ho);
    store_close(b->st);
    kb_free(b->kb);
    free(b->http_get_url);
    free(b);
}

store *bot_store(bot *b) { return b->st; }

const char *bot_error(const bot *b) { return b->error; }

void bot_io_req_free(bot_io_req *r)
{
    free(r->url);
    r->url = NULL;
    free(r->tg_params);
    r->tg_params = NULL;
    r->tg_method = NULL;
    free(r->llm_messages);
    free(r->llm_model);
    r->llm_messages = r->llm_model = NULL;
}

const bm_machine *bot_machine(const bot *b) { return b->m; }

void bot_set_trace(bot *b, const bm_trace *trace) { b->trace = trace; }

void bot_set_action_hook(bot *b, bot_action_hook fn, void *ud)
{
    b->hook = fn;
    b->hook_ud = ud;
}

int bot_user_exists(bot *b, int64_t user_id) { return store_user_exists(b->st, user_id); }

int bot_handle(bot *b, const bm_input *in, bm_effects *fx)
{
    int rc = bot_handle_tx(b, in, fx, NULL);
    return rc < 0 ? -1 : 0;
}

/* The one message log (store_history_*): what the user typed and what the
 * bot sent, for the operator's view of a handoff; a question the model
 * answered and its answer are marked `ai`, the model's next context. */
static int log_history(bot *b, const bm_input *in, const bm_effects *fx, int first,
                       const act_ctx *c)
{
    store_hist_kind asked = c->ai_answered ? STORE_HIST_AI : STORE_HIST_MENU;
    int added = 0;
    if (in->kind == BM_IN_TEXT && in->text && *in->text) {
        if (store_history_add(b->st, in->user.id, "user", asked, in->text))
            return -1;
        added++;
    }
    for (int i = first; i < fx->n; i++) {
        const bm_effect *e = &fx->v[i];
        store_hist_kind k = c->ai_answered && i >= c->ai_from && i < c->ai_to ? STORE_HIST_AI
                                                                             : STORE_HIST_MENU;
        if ((e->kind == BM_FX_SEND || e->kind == BM_FX_EDIT) && e->chat_id == in->user.chat_id &&
            store_history_add(b->st, in->user.id, "bot", k, e->text))
            return -1;
        added += (e->kind == BM_FX_SEND || e->kind == BM_FX_EDIT) && e->chat_id == in->user.chat_id;
    }
    return store_history_trim_due(b->st, in->user.id, added);
}

ho *bot_handoff(bot *b) { return b->ho; }

int bot_handle_tx(bot *b, const bm_input *in, bm_effects *fx, bot_tx *tx)
{
    const bm_machine *m = b->m;
    int n0 = fx->n;
    b->error[0] = '\0';
    bm_effects step_fx;
    bm_effects_init(&step_fx);
    bm_session s;
    bool have = false;

    if (store_begin(b->st))
        return -1;
    if (in->update_id > 0) {
        /* the handled mark commits with the effects: a redelivered update
         * (the process died before its offset was confirmed) is a no-op */
        int fresh = store_mark_handled(b->st, in->update_id);
        if (fresh < 0)
            goto fail;
        if (!fresh) {
            store_rollback(b->st);
            log_info("bot", "update %" PRId64 " was handled before; skipped", in->update_id);
            return BOT_DUPLICATE;
        }
    }
    /* the managers' group, handoff buttons, admin commands and users talking
     * to an operator: handoff.c answers, the machine never sees them */
    int taken = ho_take(b->ho, in, fx);
    if (taken < 0)
        goto fail;
    if (taken) {
        if ((tx && tx->fn && tx->fn(tx->ud, fx, n0)) || store_commit(b->st))
            goto fail;
        bm_effects_free(&step_fx);
        return 0;
    }
    int found = store_load_session(b->st, in->user.id, &s);
    if (found < 0)
        goto fail;
    if (!found && bm_session_init(m, &s, &in->user))
        goto fail;
    have = true;
    s.trace = b->trace;
    if (step_input(b, &s, in, &step_fx)) {
        snprintf(b->error, sizeof b->error, "out of memory in the step");
        log_error("bot", "user %" PRId64 ": out of memory in the step", in->user.id);
        goto fail;
    }

    act_ctx c = {.b = b, .s = &s, .in = in, .out = fx, .tx = tx};
    /* Effects go out in the order the machine made them; an action's
     * answer takes the action's place. */
    for (int i = 0; i < step_fx.n; i++) {
        bm_effect *e = &step_fx.v[i];
        if (e->kind == BM_FX_ACTION) {
            int hooked = b->hook ? b->hook(b->hook_ud, e, &s, in, fx) : 0;
            if (hooked < 0) {
                snprintf(b->error, sizeof b->error, "action %d failed", (int)e->action);
                goto fail;
            }
            if (hooked)
                continue;
            act_fn fn = e->action > BM_ACT_NONE && e->action < BM_ACT_COUNT && actions[e->action]
                            ? actions[e->action] : act_unavailable;
            c.act = e;
            int allowed = e->action == BM_ACT_LLM ? llm_allowed(&c) : 1;
            int before = fx->n;
            if (allowed < 0 || (allowed && fn(&c)) ||
                (allowed && e->action == BM_ACT_LLM && !c.deferred &&
                 attach_feedback(b, &s, in, fx, before))) {
                snprintf(b->error, sizeof b->error, "action %d failed", (int)e->action);
                goto fail;
            }
            continue;
        }
        if (e->kind == BM_FX_RECORD)
            continue; /* stored below */
        bm_effect *d = bm_effects_add(fx, e->kind, e->chat_id);
        if (!d)
            goto fail;
        *d = *e; /* ownership moves to fx */
        memset(e, 0, sizeof *e);
    }
    if (c.deferred) {
        /* nothing happens until the answer is there: the same input runs
         * again with it (the step is a pure function of session + input) */
        store_rollback(b->st);
        /* ...except the mark of a forum topic being created, which must be
         * durable before the request goes out (handoff.h) */
        ho_after_input(b->ho, HO_INPUT_DEFERRED);
        bm_effects_truncate(fx, n0);
        bm_session_free(m, &s);
        bm_effects_free(&step_fx);
        return BOT_DEFERRED;
    }
    if (!c.deleted) {
        if (store_save_session(b->st, &s, &in->user) || log_history(b, in, fx, n0, &c))
            goto fail;
        for (int i = 0; i < step_fx.n; i++) {
            const bm_effect *e = &step_fx.v[i];
            if (e->kind == BM_FX_RECORD &&
                (store_add_record(b->st, s.user_id, e->form, e->text) ||
                 lead_add(b->leads, e->form, e->text, &in->user, m->langs[s.lang])))
                goto fail;
        }
    }
    if (tx && tx->fn && tx->fn(tx->ud, fx, n0)) {
        snprintf(b->error, sizeof b->error, "its effects could not be stored");
        goto fail;
    }
    if (store_commit(b->st))
        goto fail;
    ho_after_input(b->ho, HO_INPUT_COMMITTED);
    bm_session_free(m, &s);
    bm_effects_free(&step_fx);
    return 0;
fail:
    if (!b->error[0])
        snprintf(b->error, sizeof b->error, "a storage error (see the log)");
    store_rollback(b->st);
    ho_after_input(b->ho, HO_INPUT_FAILED); /* a topic's thread id outlives the failure */
    bm_effects_truncate(fx, n0);
    if (have)
        bm_session_free(m, &s);
    bm_effects_free(&step_fx);
    if (tx)
        bot_io_req_free(&tx->io_req);
    log_error("bot", "user %" PRId64 ": input not handled, nothing committed", in->user.id);
    return -1;
}

int bot_migrate(bot *b, bm_effects *fx)
{
    const bm_machine *m = b->m;
    int n0 = fx->n, n = 0, moved = 0;
    store_user *us = NULL;
    if (store_begin(b->st))
        return -1;
    if (store_list_stale(b->st, &us, &n))
        goto fail;
    for (int i = 0; i < n; i++) {
        const store_user *u = &us[i];
        bm_session s;
        if (store_load_session(b->st, u->user_id, &s) != 1)
            goto fail;
        bm_user user = {.id = u->user_id, .chat_id = u->chat_id, .first_name = u->first_name,
                        .username = u->username, .language_code = u->lang};
        int to = bm_state_by_name(m, u->state);
        int rc = 0;
        if (to >= 0) {
            s.state = to; /* renamed or moved: the user keeps going there */
            log_info("bot", "user %" PRId64 ": state '%s' is now '%s'", u->user_id, u->state,
                     m->states[to].name);
        } else {
            /* the state is gone with no forwarding address: start over,
             * and say why rather than leave the user in silence */
            s.state = m->start_state;
            s.form = BM_NONE;
            s.field = BM_NONE;
            log_info("bot", "user %" PRId64 ": state '%s' no longer exists, back to '%s'",
                     u->user_id, u->state, m->states[m->start_state].name);
            char *t = bm_render(m, &s, &user, m->sys_texts[BM_SYS_MIGRATED], "");
            bm_effect *e = t ? bm_effects_add(fx, BM_FX_SEND, s.chat_id) : NULL;
            if (e)
                e->text = t;
            else
                free(t);
            rc = !e || bm_enter(m, &s, &user, m->start_state, fx);
        }
        if (!rc)
            rc = store_save_session(b->st, &s, NULL);
        bm_session_free(m, &s);
        if (rc)
            goto fail;
        moved++;
    }
    char hash[24];
    snprintf(hash, sizeof hash, "%016" PRIx64, m->shape_hash);
    int found = 0;
    char *old = store_get_meta(b->st, "shape_hash", &found);
    if (found < 0)
        goto fail;
    if (old && strcmp(old, hash))
        log_info("bot", "the machine changed (shape %s -> %s)", old, hash);
    free(old);
    if (store_set_meta(b->st, "shape_hash", hash) || store_commit(b->st))
        goto fail;
    store_users_free(us, n);
    return moved;
fail:
    store_rollback(b->st);
    store_users_free(us, n);
    bm_effects_truncate(fx, n0);
    log_error("bot", "migration failed, nothing changed");
    return -1;
}

/*
 * draft.c — see draft.h.
 */
#include "delivery/draft.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ai/kb.h"
#include "ai/llm.h"
#include "ai/toolchat.h"
#include "base/json.h"
#include "base/jsonw.h"
#include "base/log.h"
#include "base/markdown.h"
#include "base/text.h"
#include "net/loop.h"

#define DRAFT_TYPING_MS 4500
#define DRAFT_FORCE_MS 1000

typedef struct draft_job {
    struct draft_job *prev, *next;
    draft_ctx *d;
    toolchat *call;      /* the answer, with the spec's tools (ai/toolchat.h) */
    draft_done_fn fn;
    void *ud;
    int64_t chat_id;
    bool private_chat;
    bool quiet;          /* the request's u.llm.quiet: no drafts, no typing */
    int draft_id;
    kb_marker mk;
    text_buf shown;      /* text that may be shown (marker held back) */
    size_t fed;          /* bytes of the answer fed to the marker watcher */
    size_t sent_len;     /* shown.len at the last draft */
    bool full;           /* the draft shows the whole first message: no more drafts */
    long last_draft, last_typing;
} draft_job;

struct draft_ctx {
    loop *lp;
    outq *q;
    llm_client *llm;
    bool llm_failed;     /* no OPENAI_API_BASE or a bad one: logged once */
    draft_job *head;
    int n;
    int next_id;
};

draft_ctx *draft_new(loop *lp, outq *q)
{
    draft_ctx *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->lp = lp;
    d->q = q;
    d->next_id = (int)(time(NULL) % 1000000) * 1000 + 1;
    return d;
}

static void job_unlink(draft_job *j)
{
    draft_ctx *d = j->d;
    if (j->prev)
        j->prev->next = j->next;
    else
        d->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    d->n--;
}

static void job_finish(draft_job *j, const bot_io_res *res)
{
    job_unlink(j);
    if (j->fn)
        j->fn(j->ud, res);
    text_buf_free(&j->shown);
    free(j);
}

void draft_free(draft_ctx *d)
{
    if (!d)
        return;
    while (d->head) {
        draft_job *j = d->head;
        toolchat_cancel(j->call);
        j->call = NULL;
        bot_io_res res = {.ok = 0, .error = "cancelled at shutdown",
                          .prompt_tokens = -1, .completion_tokens = -1};
        job_finish(j, &res);
    }
    llm_free(d->llm);
    free(d);
}

int draft_running(const draft_ctx *d) { return d ? d->n : 0; }

static void push_typing(draft_job *j, long now)
{
    cJSON *p = cJSON_CreateObject();
    if (!p || !json_add_i64(p, "chat_id", j->chat_id) ||
        !cJSON_AddStringToObject(p, "action", "typing")) {
        cJSON_Delete(p);
        return;
    }
    if (outq_push_volatile(j->d->q, j->chat_id, "sendChatAction", p) == 0)
        loop_wakeup(j->d->lp);
    j->last_typing = now;
}

/* The entities of t as a cJSON array (NULL when none or out of memory). */
static cJSON *entities_json(const md_text *t)
{
    if (t->n == 0)
        return NULL;
    jw w;
    jw_init(&w);
    md_write_entities(&w, t);
    char *js = jw_take(&w);
    cJSON *arr = js ? cJSON_Parse(js) : NULL;
    free(js);
    return arr;
}

/* The draft is formatted as the final answer will be (the shown prefix's
 * Markdown as entities, tgupdate.c): a code block still open shows as pre
 * so far, a marker whose partner has not come yet as written. */
static void push_draft(draft_job *j, long now)
{
    const char *shown = j->shown.p ? j->shown.p : "";
    md_text whole, *parts = NULL;
    int n = 0;
    if (md_render(shown, j->shown.len, &whole))
        return;
    if (md_split(&whole, TEXT_TG_MAX, &parts, &n) != 0 || n == 0) {
        md_text_free(&whole);
        md_parts_free(parts, n);
        return;
    }
    /* Past one message: the draft shows the first message exactly as the
     * final answer will cut it, and stays so — what follows arrives in the
     * final messages. Resending it as the text grows would only spend the
     * chat's rate on an unchanged draft. */
    if (n > 1)
        j->full = true;
    md_text_free(&whole);
    const md_text *t = &parts[0];
    cJSON *ents = entities_json(t);
    cJSON *p = cJSON_CreateObject();
    if (!p || !json_add_i64(p, "chat_id", j->chat_id) ||
        !cJSON_AddNumberToObject(p, "draft_id", j->draft_id) ||
        !cJSON_AddStringToObject(p, "text", t->text) ||
        (ents && !cJSON_AddItemToObject(p, "entities", ents))) {
        cJSON_Delete(p);
        cJSON_Delete(ents);
        md_parts_free(parts, n);
        return;
    }
    md_parts_free(parts, n);
    /* This runs inside curl's write callback, where no transfer may start
     * (curl refuses recursive calls): wake the loop so that its next turn
     * starts the draft instead of waiting out the poll's tick. */
    if (outq_push_volatile(j->d->q, j->chat_id, "sendMessageDraft", p) == 0)
        loop_wakeup(j->d->lp);
    j->last_draft = now;
    j->sent_len = j->shown.len;
}

static void on_delta(void *ud, const char *text, size_t len)
{
    draft_job *j = ud;
    if (len > j->fed) {
        if (kb_marker_feed(&j->mk, text + j->fed, len - j->fed, &j->shown))
            return;
        j->fed = len;
    }
    long now = loop_now_ms();
    if (j->quiet)
        return;
    if (!j->private_chat) {
        if (now - j->last_typing >= DRAFT_TYPING_MS)
            push_typing(j, now);
        return;
    }
    if (j->mk.found || j->full || j->shown.len == j->sent_len)
        return;
    bool first = j->sent_len == 0;
    long since = now - j->last_draft;
    if (first || (since >= DRAFT_MIN_MS && j->shown.len - j->sent_len >= DRAFT_MIN_CHARS) ||
        since >= DRAFT_FORCE_MS)
        push_draft(j, now);
}

/* Every loop turn while the model works: "typing" again each
 * DRAFT_TYPING_MS (Telegram shows an action for 5 s) for as long as the
 * chat sees nothing else move — a group until the answer is done, a
 * private chat until its first draft. Before, it was sent once, and a
 * model slow to its first token left the chat still for up to 30 s. */
static void on_tick(void *ud)
{
    draft_job *j = ud;
    if (j->private_chat && j->sent_len > 0)
        return;
    long now = loop_now_ms();
    if (now - j->last_typing >= DRAFT_TYPING_MS)
        push_typing(j, now);
}

/* A new round of the answer (after tool calls): its text starts again. */
static void on_round(void *ud)
{
    draft_job *j = ud;
    j->fed = 0;
    j->sent_len = 0;
    j->shown.len = 0;
    if (j->shown.p)
        j->shown.p[0] = '\0';
    kb_marker_init(&j->mk);
}

/* Tool requests are running: the chat sees "typing" meanwhile (unless
 * the request is quiet). */
static void on_tools(void *ud)
{
    draft_job *j = ud;
    if (!j->quiet)
        push_typing(j, loop_now_ms());
}

static void on_done(void *ud, const toolchat_result *r)
{
    draft_job *j = ud;
    j->call = NULL;
    bot_io_res res = {
        .ok = r->status == LLM_OK,
        .status = r->http_status,
        .body = r->text,
        .len = r->len,
        .error = r->status == LLM_OK ? NULL : r->error[0] ? r->error : llm_status_str(r->status),
        .prompt_tokens = r->prompt_tokens,
        .completion_tokens = r->completion_tokens,
        .tool_log = r->tool_log,
    };
    if (r->status != LLM_OK)
        log_warn("draft", "chat %lld: the model failed (%s: %s) after %d attempt(s)",
                 (long long)j->chat_id, llm_status_str(r->status), r->error, r->attempts);
    else
        log_debug("draft", "chat %lld: %zu bytes, first token after %d ms",
                  (long long)j->chat_id, r->len, r->first_token_ms);
    job_finish(j, &res);
}

int draft_start(draft_ctx *d, const bot_io_req *req, draft_done_fn fn, void *ud)
{
    if (!d->llm && !d->llm_failed) {
        char err[256];
        llm_options o = llm_options_from_env();
        d->llm = llm_new(d->lp, &o, err, sizeof err);
        if (!d->llm) {
            d->llm_failed = true;
            log_error("draft", "no model client: %s", err);
        }
    }
    if (!d->llm || req->kind != BOT_IO_LLM || !req->u.llm.messages)
        return -1;
    if (llm_circuit_open(d->llm))
        return DRAFT_CIRCUIT_OPEN; /* answered at once, nothing logged per question */
    draft_job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->d = d;
    j->fn = fn;
    j->ud = ud;
    j->chat_id = req->u.llm.chat_id;
    j->private_chat = req->u.llm.private_chat != 0;
    j->quiet = req->u.llm.quiet != 0;
    j->draft_id = d->next_id++;
    if (d->next_id <= 0)
        d->next_id = 1;
    kb_marker_init(&j->mk);
    text_buf_init(&j->shown, 256 * 1024);
    j->next = d->head;
    if (d->head)
        d->head->prev = j;
    d->head = j;
    d->n++;
    toolchat_hooks h = {.on_delta = on_delta, .on_done = on_done, .on_round = on_round,
                        .on_tools = on_tools, .on_tick = j->quiet ? NULL : on_tick, .ud = j};
    j->call = toolchat_start(d->llm, d->lp, req->u.llm.model, req->u.llm.messages,
                             req->u.llm.tools, &h);
    if (!j->call) {
        job_unlink(j);
        text_buf_free(&j->shown);
        free(j);
        return -1;
    }
    if (!j->quiet)
        push_typing(j, loop_now_ms()); /* private chats too: no draft before the first token */
    return 0;
}

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
#include "ai/tool.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"

#define DRAFT_TYPING_MS 4500
#define DRAFT_FORCE_MS 1000
#define DRAFT_TOOL_ROUNDS 3 /* model answers with tool calls, at most, per question */

typedef struct draft_job {
    struct draft_job *prev, *next;
    draft_ctx *d;
    llm_call *call;
    draft_done_fn fn;
    void *ud;
    int64_t chat_id;
    bool private_chat;
    int draft_id;
    kb_marker mk;
    text_buf shown;      /* text that may be shown (marker held back) */
    size_t fed;          /* bytes of the answer fed to the marker watcher */
    size_t sent_len;     /* shown.len at the last draft */
    bool full;           /* the draft shows the whole first message: no more drafts */
    long last_draft, last_typing;
    /* tools (req->u.llm.tools): the model's calls run, then it is asked again */
    cJSON *tools_env;    /* the offered tools, NULL = none */
    cJSON *tools;        /* the same in OpenAI's shape, for the request */
    cJSON *msgs;         /* the conversation so far (with tool calls and answers) */
    cJSON *log;          /* the calls made: bot_io_res.tool_log */
    char *model;
    int calls_left, rounds;
    long prompt_tokens, completion_tokens; /* the earlier rounds' usage, -1 = none reported */
    tool_batch *batch;   /* calls in flight */
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

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

static void job_free(draft_job *j)
{
    tool_batch_abandon(j->batch);
    cJSON_Delete(j->tools_env);
    cJSON_Delete(j->tools);
    cJSON_Delete(j->msgs);
    cJSON_Delete(j->log);
    free(j->model);
    text_buf_free(&j->shown);
    free(j);
}

static void job_finish(draft_job *j, const bot_io_res *res)
{
    job_unlink(j);
    char *log = j->log && cJSON_GetArraySize(j->log) > 0 ? cJSON_PrintUnformatted(j->log) : NULL;
    bot_io_res r = *res;
    r.tool_log = log;
    if (j->fn)
        j->fn(j->ud, &r);
    cJSON_free(log);
    job_free(j);
}

void draft_free(draft_ctx *d)
{
    if (!d)
        return;
    while (d->head) {
        draft_job *j = d->head;
        llm_cancel(j->call);
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

static void push_draft(draft_job *j, long now)
{
    const char *shown = j->shown.p ? j->shown.p : "";
    char *t = NULL;
    if (text_utf16_len(shown, j->shown.len) <= TEXT_TG_MAX) {
        t = strdup(shown);
    } else {
        /* Past one message: the draft shows the first message exactly as
         * the final answer will cut it (text_split), and stays so — what
         * follows arrives in the final messages. Resending it as the text
         * grows would only spend the chat's rate on an unchanged draft. */
        char **parts;
        int n;
        if (text_split(shown, TEXT_TG_MAX, &parts, &n) == 0 && n > 0) {
            t = parts[0];
            parts[0] = NULL;
            text_parts_free(parts, n);
        }
        j->full = true;
    }
    cJSON *p = t ? cJSON_CreateObject() : NULL;
    if (!p || !json_add_i64(p, "chat_id", j->chat_id) ||
        !cJSON_AddNumberToObject(p, "draft_id", j->draft_id) ||
        !cJSON_AddStringToObject(p, "text", t)) {
        cJSON_Delete(p);
        free(t);
        return;
    }
    free(t);
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
    long now = now_ms();
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

static void on_done(void *ud, const llm_result *r);

/* Tool limits from the environment (TOOL_TIMEOUT_MS, TOOL_MAX_BODY). */
static long env_num(const char *name, long def, long max)
{
    const char *v = getenv(name);
    char *end;
    long n = v && *v ? strtol(v, &end, 10) : def;
    if (v && *v && (*end || n <= 0 || n > max)) {
        log_warn("draft", "%s=%s is not 1..%ld, using %ld", name, v, max, def);
        n = def;
    }
    return n;
}

/* Asks the model (again), with the tools while calls are left. 0, or -1
 * when the request could not start. */
static int ask(draft_job *j)
{
    j->fed = 0; /* a new answer: its text starts again */
    j->sent_len = 0;
    j->shown.len = 0;
    if (j->shown.p)
        j->shown.p[0] = '\0';
    kb_marker_init(&j->mk);
    /* no calls or rounds left: the model must answer now */
    const char *choice =
        j->tools && (j->calls_left <= 0 || j->rounds >= DRAFT_TOOL_ROUNDS) ? "none" : NULL;
    j->call = llm_chat_tools(j->d->llm, j->model, j->msgs, j->tools, choice, on_delta, on_done, j);
    return j->call ? 0 : -1;
}

static void fail(draft_job *j, const char *why)
{
    bot_io_res res = {.ok = 0, .error = why, .prompt_tokens = j->prompt_tokens,
                      .completion_tokens = j->completion_tokens};
    job_finish(j, &res);
}

/* The tool calls' answers are in j->msgs: the model is asked again. */
static void on_tools_done(void *ud)
{
    draft_job *j = ud;
    j->batch = NULL;
    if (ask(j))
        fail(j, "the model could not be asked again after its tool calls");
}

/* The model answered with tool calls (r->tool_calls): its message and the
 * calls' answers join the conversation. 1 when they run (the job goes on),
 * 0 when the answer is to be taken as it is, -1 on out-of-memory. */
static int run_tools(draft_job *j, const llm_result *r)
{
    if (!j->tools_env || !r->tool_calls || j->rounds >= DRAFT_TOOL_ROUNDS)
        return 0;
    cJSON *calls = cJSON_Parse(r->tool_calls);
    cJSON *am = cJSON_CreateObject();
    if (!calls || !am || !cJSON_AddItemToArray(j->msgs, am)) {
        cJSON_Delete(calls);
        cJSON_Delete(am);
        return -1;
    }
    cJSON_AddStringToObject(am, "role", "assistant");
    if (r->len)
        cJSON_AddStringToObject(am, "content", r->text);
    else
        cJSON_AddNullToObject(am, "content");
    cJSON_AddItemToObject(am, "tool_calls", calls);
    j->rounds++;
    /* this round's tokens count too (the daily limits) */
    if (r->prompt_tokens > 0)
        j->prompt_tokens = (j->prompt_tokens > 0 ? j->prompt_tokens : 0) + r->prompt_tokens;
    if (r->completion_tokens > 0)
        j->completion_tokens =
            (j->completion_tokens > 0 ? j->completion_tokens : 0) + r->completion_tokens;
    int n = cJSON_GetArraySize(calls);
    int max = j->calls_left;
    j->calls_left -= n < max ? n : max;
    log_info("draft", "chat %lld: the model called %d tool(s) (round %d)", (long long)j->chat_id,
             n, j->rounds);
    tool_limits lim = {.timeout_ms = env_num("TOOL_TIMEOUT_MS", 10000, 120000),
                       .max_body = (size_t)env_num("TOOL_MAX_BODY", 65536, 8 << 20)};
    int rc = tool_batch_start(j->d->lp, j->tools_env, calls, max, &lim, j->msgs, j->log,
                              on_tools_done, j, &j->batch);
    if (rc < 0)
        return -1;
    if (rc > 0) /* the requests take a while: the chat sees "typing" meanwhile */
        push_typing(j, now_ms());
    if (rc == 0 && ask(j))
        return -1;
    return 1;
}

static void on_done(void *ud, const llm_result *r)
{
    draft_job *j = ud;
    j->call = NULL;
    if (r->status == LLM_OK && r->tool_calls) {
        int rc = run_tools(j, r);
        if (rc > 0)
            return;
        if (rc < 0) {
            fail(j, "out of memory running the model's tool calls");
            return;
        }
        if (!r->len) {
            fail(j, "the model answered with tool calls only");
            return;
        }
    }
    bot_io_res res = {
        .ok = r->status == LLM_OK,
        .status = r->http_status,
        .body = r->text,
        .len = r->len,
        .error = r->status == LLM_OK ? NULL : r->error[0] ? r->error : llm_status_str(r->status),
        .prompt_tokens = r->prompt_tokens > 0 && j->prompt_tokens > 0
                             ? r->prompt_tokens + j->prompt_tokens
                             : r->prompt_tokens > 0 ? r->prompt_tokens : j->prompt_tokens,
        .completion_tokens = r->completion_tokens > 0 && j->completion_tokens > 0
                                 ? r->completion_tokens + j->completion_tokens
                                 : r->completion_tokens > 0 ? r->completion_tokens
                                                            : j->completion_tokens,
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
    cJSON *arr = cJSON_Parse(req->u.llm.messages);
    draft_job *j = cJSON_GetArraySize(arr) > 0 ? calloc(1, sizeof *j) : NULL;
    if (!j || !cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        free(j);
        return -1;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, arr) {
        if (!json_str(m, "role"))
            cJSON_AddStringToObject((cJSON *)m, "role", "user");
    }
    j->msgs = arr;
    j->prompt_tokens = j->completion_tokens = -1;
    j->log = cJSON_CreateArray();
    j->model = req->u.llm.model ? strdup(req->u.llm.model) : NULL;
    if (req->u.llm.tools && (j->tools_env = cJSON_Parse(req->u.llm.tools))) {
        j->tools = tool_openai_list(j->tools_env);
        const cJSON *mc = cJSON_GetObjectItemCaseSensitive(j->tools_env, "max_calls");
        j->calls_left = cJSON_IsNumber(mc) ? mc->valueint : 3;
        if (cJSON_GetArraySize(j->tools) == 0) {
            cJSON_Delete(j->tools);
            j->tools = NULL;
        }
    }
    if (!j->log || (req->u.llm.model && !j->model)) {
        job_free(j);
        return -1;
    }
    j->d = d;
    j->fn = fn;
    j->ud = ud;
    j->chat_id = req->u.llm.chat_id;
    j->private_chat = req->u.llm.private_chat != 0;
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
    if (ask(j)) {
        job_unlink(j);
        job_free(j);
        return -1;
    }
    if (!j->private_chat)
        push_typing(j, now_ms());
    return 0;
}

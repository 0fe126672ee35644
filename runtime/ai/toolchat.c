/*
 * toolchat.c — see toolchat.h.
 */
#include "ai/toolchat.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ai/tool.h"
#include "base/json.h"
#include "base/log.h"

struct toolchat {
    llm_client *c;
    loop *lp;
    toolchat_hooks h;
    char *model;
    cJSON *env;          /* the offered tools, NULL = none */
    cJSON *tools;        /* the same in OpenAI's shape, for the request */
    cJSON *msgs;         /* the conversation so far (with tool calls and answers) */
    cJSON *log;          /* the calls made */
    int calls_left, rounds;
    long prompt_tokens, completion_tokens; /* the earlier rounds', -1 = none */
    llm_call *call;      /* the model call in flight */
    tool_batch *batch;   /* the tool requests in flight */
};

static void tc_free(toolchat *t)
{
    llm_cancel(t->call);
    tool_batch_abandon(t->batch);
    cJSON_Delete(t->env);
    cJSON_Delete(t->tools);
    cJSON_Delete(t->msgs);
    cJSON_Delete(t->log);
    free(t->model);
    free(t);
}

void toolchat_cancel(toolchat *t)
{
    if (t)
        tc_free(t);
}

static long env_num(const char *name, long def, long max)
{
    const char *v = getenv(name);
    char *end;
    long n = v && *v ? strtol(v, &end, 10) : def;
    if (v && *v && (*end || n <= 0 || n > max)) {
        log_warn("tool", "%s=%s is not 1..%ld, using %ld", name, v, max, def);
        n = def;
    }
    return n;
}

static long add_tokens(long a, long b)
{
    return a > 0 && b > 0 ? a + b : a > 0 ? a : b;
}

/* Reports and frees. r: the last call's result, NULL for an internal failure. */
static void finish(toolchat *t, const llm_result *r, const char *why)
{
    char *log = cJSON_GetArraySize(t->log) > 0 ? cJSON_PrintUnformatted(t->log) : NULL;
    toolchat_result res = {
        .status = r ? r->status : LLM_ERR_NOMEM,
        .text = r && r->text ? r->text : "",
        .len = r ? r->len : 0,
        .error = why ? why : r ? r->error : "",
        .http_status = r ? r->http_status : 0,
        .prompt_tokens = add_tokens(r ? r->prompt_tokens : -1, t->prompt_tokens),
        .completion_tokens = add_tokens(r ? r->completion_tokens : -1, t->completion_tokens),
        .attempts = r ? r->attempts : 0,
        .first_token_ms = r ? r->first_token_ms : -1,
        .tool_log = log,
    };
    if (why && r)
        res.status = LLM_ERR_EMPTY;
    t->call = NULL;
    t->h.on_done(t->h.ud, &res);
    cJSON_free(log);
    tc_free(t);
}

static void on_done(void *ud, const llm_result *r);

static void on_delta(void *ud, const char *text, size_t len)
{
    toolchat *t = ud;
    if (t->h.on_delta)
        t->h.on_delta(t->h.ud, text, len);
}

static void on_tick(void *ud)
{
    toolchat *t = ud;
    t->h.on_tick(t->h.ud);
}

/* Asks the model (again): with the tools while calls and rounds are left,
 * else with tool_choice "none". 0, or -1 when the call could not start. */
static int ask(toolchat *t)
{
    if (t->rounds > 0 && t->h.on_round)
        t->h.on_round(t->h.ud);
    const char *choice =
        t->tools && (t->calls_left <= 0 || t->rounds >= TOOLCHAT_ROUNDS) ? "none" : NULL;
    t->call = llm_chat_tools(t->c, t->model, t->msgs, t->tools, choice, on_delta, on_done, t);
    if (t->call && t->h.on_tick)
        llm_set_tick(t->call, on_tick);
    return t->call ? 0 : -1;
}

/* The tool calls' answers are in t->msgs: the model is asked again. */
static void on_tools_done(void *ud)
{
    toolchat *t = ud;
    t->batch = NULL;
    if (ask(t))
        finish(t, NULL, "the model could not be asked again after its tool calls");
}

/* The model answered with tool calls: its message joins the conversation
 * and the calls run. 1 when the answer goes on, 0 when it is to be taken
 * as it is, -1 on out-of-memory. */
static int run_tools(toolchat *t, const llm_result *r)
{
    if (!t->env || t->rounds >= TOOLCHAT_ROUNDS)
        return 0;
    cJSON *calls = cJSON_Parse(r->tool_calls);
    cJSON *am = cJSON_CreateObject();
    if (!calls || !am || !cJSON_AddItemToArray(t->msgs, am)) {
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
    t->rounds++;
    t->prompt_tokens = add_tokens(r->prompt_tokens, t->prompt_tokens);
    t->completion_tokens = add_tokens(r->completion_tokens, t->completion_tokens);
    int n = cJSON_GetArraySize(calls);
    int max = t->calls_left;
    t->calls_left -= n < max ? n : max;
    log_info("tool", "the model called %d tool(s) (round %d)", n, t->rounds);
    tool_limits lim = {.timeout_ms = env_num("TOOL_TIMEOUT_MS", 10000, 120000),
                       .max_body = (size_t)env_num("TOOL_MAX_BODY", 65536, 8 << 20)};
    t->call = NULL;
    int rc = tool_batch_start(t->lp, t->env, calls, max, &lim, t->msgs, t->log, on_tools_done, t,
                              &t->batch);
    if (rc < 0)
        return -1;
    if (rc > 0 && t->h.on_tools)
        t->h.on_tools(t->h.ud);
    if (rc == 0 && ask(t))
        return -1;
    return 1;
}

static void on_done(void *ud, const llm_result *r)
{
    toolchat *t = ud;
    t->call = NULL; /* it ends after this callback: never cancelled */
    if (r->status == LLM_OK && r->tool_calls) {
        int rc = run_tools(t, r);
        if (rc > 0)
            return;
        if (rc < 0) {
            finish(t, NULL, "out of memory running the model's tool calls");
            return;
        }
        if (!r->len) {
            finish(t, r, "the model answered with tool calls only");
            return;
        }
    }
    finish(t, r, NULL);
}

toolchat *toolchat_start(llm_client *c, loop *lp, const char *model, const char *messages,
                         const char *tools, const toolchat_hooks *h)
{
    cJSON *arr = messages ? cJSON_Parse(messages) : NULL;
    toolchat *t = cJSON_GetArraySize(arr) > 0 ? calloc(1, sizeof *t) : NULL;
    if (!t || !cJSON_IsArray(arr) || !h || !h->on_done) {
        cJSON_Delete(arr);
        free(t);
        return NULL;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, arr) {
        if (!json_str(m, "role"))
            cJSON_AddStringToObject((cJSON *)m, "role", "user");
    }
    t->c = c;
    t->lp = lp;
    t->h = *h;
    t->msgs = arr;
    t->prompt_tokens = t->completion_tokens = -1;
    t->log = cJSON_CreateArray();
    t->model = model ? strdup(model) : NULL;
    if (tools && (t->env = cJSON_Parse(tools))) {
        t->tools = tool_openai_list(t->env);
        const cJSON *mc = cJSON_GetObjectItemCaseSensitive(t->env, "max_calls");
        t->calls_left = cJSON_IsNumber(mc) ? mc->valueint : 3;
        if (cJSON_GetArraySize(t->tools) == 0) {
            cJSON_Delete(t->tools);
            t->tools = NULL;
        }
    }
    if (!t->log || (model && !t->model) || ask(t)) {
        tc_free(t);
        return NULL;
    }
    return t;
}

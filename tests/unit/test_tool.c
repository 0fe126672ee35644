/*
 * test_tool.c — the spec's tools at the runtime's end: argument checks
 * against the schema (ai/tool.c), the request templates (encodings, the
 * runtime's values never from the model, one pass), the answer given to
 * the model (result paths, the cap), SSE tool-call pieces (ai/sse.c), the
 * model client with tools against the fake model (calls streamed and in a
 * whole completion, a server without tool calling), and a batch of calls
 * against the fake tool server over loopback (order, max, a 500), and the
 * whole answer with tools (ai/toolchat.c).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "../fake_llm/fake_llm.h"
#include "../fake_tool/fake_tool.h"
#include "ai/llm.h"
#include "ai/sse.h"
#include "ai/tool.h"
#include "ai/toolchat.h"
#include "net/loop.h"

static const char *SCHEMA =
    "{\"type\":\"object\",\"properties\":{"
    "\"city\":{\"type\":\"string\"},"
    "\"days\":{\"type\":\"integer\"},"
    "\"scale\":{\"type\":\"number\"},"
    "\"hourly\":{\"type\":\"boolean\"},"
    "\"units\":{\"type\":\"string\",\"enum\":[\"metric\",\"imperial\"]}},"
    "\"required\":[\"city\"]}";

static int check(const char *args, char *err, size_t n)
{
    cJSON *s = cJSON_Parse(SCHEMA), *a = cJSON_Parse(args);
    int rc = tool_args_check(s, a, err, n);
    cJSON_Delete(s);
    cJSON_Delete(a);
    return rc;
}

static void test_args(void)
{
    char err[256];
    CU_ASSERT_EQUAL(check("{\"city\":\"Moscow\"}", err, sizeof err), 0);
    CU_ASSERT_EQUAL(check("{\"city\":\"Moscow\",\"days\":3,\"scale\":1.5,\"hourly\":true,"
                          "\"units\":\"metric\",\"other\":[1]}", err, sizeof err), 0);
    CU_ASSERT_EQUAL(check("{\"days\":3}", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "the argument 'city' is required");
    CU_ASSERT_EQUAL(check("{\"city\":42}", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "the argument 'city' must be a string");
    CU_ASSERT_EQUAL(check("{\"city\":\"M\",\"days\":2.5}", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "the argument 'days' must be a integer");
    CU_ASSERT_EQUAL(check("{\"city\":\"M\",\"hourly\":\"yes\"}", err, sizeof err), -1);
    CU_ASSERT_EQUAL(check("{\"city\":\"M\",\"units\":\"kelvin\"}", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "the argument 'units' is not one of its allowed values");
    CU_ASSERT_EQUAL(check("[\"Moscow\"]", err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "the arguments are not a JSON object");
    CU_ASSERT_EQUAL(check("{\"city\":null}", err, sizeof err), -1); /* required, null */
}

static char *expand(const char *tmpl, const char *args, tool_enc enc, char *err, size_t n)
{
    cJSON *a = cJSON_Parse(args);
    cJSON *v = cJSON_Parse("{\"user.id\":\"1001\",\"user.lang\":\"ru\"}");
    char *out = tool_expand(tmpl, a, v, enc, err, n);
    cJSON_Delete(a);
    cJSON_Delete(v);
    return out;
}

static void test_template(void)
{
    char err[256];
    char *s = expand("http://x/{city}?u={user.id}&l={user.lang}&d={days}&h={hourly}&o={opt}",
                     "{\"city\":\"Нью Йорк/?&=#\",\"days\":3,\"hourly\":false}", TOOL_ENC_URL,
                     err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "http://x/%D0%9D%D1%8C%D1%8E%20%D0%99%D0%BE%D1%80%D0%BA%2F%3F%26%3D%23"
                              "?u=1001&l=ru&d=3&h=false&o=");
    free(s);
    /* the model cannot fill the runtime's values, and a value is never
     * scanned again */
    s = expand("u={user.id}&q={q}", "{\"user.id\":\"2002\",\"q\":\"{user.id}\"}", TOOL_ENC_URL,
               err, sizeof err);
    CU_ASSERT_STRING_EQUAL(s, "u=1001&q=%7Buser%2Eid%7D");
    free(s);
    /* ".." stays one encoded segment: curl cannot resolve it up the path */
    s = expand("http://x/api/{city}/now", "{\"city\":\"..\"}", TOOL_ENC_URL, err, sizeof err);
    CU_ASSERT_STRING_EQUAL(s, "http://x/api/%2E%2E/now");
    free(s);
    s = expand("{\"query\": \"{q}\", \"n\": 3}", "{\"q\":\"a \\\"b\\\"\\n\\\\\"}", TOOL_ENC_JSON,
               err, sizeof err);
    CU_ASSERT_STRING_EQUAL(s, "{\"query\": \"a \\\"b\\\"\\u000a\\\\\", \"n\": 3}");
    cJSON *parsed = cJSON_Parse(s);
    CU_ASSERT_PTR_NOT_NULL(parsed); /* still JSON */
    cJSON_Delete(parsed);
    free(s);
    s = expand("X-Q: {q}", "{\"q\":\"a\\r\\nX-Evil: 1\"}", TOOL_ENC_HEADER, err, sizeof err);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_STRING_EQUAL(err, "the argument 'q' holds a control character");
    s = expand("x={user.name}", "{}", TOOL_ENC_URL, err, sizeof err);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_STRING_EQUAL(err, "the runtime has no value for {user.name}");
    s = expand("{ not a placeholder } {}", "{}", TOOL_ENC_URL, err, sizeof err);
    CU_ASSERT_STRING_EQUAL(s, "{ not a placeholder } {}");
    free(s);
}

static void test_result(void)
{
    const char *body = "{\"current_condition\":[{\"temp_C\":\"-3\"}],\"s\":\"text\",\"n\":[1,2]}";
    char *r = tool_result(body, strlen(body), "current_condition.0", 4096);
    CU_ASSERT_STRING_EQUAL(r, "{\"temp_C\":\"-3\"}");
    free(r);
    r = tool_result(body, strlen(body), "s", 4096);
    CU_ASSERT_STRING_EQUAL(r, "text");
    free(r);
    r = tool_result(body, strlen(body), "missing.path", 4096);
    CU_ASSERT_STRING_EQUAL(r, body); /* the whole answer */
    free(r);
    r = tool_result("not json", 8, "a", 4096);
    CU_ASSERT_STRING_EQUAL(r, "not json");
    free(r);
    /* capped at a character boundary */
    char big[200];
    for (int i = 0; i < 99; i++)
        memcpy(big + 2 * i, "я", 2);
    big[198] = '\0';
    r = tool_result(big, strlen(big), NULL, 51);
    CU_ASSERT(strlen(r) <= 51);
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "…(cut)"));
    CU_ASSERT_EQUAL((strlen(r) - strlen(" …(cut)")) % 2, 0);
    free(r);
}

/* ---- SSE tool-call pieces ------------------------------------------------------ */

typedef struct pieces {
    char ids[4][32], names[4][32], args[4][128];
    int n, finish;
} pieces;

static int on_piece(void *ud, const sse_event *ev)
{
    pieces *p = ud;
    if (ev->kind == SSE_FINISH && !strcmp(ev->text, "tool_calls"))
        p->finish = 1;
    if (ev->kind != SSE_TOOL_CALL || ev->index < 0 || ev->index >= 4)
        return 0;
    if (ev->index + 1 > p->n)
        p->n = ev->index + 1;
    if (ev->id)
        snprintf(p->ids[ev->index], 32, "%s", ev->id);
    if (ev->name)
        snprintf(p->names[ev->index], 32, "%s", ev->name);
    strncat(p->args[ev->index], ev->text, 127 - strlen(p->args[ev->index]));
    return 0;
}

static void test_sse_calls(void)
{
    const char *stream =
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"type\":\"function\","
        "\"function\":{\"name\":\"weather\",\"arguments\":\"\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"ci\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"c2\",\"function\":{\"name\":\"rate\",\"arguments\":\"{}\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ty\\\":\\\"M\\\"}\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n";
    pieces p = {0};
    sse_parser *sp = sse_new(on_piece, &p, 0);
    /* fed a byte at a time: cuts anywhere */
    for (const char *c = stream; *c; c++)
        CU_ASSERT_EQUAL(sse_feed(sp, c, 1), 0);
    sse_free(sp);
    CU_ASSERT_EQUAL(p.n, 2);
    CU_ASSERT_STRING_EQUAL(p.ids[0], "c1");
    CU_ASSERT_STRING_EQUAL(p.names[0], "weather");
    CU_ASSERT_STRING_EQUAL(p.args[0], "{\"city\":\"M\"}");
    CU_ASSERT_STRING_EQUAL(p.names[1], "rate");
    CU_ASSERT_EQUAL(p.finish, 1);
    /* a whole completion (message.tool_calls), arguments as an object */
    const char *whole = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":null,"
                        "\"tool_calls\":[{\"id\":\"x\",\"type\":\"function\",\"function\":"
                        "{\"name\":\"notes\",\"arguments\":{\"q\":\"a\"}}}]},"
                        "\"finish_reason\":\"tool_calls\"}]}";
    pieces w = {0};
    CU_ASSERT_EQUAL(sse_parse_chunk(whole, strlen(whole), on_piece, &w), 0);
    CU_ASSERT_EQUAL(w.n, 1);
    CU_ASSERT_STRING_EQUAL(w.args[0], "{\"q\":\"a\"}");
}

/* ---- the client and a batch over loopback -------------------------------------- */

static fakellm *g_f;
static loop *g_lp;

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct outcome {
    bool done;
    llm_status st;
    char text[512], calls[1024];
} outcome;

static void on_done(void *ud, const llm_result *r)
{
    outcome *o = ud;
    o->done = true;
    o->st = r->status;
    snprintf(o->text, sizeof o->text, "%s", r->text);
    snprintf(o->calls, sizeof o->calls, "%s", r->tool_calls ? r->tool_calls : "");
}

static outcome ask(llm_client *c, const char *tools_json)
{
    outcome out = {0};
    cJSON *msgs = cJSON_Parse("[{\"role\":\"user\",\"content\":\"weather?\"}]");
    cJSON *tools = tools_json ? cJSON_Parse(tools_json) : NULL;
    llm_call *k = llm_chat_tools(c, NULL, msgs, tools, NULL, NULL, on_done, &out);
    cJSON_Delete(msgs);
    cJSON_Delete(tools);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    long end = mono_ms() + 10000;
    while (!out.done && mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT(out.done);
    return out;
}

static const char *TOOLS =
    "[{\"type\":\"function\",\"function\":{\"name\":\"weather\",\"description\":\"d\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]";

static void test_client(void)
{
    char err[256];
    llm_options o = {.base = fakellm_base(g_f), .retry_base_ms = 50};
    llm_client *c = llm_new(g_lp, &o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    fakellm_tool_call(g_f, "weather", "{\"city\": \"Moscow\"}");
    fakellm_tool_call(g_f, "weather", "{\"city\": \"Belgrade\"}");
    outcome r = ask(c, TOOLS);
    CU_ASSERT_EQUAL(r.st, LLM_OK);
    CU_ASSERT_STRING_EQUAL(r.text, "");
    cJSON *calls = cJSON_Parse(r.calls);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(calls), 2);
    cJSON *fn = cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 1), "function");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(fn, "arguments")),
                           "{\"city\": \"Belgrade\"}");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 0), "id")),
                           "call_fake_0");
    cJSON_Delete(calls);
    /* a server that does not stream: the calls in one completion */
    fakellm_json(g_f, 1);
    fakellm_tool_call(g_f, "weather", "{\"city\": \"Niš\"}");
    r = ask(c, TOOLS);
    CU_ASSERT_EQUAL(r.st, LLM_OK);
    calls = cJSON_Parse(r.calls);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(calls), 1);
    fn = cJSON_GetObjectItem(cJSON_GetArrayItem(calls, 0), "function");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(fn, "arguments")),
                           "{\"city\": \"Niš\"}");
    cJSON_Delete(calls);
    fakellm_json(g_f, 0);
    /* no calls scripted: a plain answer */
    r = ask(c, TOOLS);
    CU_ASSERT_EQUAL(r.st, LLM_OK);
    CU_ASSERT_STRING_EQUAL(r.text, "Hello from the model.");
    CU_ASSERT_STRING_EQUAL(r.calls, "");
    CU_ASSERT_EQUAL(llm_tools_refused(c), 0);
    /* a 400 that was not about tools (the retry without them fails too):
     * tools are still offered */
    fakellm_error(g_f, 400, "{\"error\":{\"message\":\"bad request\",\"type\":\"invalid_request_error\"}}",
                  2, 0);
    r = ask(c, TOOLS);
    CU_ASSERT_EQUAL(r.st, LLM_ERR_HTTP);
    CU_ASSERT_EQUAL(llm_tools_refused(c), 0);
    /* a server without tool calling: 400, asked again without tools, and
     * never offered them again */
    fakellm_no_tools(g_f, 1);
    int n0 = fakellm_requests(g_f);
    r = ask(c, TOOLS);
    CU_ASSERT_EQUAL(r.st, LLM_OK);
    CU_ASSERT_STRING_EQUAL(r.text, "Hello from the model.");
    CU_ASSERT_EQUAL(fakellm_requests(g_f), n0 + 2);
    CU_ASSERT_EQUAL(llm_tools_refused(c), 1);
    r = ask(c, TOOLS);
    CU_ASSERT_EQUAL(fakellm_requests(g_f), n0 + 3);
    char *last = fakellm_request(g_f, n0 + 2);
    CU_ASSERT_PTR_NULL(strstr(last, "\"tools\""));
    free(last);
    llm_free(c);
    fakellm_reset(g_f);
}

static void on_batch(void *ud) { *(bool *)ud = true; }

static void test_batch(void)
{
    char err[256];
    faketool *ft = faketool_start(err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ft);
    char env_s[1024];
    snprintf(env_s, sizeof env_s,
             "{\"list\":[{\"name\":\"notes\",\"description\":\"d\",\"method\":\"GET\","
             "\"url\":\"%s/notes?user={user.id}&q={q}\",\"headers\":[],\"result\":\"notes.0\","
             "\"parameters\":{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}},"
             "\"required\":[\"q\"]}}],\"vars\":{\"user.id\":\"7\",\"user.lang\":\"en\"},"
             "\"max_calls\":2}", faketool_base(ft));
    cJSON *env = cJSON_Parse(env_s);
    cJSON *calls = cJSON_Parse(
        "[{\"id\":\"a\",\"function\":{\"name\":\"notes\",\"arguments\":\"{\\\"q\\\":\\\"x\\\"}\"}},"
        " {\"id\":\"b\",\"function\":{\"name\":\"nope\",\"arguments\":\"{}\"}},"
        " {\"id\":\"c\",\"function\":{\"name\":\"notes\",\"arguments\":\"{\\\"q\\\":\\\"y\\\"}\"}}]");
    cJSON *msgs = cJSON_CreateArray(), *log = cJSON_CreateArray();
    tool_batch *b = NULL;
    bool done = false;
    CU_ASSERT_EQUAL(tool_batch_start(g_lp, env, calls, 2, NULL, msgs, log, on_batch, &done, &b), 1);
    long end = mono_ms() + 10000;
    while (!done && mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT(done);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(msgs), 3); /* in the calls' order */
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "content")),
                           "user 7's note about x");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "content")),
                           "error: no tool is named 'nope'");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 2), "content")),
                           "error: not run: at most 2 tool call(s) per answer");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 2), "tool_call_id")),
                           "c");
    CU_ASSERT_EQUAL(cJSON_GetArraySize(log), 3);
    CU_ASSERT_EQUAL(faketool_requests(ft), 1);
    /* a 500 */
    faketool_fault(ft, 500, 0, 1);
    cJSON *one = cJSON_Parse("[{\"id\":\"d\",\"function\":{\"name\":\"notes\",\"arguments\":\"{\\\"q\\\":\\\"z\\\"}\"}}]");
    done = false;
    CU_ASSERT_EQUAL(tool_batch_start(g_lp, env, one, 2, NULL, msgs, log, on_batch, &done, &b), 1);
    end = mono_ms() + 10000;
    while (!done && mono_ms() < end)
        loop_poll(g_lp, 20);
    const char *c3 = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 3), "content"));
    CU_ASSERT_PTR_NOT_NULL(c3 ? strstr(c3, "error: the tool failed (HTTP error: HTTP 500)") : NULL);
    CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetArrayItem(log, 3), "ok")));
    /* arguments that are not JSON: answered at once, no request */
    cJSON *bad = cJSON_Parse("[{\"id\":\"e\",\"function\":{\"name\":\"notes\",\"arguments\":\"{q: x\"}}]");
    int before = faketool_requests(ft);
    done = false;
    CU_ASSERT_EQUAL(tool_batch_start(g_lp, env, bad, 2, NULL, msgs, log, on_batch, &done, &b), 0);
    CU_ASSERT(!done);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 4), "content")),
                           "error: the arguments are not JSON");
    CU_ASSERT_EQUAL(faketool_requests(ft), before);
    cJSON_Delete(bad);
    /* abandoned: done never runs, msgs untouched */
    done = false;
    CU_ASSERT_EQUAL(tool_batch_start(g_lp, env, one, 2, NULL, msgs, log, on_batch, &done, &b), 1);
    tool_batch_abandon(b);
    end = mono_ms() + 1000;
    while (mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT(!done);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(msgs), 5);
    cJSON_Delete(one);
    cJSON_Delete(calls);
    cJSON_Delete(env);
    cJSON_Delete(msgs);
    cJSON_Delete(log);
    faketool_stop(ft);
}

/* ---- the whole answer: ai/toolchat ------------------------------------------- */

typedef struct tc_out {
    bool done;
    int rounds, tools, deltas;
    llm_status st;
    char text[256], log[2048];
    long prompt, completion;
} tc_out;

static void tc_delta(void *ud, const char *text, size_t len)
{
    (void)text;
    (void)len;
    ((tc_out *)ud)->deltas++;
}
static void tc_round(void *ud) { ((tc_out *)ud)->rounds++; }
static void tc_tools(void *ud) { ((tc_out *)ud)->tools++; }
static void tc_done(void *ud, const toolchat_result *r)
{
    tc_out *o = ud;
    o->done = true;
    o->st = r->status;
    snprintf(o->text, sizeof o->text, "%s", r->text);
    snprintf(o->log, sizeof o->log, "%s", r->tool_log ? r->tool_log : "");
    o->prompt = r->prompt_tokens;
    o->completion = r->completion_tokens;
}

static void test_toolchat(void)
{
    char err[256];
    faketool *ft = faketool_start(err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ft);
    llm_options o = {.base = fakellm_base(g_f), .retry_base_ms = 50};
    llm_client *c = llm_new(g_lp, &o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char tools[1024];
    snprintf(tools, sizeof tools,
             "{\"list\":[{\"name\":\"notes\",\"description\":\"the user's notes\",\"method\":\"GET\","
             "\"url\":\"%s/notes?user={user.id}&q={q}\",\"headers\":[],"
             "\"parameters\":{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}},"
             "\"required\":[\"q\"]}}],\"vars\":{\"user.id\":\"7\",\"user.lang\":\"en\"},"
             "\"max_calls\":3}", faketool_base(ft));
    fakellm_tool_call(g_f, "notes", "{\"q\": \"plans\", \"user.id\": \"8\"}");
    fakellm_answer(g_f, "Your plan: rest.");
    int n0 = fakellm_requests(g_f);
    tc_out out = {0};
    toolchat_hooks h = {.on_delta = tc_delta, .on_done = tc_done, .on_round = tc_round,
                        .on_tools = tc_tools, .ud = &out};
    toolchat *t = toolchat_start(c, g_lp, NULL, "[{\"role\":\"user\",\"content\":\"my plans?\"}]",
                                 tools, &h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    long end = mono_ms() + 10000;
    while (!out.done && mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT(out.done);
    CU_ASSERT_EQUAL(out.st, LLM_OK);
    CU_ASSERT_STRING_EQUAL(out.text, "Your plan: rest.");
    CU_ASSERT_EQUAL(out.rounds, 1);
    CU_ASSERT_EQUAL(out.tools, 1);
    CU_ASSERT(out.deltas > 0);
    CU_ASSERT_EQUAL(fakellm_requests(g_f), n0 + 2);
    char *req = faketool_request(ft, 0);
    CU_ASSERT_PTR_NOT_NULL(req ? strstr(req, "GET /notes?user=7&q=plans") : NULL);
    free(req);
    /* the second request: the call and its answer, as a strict server wants */
    char *second = fakellm_request(g_f, n0 + 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(second, "\"tool_call_id\":\"call_fake_0\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(second, "user 7's note about plans"));
    free(second);
    cJSON *log = cJSON_Parse(out.log);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(log), 1);
    CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(log, 0), "ok")));
    cJSON_Delete(log);
    /* both rounds' tokens: the call's 50 + 10 and the answer's */
    CU_ASSERT(out.prompt > 50);
    CU_ASSERT(out.completion > 10);
    /* without tools: one plain call, no log */
    tc_out plain = {0};
    h.ud = &plain;
    t = toolchat_start(c, g_lp, NULL, "[{\"role\":\"user\",\"content\":\"hi\"}]", NULL, &h);
    end = mono_ms() + 10000;
    while (t && !plain.done && mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT_STRING_EQUAL(plain.text, "Your plan: rest.");
    CU_ASSERT_STRING_EQUAL(plain.log, "");
    CU_ASSERT_EQUAL(plain.rounds, 0);
    /* cancelled while its tool request waits: no hook runs */
    faketool_fault(ft, 0, 500, 1);
    fakellm_tool_call(g_f, "notes", "{\"q\": \"slow\"}");
    tc_out gone = {0};
    h.ud = &gone;
    t = toolchat_start(c, g_lp, NULL, "[{\"role\":\"user\",\"content\":\"slow?\"}]", tools, &h);
    end = mono_ms() + 10000;
    while (!gone.tools && mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT_EQUAL(gone.tools, 1);
    toolchat_cancel(t);
    end = mono_ms() + 1500;
    while (mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT(!gone.done);
    CU_ASSERT_PTR_NULL(toolchat_start(c, g_lp, NULL, "not json", tools, &h));
    llm_free(c);
    fakellm_reset(g_f);
    faketool_stop(ft);
}

int main(void)
{
    char err[256];
    g_f = fakellm_start(0, err, sizeof err);
    g_lp = loop_new(NULL, err, sizeof err);
    if (!g_f || !g_lp) {
        fprintf(stderr, "setup: %s\n", err);
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("tool", NULL, NULL);
    CU_add_test(s, "arguments checked against the schema", test_args);
    CU_add_test(s, "templates: encodings, runtime values, one pass", test_template);
    CU_add_test(s, "the answer given to the model: path, cap", test_result);
    CU_add_test(s, "SSE tool-call pieces, a whole completion's calls", test_sse_calls);
    CU_add_test(s, "the client: calls streamed, a server without tools", test_client);
    CU_add_test(s, "a batch over loopback: order, unknown tool, max, 500, abandon", test_batch);
    CU_add_test(s, "toolchat: call, answer, ask again; plain; cancelled", test_toolchat);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    loop_free(g_lp);
    fakellm_stop(g_f);
    return fails ? 1 : 0;
}

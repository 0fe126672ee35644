/*
 * test_llm.c — the LLM client (runtime/ai/llm.c) against the fake
 * OpenAI-compatible server over loopback: every server style, usage
 * variants, every error body, retries before the first token, the
 * context-overflow retry, timeouts, cut streams.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "../fake_llm/fake_llm.h"
#include "../fake_tg/fake_tg.h"
#include "telegram/outq.h"
#include "ai/llm.h"
#include "base/json.h"
#include "net/loop.h"
#include "telegram/tg.h"

static fakellm *g_f;
static loop *g_lp;

typedef struct outcome {
    bool done;
    llm_status st;
    char text[4096];
    char error[512];
    long prompt, completion, http;
    int attempts, deltas, first_ms;
} outcome;

static void on_delta(void *ud, const char *text, size_t len)
{
    outcome *o = ud;
    o->deltas++;
    CU_ASSERT_EQUAL(strlen(text), len);
}

static void on_done(void *ud, const llm_result *r)
{
    outcome *o = ud;
    o->done = true;
    o->st = r->status;
    snprintf(o->text, sizeof o->text, "%s", r->text);
    snprintf(o->error, sizeof o->error, "%s", r->error);
    o->prompt = r->prompt_tokens;
    o->completion = r->completion_tokens;
    o->http = r->http_status;
    o->attempts = r->attempts;
    o->first_ms = r->first_token_ms;
}

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One chat with a client made from o (base and short retry delays set
 * here); returns after on_done or 10 s. */
static outcome run(llm_options o, const char *question)
{
    outcome out = {0};
    char err[256];
    o.base = fakellm_base(g_f);
    if (!o.retry_base_ms)
        o.retry_base_ms = 50;
    llm_client *c = llm_new(g_lp, &o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    llm_msg msgs[] = {{"system", "Answer from CHUNK-A only."},
                      {"user", "earlier question"},
                      {"assistant", "earlier answer"},
                      {"user", question}};
    llm_call *k = llm_chat(c, NULL, msgs, 4, on_delta, on_done, &out);
    CU_ASSERT_PTR_NOT_NULL(k);
    long end = mono_ms() + 10000;
    while (k && !out.done && mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT(out.done);
    llm_free(c);
    fakellm_reset(g_f);
    return out;
}

static void test_styles(void)
{
    const char *answer = "Депозит — 300 € для класса B. Deposit is 300 EUR 🚗.";
    for (int s = FAKELLM_OPENAI; s <= FAKELLM_LLAMACPP; s++) {
        fakellm_answer(g_f, answer);
        fakellm_set_style(g_f, (fakellm_style)s);
        fakellm_chunk(g_f, 3);
        outcome o = run((llm_options){0}, "deposit?");
        CU_ASSERT_EQUAL(o.st, LLM_OK);
        CU_ASSERT_STRING_EQUAL(o.text, answer);
        CU_ASSERT(o.deltas > 3);
        CU_ASSERT(o.prompt > 0);
        CU_ASSERT(o.completion > 0);
        CU_ASSERT_EQUAL(o.attempts, 1);
    }
    /* no usage at all: the caller estimates */
    fakellm_usage(g_f, 0);
    outcome o = run((llm_options){0}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_OK);
    CU_ASSERT_EQUAL(o.prompt, -1);
    CU_ASSERT_EQUAL(o.completion, -1);
}

/* A server that ignores "stream": true and answers with one
 * application/json completion: the answer used to be lost as "the stream
 * ended early". */
static void test_json_completion(void)
{
    const char *answer = "Депозит — 300 €.\nDeposit: 300 EUR \"class B\".";
    fakellm_answer(g_f, answer);
    fakellm_json(g_f, 1);
    outcome o = run((llm_options){0}, "deposit?");
    CU_ASSERT_EQUAL(o.st, LLM_OK);
    CU_ASSERT_STRING_EQUAL(o.text, answer);
    CU_ASSERT_EQUAL(o.deltas, 1);
    CU_ASSERT(o.prompt > 0);
    CU_ASSERT(o.completion > 0);
    CU_ASSERT(o.first_ms >= 0);
    /* capped like a stream */
    fakellm_answer(g_f, "0123456789 0123456789 0123456789");
    fakellm_json(g_f, 1);
    o = run((llm_options){.max_answer = 10}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_OK);
    CU_ASSERT_STRING_EQUAL(o.text, "0123456789");
}

static void test_request(void)
{
    int n0 = fakellm_requests(g_f);
    llm_options lo = {.model = "gemma3:12b", .key = "sk-test-secret"};
    outcome o = run(lo, "what is the deposit?");
    CU_ASSERT_EQUAL(o.st, LLM_OK);
    char *body = fakellm_request(g_f, n0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"stream\":true"));
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"include_usage\":true"));
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"model\":\"gemma3:12b\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "CHUNK-A"));
    CU_ASSERT_PTR_NOT_NULL(strstr(body, "what is the deposit?"));
    free(body);
}

static void test_error_bodies(void)
{
    char msg[256], code[64];
    struct { const char *body, *msg, *code; int rc; } cases[] = {
        {"{\"error\":{\"message\":\"bad key\",\"type\":\"auth\",\"code\":\"invalid_api_key\"}}",
         "bad key", "invalid_api_key", 0},
        {"{\"error\":\"model 'x' not found\"}", "model 'x' not found", "", 0},
        {"{\"object\":\"error\",\"message\":\"boom\",\"type\":\"BadRequestError\",\"code\":400}",
         "boom", "400", 0},
        {"{\"detail\":\"Not Found\"}", "Not Found", "", 0},
        {"{\"detail\":[{\"msg\":\"field required\"}]}", "field required", "", 0},
        {"<html>502 Bad Gateway</html>", "<html>502 Bad Gateway</html>", "", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = llm_parse_error(cases[i].body, strlen(cases[i].body), msg, sizeof msg, code,
                                 sizeof code);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        CU_ASSERT_STRING_EQUAL(msg, cases[i].msg);
        CU_ASSERT_STRING_EQUAL(code, cases[i].code);
    }
    CU_ASSERT(llm_is_overflow("This model's maximum context length is 4096 tokens", ""));
    CU_ASSERT(llm_is_overflow("the request exceeds the available context size", "exceed_context_size_error"));
    CU_ASSERT(!llm_is_overflow("Rate limit reached", "rate_limit_exceeded"));
}

static void test_http_errors(void)
{
    /* not retried: 401, 404 (Ollama's string error), 422 (detail) */
    int statuses[] = {401, 404, 422};
    for (int i = 0; i < 3; i++) {
        fakellm_error(g_f, statuses[i], NULL, -1, 0);
        outcome o = run((llm_options){0}, "q");
        CU_ASSERT_EQUAL(o.st, LLM_ERR_HTTP);
        CU_ASSERT_EQUAL(o.http, statuses[i]);
        CU_ASSERT_EQUAL(o.attempts, 1);
    }
    /* 503 Loading model twice, then the answer */
    fakellm_error(g_f, 503, NULL, 2, 0);
    outcome o = run((llm_options){0}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_OK);
    CU_ASSERT_EQUAL(o.attempts, 3);
    /* 500 flat vLLM error for ever: retries are bounded */
    fakellm_error(g_f, 500, NULL, -1, 0);
    o = run((llm_options){.max_retries = 2}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_ERR_HTTP);
    CU_ASSERT_EQUAL(o.attempts, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.error, "internal error"));
    /* 429 with Retry-After: 1 s waited, then the answer */
    fakellm_error(g_f, 429, NULL, 1, 1);
    long t0 = mono_ms();
    o = run((llm_options){0}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_OK);
    CU_ASSERT_EQUAL(o.attempts, 2);
    CU_ASSERT(mono_ms() - t0 >= 900);
}

static void test_overflow(void)
{
    int n0 = fakellm_requests(g_f);
    fakellm_error(g_f, 400, NULL, 1, 0);
    outcome o = run((llm_options){0}, "the question");
    CU_ASSERT_EQUAL(o.st, LLM_OK);
    CU_ASSERT_EQUAL(o.attempts, 2);
    char *second = fakellm_request(g_f, n0 + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(second);
    CU_ASSERT_PTR_NULL(strstr(second, "earlier question")); /* history trimmed */
    CU_ASSERT_PTR_NOT_NULL(strstr(second, "CHUNK-A"));       /* system prompt kept */
    CU_ASSERT_PTR_NOT_NULL(strstr(second, "the question"));
    free(second);
    /* still too long: reported once, not retried again */
    fakellm_error(g_f, 400, NULL, -1, 0);
    o = run((llm_options){0}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_ERR_OVERFLOW);
    CU_ASSERT_EQUAL(o.attempts, 2);
}

static void test_stream_failures(void)
{
    fakellm_answer(g_f, "one two three four five six seven eight");
    fakellm_chunk(g_f, 3);
    fakellm_cut(g_f, 3);
    outcome o = run((llm_options){0}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_ERR_CUT);
    CU_ASSERT_EQUAL(o.attempts, 1); /* text reached the caller: never retried */
    CU_ASSERT_PTR_NOT_NULL(strstr(o.text, "one"));

    fakellm_answer(g_f, "one two three four five six");
    fakellm_set_style(g_f, FAKELLM_VLLM);
    fakellm_stream_error(g_f, 2, 0);
    o = run((llm_options){0}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_ERR_SERVER);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.error, "model crashed"));

    fakellm_set_style(g_f, FAKELLM_LLAMACPP);
    fakellm_stream_error(g_f, 1, 1);
    o = run((llm_options){0}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_ERR_SERVER);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.error, "slot unavailable"));

    /* a cap on the answer ends it as "length" */
    fakellm_answer(g_f, "aaaa bbbb cccc dddd eeee ffff gggg");
    o = run((llm_options){.max_answer = 10}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_OK);
    CU_ASSERT(strlen(o.text) <= 10);
}

/* One chat on client c; waits for its end (10 s at most). NULL call: the
 * outcome is not done. */
static outcome chat_on(llm_client *c, const char *question, bool *started)
{
    outcome out = {0};
    llm_msg msgs[] = {{"user", question}};
    llm_call *k = llm_chat(c, NULL, msgs, 1, on_delta, on_done, &out);
    *started = k != NULL;
    long end = mono_ms() + 10000;
    while (k && !out.done && mono_ms() < end)
        loop_poll(g_lp, 20);
    return out;
}

/* The circuit breaker (issue #16, point 11): two failures before a first
 * token open it; then a question is refused at once (no request reaches
 * the model) while a probe (max_tokens 1) goes out every probe interval;
 * the first probe that succeeds closes it and questions go through again.
 * A 4xx (the request's fault, not the model's) does not count. */
static void test_circuit_breaker(void)
{
    char err[256];
    llm_options o = {.base = fakellm_base(g_f), .max_retries = -1, .breaker_failures = 2,
                     .breaker_window_ms = 60000, .breaker_probe_ms = 300};
    llm_client *c = llm_new(g_lp, &o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    bool started;
    /* 400s do not count */
    fakellm_error(g_f, 400, NULL, -1, 0);
    for (int i = 0; i < 3; i++)
        chat_on(c, "q", &started);
    CU_ASSERT_FALSE(llm_circuit_open(c));
    /* the model is down: 503 for ever */
    fakellm_error(g_f, 503, NULL, -1, 0);
    outcome r = chat_on(c, "q1", &started);
    CU_ASSERT(started && r.done && r.st == LLM_ERR_HTTP);
    CU_ASSERT_FALSE(llm_circuit_open(c));
    r = chat_on(c, "q2", &started);
    CU_ASSERT(started && r.done && r.st == LLM_ERR_HTTP);
    CU_ASSERT_TRUE(llm_circuit_open(c));
    /* refused at once, nothing sent */
    int n0 = fakellm_requests(g_f);
    long t0 = mono_ms();
    r = chat_on(c, "q3", &started);
    CU_ASSERT_FALSE(started);
    CU_ASSERT(mono_ms() - t0 < 100);
    /* probes go out in the background, each failing */
    long end = mono_ms() + 1500;
    while (mono_ms() < end)
        loop_poll(g_lp, 20);
    int probes = fakellm_requests(g_f) - n0;
    CU_ASSERT(probes >= 2 && probes <= 6);
    char *last = fakellm_request(g_f, fakellm_requests(g_f) - 1);
    CU_ASSERT(last && strstr(last, "\"max_tokens\":1") && strstr(last, "ping"));
    free(last);
    CU_ASSERT_TRUE(llm_circuit_open(c));
    /* the model is back: the next probe closes the circuit */
    fakellm_error(g_f, 0, NULL, 0, 0);
    fakellm_answer(g_f, "pong");
    end = mono_ms() + 3000;
    while (llm_circuit_open(c) && mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT_FALSE(llm_circuit_open(c));
    r = chat_on(c, "q4", &started);
    CU_ASSERT(started && r.done && r.st == LLM_OK);
    /* with the breaker off, failures never refuse */
    llm_free(c);
    fakellm_error(g_f, 503, NULL, -1, 0);
    o.breaker_failures = -1;
    c = llm_new(g_lp, &o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    for (int i = 0; i < 4; i++) {
        r = chat_on(c, "q", &started);
        CU_ASSERT(started && r.done);
    }
    CU_ASSERT_FALSE(llm_circuit_open(c));
    llm_free(c);
    fakellm_reset(g_f);
}

static void test_timeouts(void)
{
    /* first token */
    fakellm_delay(g_f, 3000, 0);
    long t0 = mono_ms();
    outcome o = run((llm_options){.first_token_ms = 300}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_ERR_TIMEOUT);
    CU_ASSERT(mono_ms() - t0 < 2000);
    /* idle between tokens: the text so far is kept */
    fakellm_answer(g_f, "one two three four");
    fakellm_chunk(g_f, 3);
    fakellm_delay(g_f, 0, 3000);
    o = run((llm_options){.idle_ms = 300}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_ERR_TIMEOUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.error, "idle"));
    /* total */
    fakellm_delay(g_f, 100, 200);
    fakellm_answer(g_f, "a b c d e f g h i j k l m n o p");
    fakellm_chunk(g_f, 1);
    o = run((llm_options){.total_ms = 500}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_ERR_TIMEOUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.error, "total"));
    /* first token after 200 ms is fine and measured */
    fakellm_delay(g_f, 200, 0);
    o = run((llm_options){0}, "q");
    CU_ASSERT_EQUAL(o.st, LLM_OK);
    CU_ASSERT(o.first_ms >= 190);
}

static void test_connect_refused(void)
{
    llm_options lo = {.max_retries = 1, .retry_base_ms = 20};
    outcome out = {0};
    char err[256];
    lo.base = "http://127.0.0.1:1/v1";
    llm_client *c = llm_new(g_lp, &lo, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    llm_msg m = {"user", "q"};
    CU_ASSERT_PTR_NOT_NULL(llm_chat(c, NULL, &m, 1, on_delta, on_done, &out));
    long end = mono_ms() + 5000;
    while (!out.done && mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT_EQUAL(out.st, LLM_ERR_NETWORK);
    CU_ASSERT_EQUAL(out.attempts, 2);
    llm_free(c);
}

static void test_cancel(void)
{
    /* a cancelled call never calls back; freeing the client mid-stream is safe */
    fakellm_delay(g_f, 300, 0);
    outcome out = {0};
    char err[256];
    llm_options lo = {.base = fakellm_base(g_f)};
    llm_client *c = llm_new(g_lp, &lo, err, sizeof err);
    llm_msg m = {"user", "q"};
    llm_call *k = llm_chat(c, NULL, &m, 1, on_delta, on_done, &out);
    llm_chat(c, NULL, &m, 1, on_delta, on_done, &out);
    loop_poll(g_lp, 20);
    llm_cancel(k);
    llm_free(c);
    long end = mono_ms() + 1500;
    while (loop_in_flight(g_lp) && mono_ms() < end)
        loop_poll(g_lp, 20);
    CU_ASSERT_FALSE(out.done);
    CU_ASSERT_EQUAL(loop_in_flight(g_lp), 0);
    fakellm_reset(g_f);
}

static cJSON *draft_params(int64_t chat, const char *text)
{
    cJSON *p = cJSON_CreateObject();
    json_add_i64(p, "chat_id", chat);
    cJSON_AddNumberToObject(p, "draft_id", 7);
    cJSON_AddStringToObject(p, "text", text);
    return p;
}

static size_t count_method(fake_tg *ft, const char *m, const char *text)
{
    size_t n = 0, k = 0;
    fake_tg_call *cs = fake_tg_calls_since(ft, 0, &n);
    for (size_t i = 0; i < n; i++) {
        const char *t = json_str(cs[i].params, "text");
        k += !strcmp(cs[i].method, m) && (!text || (t && !strcmp(t, text)));
    }
    fake_tg_calls_free(cs, n);
    return k;
}

/* Drafts are volatile outbox calls: coalesced to the newest, dropped by the
 * final message queued behind them, dropped (not resent) on a 429 while
 * the final still waits out its retry_after. */
static void test_volatile_drafts(void)
{
    char err[256];
    fake_tg_opts fo = {.allow_unknown_chats = true};
    fake_tg *ft = fake_tg_new(&fo, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ft);
    char base[128];
    fake_tg_base_url(ft, base, sizeof base);
    tg_options to = {.token = fake_tg_token(ft), .api_base = base};
    tg_client *tg = tg_new(g_lp, &to, err, sizeof err);
    outq *q = outq_new(tg, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    /* three drafts before the loop runs: one call, the newest */
    outq_push_volatile(q, 42, "sendMessageDraft", draft_params(42, "a"));
    outq_push_volatile(q, 42, "sendMessageDraft", draft_params(42, "ab"));
    outq_push_volatile(q, 42, "sendMessageDraft", draft_params(42, "abc"));
    CU_ASSERT_EQUAL(outq_pending(q), 1);
    long end = mono_ms() + 3000;
    while (outq_pending(q) && mono_ms() < end) {
        outq_pump(q);
        loop_poll(g_lp, 10);
    }
    CU_ASSERT_EQUAL(count_method(ft, "sendMessageDraft", NULL), 1);
    CU_ASSERT_EQUAL(count_method(ft, "sendMessageDraft", "abc"), 1);
    /* a draft waiting when the final is queued: dropped */
    outq_push_volatile(q, 43, "sendMessageDraft", draft_params(43, "x"));
    cJSON *fin = cJSON_CreateObject();
    json_add_i64(fin, "chat_id", 43);
    cJSON_AddStringToObject(fin, "text", "final");
    outq_push(q, 43, "sendMessage", fin);
    CU_ASSERT_EQUAL(outq_pending(q), 1);
    /* a 429 on a draft: dropped, and the final waits out retry_after */
    fake_tg_fail_next(ft, "sendMessageDraft", 429, "Too Many Requests: retry after 1", 1, 1);
    outq_push_volatile(q, 44, "sendMessageDraft", draft_params(44, "y"));
    end = mono_ms() + 3000;
    while (outq_pending(q) && mono_ms() < end) {
        outq_pump(q);
        loop_poll(g_lp, 10);
    }
    long t429 = mono_ms();
    cJSON *fin2 = cJSON_CreateObject();
    json_add_i64(fin2, "chat_id", 44);
    cJSON_AddStringToObject(fin2, "text", "final 44");
    outq_push(q, 44, "sendMessage", fin2);
    end = mono_ms() + 5000;
    while (outq_pending(q) && mono_ms() < end) {
        outq_pump(q);
        loop_poll(g_lp, 10);
    }
    CU_ASSERT_EQUAL(outq_pending(q), 0);
    CU_ASSERT(mono_ms() - t429 >= 700); /* held by the draft's 429 */
    CU_ASSERT_EQUAL(count_method(ft, "sendMessage", "final"), 1);
    CU_ASSERT_EQUAL(count_method(ft, "sendMessage", "final 44"), 1);
    CU_ASSERT_EQUAL(count_method(ft, "sendMessageDraft", "x"), 0);
    CU_ASSERT_EQUAL(count_method(ft, "sendMessageDraft", "y"), 1); /* tried once, not resent */
    CU_ASSERT_EQUAL(fake_tg_early_retries(ft), 0);
    outq_free(q);
    tg_free(tg);
    fake_tg_free(ft);
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
    CU_pSuite s = CU_add_suite("llm", NULL, NULL);
    CU_add_test(s, "every server style streams the whole answer", test_styles);
    CU_add_test(s, "the request: stream, usage, model, messages", test_request);
    CU_add_test(s, "a non-streamed JSON completion", test_json_completion);
    CU_add_test(s, "error bodies of every shape", test_error_bodies);
    CU_add_test(s, "HTTP errors: 4xx final, 503/500/429 retried, bounded", test_http_errors);
    CU_add_test(s, "context overflow: history trimmed, retried once", test_overflow);
    CU_add_test(s, "cut stream, error events, answer cap", test_stream_failures);
    CU_add_test(s, "first-token, idle and total timeouts", test_timeouts);
    CU_add_test(s, "connection refused, retried then reported", test_connect_refused);
    CU_add_test(s, "cancel and free mid-call", test_cancel);
    CU_add_test(s, "circuit breaker: open, refuse, probe, close", test_circuit_breaker);
    CU_add_test(s, "drafts: coalesced, superseded, dropped on 429", test_volatile_drafts);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    loop_free(g_lp);
    fakellm_stop(g_f);
    return fails ? 1 : 0;
}

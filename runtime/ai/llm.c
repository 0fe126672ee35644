/*
 * llm.c — see llm.h.
 *
 * One llm_call lives from llm_chat until its on_done: it always has one
 * http_stream transfer (a retry is a new transfer started with a delay), so
 * the event loop drives everything, and an abandoned call (llm_cancel,
 * llm_free) is reaped by its transfer's tick.
 */
#include "ai/llm.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ai/oai.h"
#include "ai/sse.h"
#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "net/http.h"
#include "net/loop.h"

#define LLM_ERRBODY_MAX 8192
#define LLM_RETRY_AFTER_MAX_MS 30000
#define LLM_REASON_MAX 300
#define LLM_TOOL_CALLS_MAX 16        /* calls kept of one answer */
#define LLM_TOOL_ARGS_MAX (64 * 1024) /* bytes of one call's arguments */

/* A tool call being streamed in pieces. */
typedef struct llm_tool_call {
    char id[96], name[96];
    text_buf args;
} llm_tool_call;

struct llm_client {
    loop *lp;
    oai_endpoint ep;  /* the URL and the Authorization header */
    char *model;
    llm_options o;
    struct llm_call *head;
    /* the circuit breaker (llm.h) */
    int fails;                /* counted failures since fail_since */
    long fail_since;
    bool open;
    struct llm_call *probe;   /* the probe in flight, or waiting its delay */
    bool no_tools;    /* the server refused `tools` (and answered without
                       * them): never sent again */
};

struct llm_call {
    struct llm_call *prev, *next;
    llm_client *c;            /* NULL once the client is gone */
    bool dead;                /* cancelled: reap at the next tick */
    cJSON *req;               /* the request; messages trimmed on overflow */
    bool trimmed;
    llm_delta_fn on_delta;
    llm_done_fn on_done;
    llm_tick_fn on_tick;      /* the caller's clock, may be NULL */
    bool probe;               /* the breaker's probe: no retries, no caller */
    void *ud;
    long started, attempt_start, last_delta;
    int attempts;
    int first_token_ms;
    /* the attempt in flight */
    sse_parser *sse;
    enum { BODY_UNKNOWN, BODY_SSE, BODY_JSON } body; /* by its first byte */
    char *json;               /* BODY_JSON: the completion, capped */
    size_t json_len;
    long status;
    char *text;               /* answer so far */
    size_t len, cap;
    bool got_first, finished, done_seen, capped;
    char finish[32];
    char *errbody;            /* non-2xx body, capped */
    size_t errlen;
    char stream_err[LLM_REASON_MAX];
    char timeout[64];         /* which deadline fired, "" if none */
    long prompt_tokens, completion_tokens;
    llm_tool_call calls[LLM_TOOL_CALLS_MAX]; /* the answer's tool calls */
    int n_calls;
    bool tools_dropped;       /* a 400 to a request with tools: sent again without */
};

const char *llm_status_str(llm_status s)
{
    switch (s) {
    case LLM_OK: return "ok";
    case LLM_ERR_HTTP: return "HTTP error";
    case LLM_ERR_OVERFLOW: return "context too long";
    case LLM_ERR_SERVER: return "error in the stream";
    case LLM_ERR_TIMEOUT: return "timeout";
    case LLM_ERR_NETWORK: return "network error";
    case LLM_ERR_CUT: return "stream cut";
    case LLM_ERR_EMPTY: return "empty answer";
    case LLM_ERR_NOMEM: return "out of memory";
    case LLM_ERR_CANCELLED: return "cancelled";
    }
    return "unknown";
}

static long env_ms(const char *name, long def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n <= 0 || n > 3600000) {
        log_warn("llm", "%s=%s is not 1..3600000 ms, using %ld", name, v, def);
        return def;
    }
    return n;
}

llm_options llm_options_from_env(void)
{
    llm_options o = {0};
    o.base = getenv("OPENAI_API_BASE");
    o.key = getenv("OPENAI_API_KEY");
    o.model = getenv("OPENAI_MODEL_NAME");
    o.connect_ms = env_ms("LLM_CONNECT_TIMEOUT_MS", 5000);
    o.first_token_ms = env_ms("LLM_FIRST_TOKEN_TIMEOUT_MS", 30000);
    o.idle_ms = env_ms("LLM_IDLE_TIMEOUT_MS", 20000);
    o.total_ms = env_ms("LLM_TOTAL_TIMEOUT_MS", 120000);
    const char *bf = getenv("LLM_BREAKER_FAILURES");
    if (bf && *bf) {
        char *end;
        long n = strtol(bf, &end, 10);
        if (*end || n < 0 || n > 1000)
            log_warn("llm", "LLM_BREAKER_FAILURES=%s is not 0..1000, using 3", bf);
        else
            o.breaker_failures = n == 0 ? -1 : (int)n;
    }
    o.breaker_window_ms = env_ms("LLM_BREAKER_WINDOW_MS", 60000);
    o.breaker_probe_ms = env_ms("LLM_BREAKER_PROBE_MS", 10000);
    return o;
}

static char *dup_s(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

llm_client *llm_new(loop *lp, const llm_options *o, char *err, size_t errlen)
{
    if (!o || !o->base || (strncmp(o->base, "http://", 7) && strncmp(o->base, "https://", 8))) {
        snprintf(err, errlen, "OPENAI_API_BASE must be an http(s) URL");
        return NULL;
    }
    llm_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->lp = lp;
    c->o = *o;
    if (!c->o.connect_ms) c->o.connect_ms = 5000;
    if (!c->o.first_token_ms) c->o.first_token_ms = 30000;
    if (!c->o.idle_ms) c->o.idle_ms = 20000;
    if (!c->o.total_ms) c->o.total_ms = 120000;
    if (!c->o.max_retries) c->o.max_retries = 3;
    if (c->o.max_retries < 0) c->o.max_retries = 0;
    if (!c->o.retry_base_ms) c->o.retry_base_ms = 500;
    if (!c->o.max_answer) c->o.max_answer = 65536;
    if (!c->o.breaker_failures) c->o.breaker_failures = 3;
    if (!c->o.breaker_window_ms) c->o.breaker_window_ms = 60000;
    if (!c->o.breaker_probe_ms) c->o.breaker_probe_ms = 10000;
    if (oai_endpoint_init(&c->ep, o->base, "/chat/completions", o->key, "llm",
                          "OPENAI_API_BASE", err, errlen)) {
        free(c);
        return NULL;
    }
    c->model = dup_s(o->model && *o->model ? o->model : "gpt-4o-mini");
    if (!c->model) {
        llm_free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->o.base = c->o.key = c->o.model = NULL; /* not kept: copied above */
    return c;
}

static void call_unlink(llm_call *k)
{
    if (!k->c)
        return;
    if (k->c->probe == k)
        k->c->probe = NULL;
    if (k->prev)
        k->prev->next = k->next;
    else
        k->c->head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    k->prev = k->next = NULL;
    k->c = NULL;
}

void llm_free(llm_client *c)
{
    if (!c)
        return;
    while (c->head) {
        llm_call *k = c->head;
        k->dead = true; /* its transfer's tick or cancel reaps it */
        call_unlink(k);
    }
    oai_endpoint_free(&c->ep);
    free(c->model);
    free(c);
}

const char *llm_model(const llm_client *c) { return c->model; }

static void calls_clear(llm_call *k)
{
    for (int i = 0; i < k->n_calls; i++)
        text_buf_free(&k->calls[i].args);
    k->n_calls = 0;
}

static void call_free(llm_call *k)
{
    call_unlink(k);
    calls_clear(k);
    sse_free(k->sse);
    free(k->json);
    cJSON_Delete(k->req);
    free(k->text);
    free(k->errbody);
    free(k);
}

void llm_cancel(llm_call *k)
{
    if (k) {
        k->dead = true;
        call_unlink(k);
    }
}

/* ---- error bodies ----------------------------------------------------------- */

static void put(char *dst, size_t n, const char *s)
{
    if (n)
        snprintf(dst, n, "%s", s ? s : "");
}

static void put_code(char *dst, size_t n, const cJSON *o)
{
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "code");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (cJSON_IsString(code))
        put(dst, n, code->valuestring);
    else if (cJSON_IsNumber(code) && n)
        snprintf(dst, n, "%d", code->valueint);
    else if (cJSON_IsString(type))
        put(dst, n, type->valuestring);
}

int llm_parse_error(const char *body, size_t len, char *msg, size_t msglen, char *code,
                    size_t codelen)
{
    put(msg, msglen, "");
    put(code, codelen, "");
    cJSON *j = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    int rc = 1;
    if (cJSON_IsObject(j)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "detail");
        const char *obj = json_str(j, "object");
        if (cJSON_IsObject(e)) { /* OpenAI, vLLM, llama.cpp */
            put(msg, msglen, json_str(e, "message"));
            put_code(code, codelen, e);
            rc = 0;
        } else if (cJSON_IsString(e)) { /* Ollama */
            put(msg, msglen, e->valuestring);
            rc = 0;
        } else if (obj && !strcmp(obj, "error")) { /* older vLLM: flat */
            put(msg, msglen, json_str(j, "message"));
            put_code(code, codelen, j);
            rc = 0;
        } else if (cJSON_IsString(d)) { /* FastAPI-based servers */
            put(msg, msglen, d->valuestring);
            rc = 0;
        } else if (cJSON_IsArray(d)) { /* FastAPI validation errors */
            const cJSON *first = cJSON_GetArrayItem(d, 0);
            put(msg, msglen, json_str(first, "msg"));
            rc = 0;
        }
    }
    cJSON_Delete(j);
    if (rc && body && msglen) {
        size_t n = len < msglen - 1 ? len : msglen - 1;
        n = n > 200 ? 200 : n;
        memcpy(msg, body, n);
        msg[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)msg[i] < ' ')
                msg[i] = ' ';
    }
    return rc;
}

/* Case-insensitive (ASCII) substring test. */
static bool has_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (; s && *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && (s[i] | 0x20) == (w[i] | 0x20))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

int llm_is_overflow(const char *msg, const char *code)
{
    static const char *const keys[] = {"context length", "context_length", "context window",
                                       "maximum context", "context size", "exceed_context",
                                       "too many tokens", "prompt is too long", "n_ctx"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (has_word(msg, keys[i]) || has_word(code, keys[i]))
            return 1;
    return 0;
}

/* ---- one attempt -------------------------------------------------------------- */

static int on_sse(void *ud, const sse_event *ev)
{
    llm_call *k = ud;
    switch (ev->kind) {
    case SSE_DELTA: {
        if (!ev->len)
            return 0;
        size_t room = k->c ? k->c->o.max_answer - k->len : 0;
        size_t n = ev->len;
        if (n > room) {
            /* cut at a character boundary and end as the model would */
            n = room;
            while (n > 0 && ((unsigned char)ev->text[n] & 0xC0) == 0x80)
                n--;
            k->capped = true;
        }
        if (k->len + n + 1 > k->cap) {
            size_t cap = k->cap ? k->cap : 1024;
            while (cap < k->len + n + 1)
                cap *= 2;
            char *p = realloc(k->text, cap);
            if (!p)
                return 1;
            k->text = p;
            k->cap = cap;
        }
        memcpy(k->text + k->len, ev->text, n);
        k->len += n;
        k->text[k->len] = '\0';
        k->last_delta = loop_now_ms();
        if (!k->got_first) {
            k->got_first = true;
            k->first_token_ms = (int)(k->last_delta - k->started);
        }
        if (n && k->on_delta && !k->dead)
            k->on_delta(k->ud, k->text, k->len);
        if (k->capped) {
            put(k->finish, sizeof k->finish, "length");
            k->finished = true;
            return 1;
        }
        return 0;
    }
    case SSE_FINISH:
        put(k->finish, sizeof k->finish, ev->text);
        k->finished = true;
        return 0;
    case SSE_USAGE:
        if (ev->prompt_tokens >= 0)
            k->prompt_tokens = ev->prompt_tokens;
        if (ev->completion_tokens >= 0)
            k->completion_tokens = ev->completion_tokens;
        return 0;
    case SSE_ERROR:
        snprintf(k->stream_err, sizeof k->stream_err, "%s%s%s", ev->text,
                 ev->code ? " / " : "", ev->code ? ev->code : "");
        return 1;
    case SSE_DONE:
        k->done_seen = true;
        return 0;
    case SSE_TOOL_CALL: {
        if (ev->index < 0 || ev->index >= LLM_TOOL_CALLS_MAX)
            return 0; /* more calls than anyone runs: dropped */
        while (k->n_calls <= ev->index) {
            llm_tool_call *t = &k->calls[k->n_calls++];
            t->id[0] = t->name[0] = '\0';
            text_buf_init(&t->args, LLM_TOOL_ARGS_MAX);
        }
        llm_tool_call *t = &k->calls[ev->index];
        if (ev->id && ev->id[0] && !t->id[0])
            snprintf(t->id, sizeof t->id, "%s", ev->id);
        if (ev->name && ev->name[0] && !t->name[0])
            snprintf(t->name, sizeof t->name, "%s", ev->name);
        if (ev->len && text_buf_add(&t->args, ev->text, ev->len))
            return 1;
        k->last_delta = loop_now_ms();
        if (!k->got_first) {
            k->got_first = true;
            k->first_token_ms = (int)(k->last_delta - k->started);
        }
        return 0;
    }
    }
    return 0;
}

static int on_data(void *ud, long status, const char *data, size_t n)
{
    llm_call *k = ud;
    if (k->dead)
        return 1;
    k->status = status;
    if (status < 200 || status >= 300) {
        size_t room = LLM_ERRBODY_MAX - k->errlen;
        if (n > room)
            n = room;
        if (!k->errbody && !(k->errbody = malloc(LLM_ERRBODY_MAX + 1)))
            return 1;
        memcpy(k->errbody + k->errlen, data, n);
        k->errlen += n;
        k->errbody[k->errlen] = '\0';
        return 0;
    }
    /* Some servers and proxies ignore "stream": true and answer with one
     * application/json completion. An SSE body starts with a field name
     * or ':', a JSON one with '{': the first byte tells them apart. */
    while (k->body == BODY_UNKNOWN && n > 0 && strchr(" \t\r\n", *data)) {
        data++;
        n--;
    }
    if (k->body == BODY_UNKNOWN && n > 0)
        k->body = *data == '{' ? BODY_JSON : BODY_SSE;
    if (k->body == BODY_JSON) {
        size_t cap = k->c->o.max_answer * 2 + LLM_ERRBODY_MAX; /* escapes, the envelope */
        if (k->json_len + n > cap) {
            put(k->stream_err, sizeof k->stream_err, "the completion is too large");
            return 1;
        }
        char *p = realloc(k->json, k->json_len + n + 1);
        if (!p)
            return 1;
        k->json = p;
        memcpy(k->json + k->json_len, data, n);
        k->json_len += n;
        k->json[k->json_len] = '\0';
        return 0;
    }
    if (n && sse_feed(k->sse, data, n))
        return 1; /* an error event, the cap, or out of memory: stop reading */
    return 0;
}

/* A whole JSON completion arrived: its text, finish and usage as if
 * streamed (one delta). 0, or -1 with stream_err set. */
static int parse_completion(llm_call *k)
{
    int rc = sse_parse_chunk(k->json, k->json_len, on_sse, k);
    if (rc == 1)
        put(k->stream_err, sizeof k->stream_err, "the answer is neither a stream nor a completion");
    else if (rc == 0 && (k->len > 0 || k->n_calls > 0))
        k->finished = true; /* a completion is whole, with or without a finish_reason */
    return rc == 0 ? 0 : -1;
}

static int on_tick(void *ud)
{
    llm_call *k = ud;
    if (k->dead || !k->c)
        return 1;
    if (k->on_tick)
        k->on_tick(k->ud);
    long now = loop_now_ms();
    const llm_options *o = &k->c->o;
    if (now - k->started > o->total_ms)
        put(k->timeout, sizeof k->timeout, "total timeout");
    else if (!k->got_first && k->attempt_start <= now &&
             now - k->attempt_start > o->first_token_ms)
        put(k->timeout, sizeof k->timeout, "no first token in time");
    else if (k->got_first && now - k->last_delta > o->idle_ms)
        put(k->timeout, sizeof k->timeout, "idle between tokens");
    return k->timeout[0] != '\0';
}

static void on_finished(const http_result *r, void *ud);

void llm_set_tick(llm_call *call, llm_tick_fn fn)
{
    if (call)
        call->on_tick = fn;
}

static int start_attempt(llm_call *k, long delay_ms)
{
    llm_client *c = k->c;
    sse_free(k->sse);
    k->sse = sse_new(on_sse, k, 0);
    char *body = cJSON_PrintUnformatted(k->req);
    if (!k->sse || !body) {
        free(body);
        return -1;
    }
    k->status = 0;
    k->errlen = 0;
    k->body = BODY_UNKNOWN;
    free(k->json);
    k->json = NULL;
    k->json_len = 0;
    k->stream_err[0] = '\0';
    k->finish[0] = '\0';
    k->finished = k->done_seen = false;
    calls_clear(k);
    k->attempts++;
    k->attempt_start = loop_now_ms() + delay_ms;
    const char *hdrs[4] = {"Content-Type: application/json", "Accept: text/event-stream",
                           c->ep.auth, NULL};
    long left = c->o.total_ms - (loop_now_ms() - k->started);
    http_stream_opts so = {.url = c->ep.url, .body = body, .headers = hdrs,
                         .connect_timeout_ms = c->o.connect_ms,
                         .timeout_ms = (left > 1 ? left : 1) + delay_ms + 1000,
                         .delay_ms = delay_ms};
    /* curl's own total is a backstop a second later: the tick names the
     * deadline that fired */
    http_err e = http_stream(c->lp, &so, on_data, on_tick, on_finished, k);
    cJSON_free(body);
    return e == HTTP_OK ? 0 : -1;
}

static void breaker_note(llm_call *k, llm_status st);

/* The answer's tool calls in OpenAI's shape (a malloc'd JSON array), NULL
 * when there are none (or out of memory). A call without a name is
 * dropped; one without an id gets "call_<i>". */
static char *calls_json(const llm_call *k)
{
    cJSON *arr = k->n_calls ? cJSON_CreateArray() : NULL;
    for (int i = 0; arr && i < k->n_calls; i++) {
        const llm_tool_call *t = &k->calls[i];
        if (!t->name[0])
            continue;
        char id[32];
        snprintf(id, sizeof id, "call_%d", i);
        cJSON *o = cJSON_CreateObject(), *fn = NULL;
        if (!o || !cJSON_AddItemToArray(arr, o) ||
            !cJSON_AddStringToObject(o, "id", t->id[0] ? t->id : id) ||
            !cJSON_AddStringToObject(o, "type", "function") ||
            !(fn = cJSON_AddObjectToObject(o, "function")) ||
            !cJSON_AddStringToObject(fn, "name", t->name) ||
            !cJSON_AddStringToObject(fn, "arguments", t->args.len ? t->args.p : "{}")) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    char *js = cJSON_GetArraySize(arr) > 0 ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return js;
}

static void report(llm_call *k, llm_status st, const char *why)
{
    if (!k->dead && k->c)
        breaker_note(k, st);
    if (!k->dead && k->on_done) {
        char *calls = st == LLM_OK ? calls_json(k) : NULL;
        llm_result res = {
            .status = st, .text = k->text ? k->text : "", .len = k->len,
            .finish = k->finish, .error = why ? why : "", .http_status = k->status,
            .prompt_tokens = k->prompt_tokens, .completion_tokens = k->completion_tokens,
            .attempts = k->attempts, .first_token_ms = k->got_first ? k->first_token_ms : -1,
            .tool_calls = calls,
        };
        k->on_done(k->ud, &res);
        cJSON_free(calls);
    }
    if (st == LLM_OK && k->tools_dropped && k->c && !k->c->no_tools) {
        /* the answer without tools came: the 400 was about them */
        k->c->no_tools = true;
        log_warn("llm", "the server has no tool calling: no tools are offered from now on");
    }
    call_free(k);
}

/* Drops the history between the system prompt and the last message. */
static bool trim_history(llm_call *k)
{
    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(k->req, "messages");
    int n = cJSON_GetArraySize(msgs);
    const char *r0 = n > 0 ? json_str(cJSON_GetArrayItem(msgs, 0), "role") : NULL;
    int first = r0 && !strcmp(r0, "system");
    if (n - first <= 1)
        return false;
    for (int i = n - 2; i >= first; i--)
        cJSON_DeleteItemFromArray(msgs, i);
    return true;
}

static long backoff(const llm_call *k)
{
    long d = k->c->o.retry_base_ms;
    for (int i = 1; i < k->attempts && d < 8000; i++)
        d *= 2;
    return d;
}

static void on_finished(const http_result *r, void *ud)
{
    llm_call *k = ud;
    if (k->dead || !k->c) {
        call_free(k);
        return;
    }
    if ((r->err == HTTP_OK || r->err == HTTP_ERR_CANCELLED) && k->body != BODY_JSON)
        sse_end(k->sse);
    else if (r->err == HTTP_OK && k->status >= 200 && k->status < 300)
        parse_completion(k);
    char why[LLM_REASON_MAX + 160];
    bool may_retry = !k->probe && !k->got_first && k->attempts <= k->c->o.max_retries;
    if (k->timeout[0]) {
        snprintf(why, sizeof why, "%s (after %d attempt(s))", k->timeout, k->attempts);
        report(k, LLM_ERR_TIMEOUT, why);
        return;
    }
    if (r->err == HTTP_ERR_CANCELLED && !k->stream_err[0] && !k->capped &&
        strcmp(r->description, "aborted")) {
        report(k, LLM_ERR_CANCELLED, r->description);
        return;
    }
    if (r->err == HTTP_ERR_NETWORK || r->err == HTTP_ERR_NOMEM) {
        snprintf(why, sizeof why, "%s", r->description);
        if (may_retry && r->err == HTTP_ERR_NETWORK && start_attempt(k, backoff(k)) == 0) {
            log_warn("llm", "request failed (%s), retry %d", why, k->attempts - 1);
            return;
        }
        report(k, k->got_first ? LLM_ERR_CUT : r->err == HTTP_ERR_NOMEM ? LLM_ERR_NOMEM
                                                                        : LLM_ERR_NETWORK, why);
        return;
    }
    if (k->status < 200 || k->status >= 300 || r->err == HTTP_ERR_STATUS) {
        long st = k->status ? k->status : r->status;
        char msg[LLM_REASON_MAX], code[64];
        llm_parse_error(k->errbody, k->errlen, msg, sizeof msg, code, sizeof code);
        snprintf(why, sizeof why, "HTTP %ld: %s%s%s", st, msg, code[0] ? " / " : "", code);
        k->status = st;
        if (st == 400 && llm_is_overflow(msg, code)) {
            if (!k->trimmed && trim_history(k)) {
                k->trimmed = true;
                log_warn("llm", "%s; history trimmed, sending again", why);
                if (start_attempt(k, 0) == 0)
                    return;
            }
            report(k, LLM_ERR_OVERFLOW, why);
            return;
        }
        if ((st == 400 || st == 422) && !k->tools_dropped &&
            cJSON_GetObjectItemCaseSensitive(k->req, "tools")) {
            /* a server without tool calling: plain answers from now on */
            cJSON_DeleteItemFromObjectCaseSensitive(k->req, "tools");
            cJSON_DeleteItemFromObjectCaseSensitive(k->req, "tool_choice");
            k->tools_dropped = true;
            log_warn("llm", "%s; the server refused tools: asking again without them", why);
            if (start_attempt(k, 0) == 0)
                return;
        }
        if (may_retry && (st == 429 || st >= 500)) {
            long d = backoff(k);
            if (st == 429 && r->retry_after > 0)
                d = r->retry_after * 1000L;
            if (d > LLM_RETRY_AFTER_MAX_MS)
                d = LLM_RETRY_AFTER_MAX_MS;
            if (start_attempt(k, d) == 0) {
                log_warn("llm", "%s; retry %d in %ld ms", why, k->attempts - 1, d);
                return;
            }
        }
        report(k, LLM_ERR_HTTP, why);
        return;
    }
    if (k->stream_err[0]) {
        snprintf(why, sizeof why, "%s", k->stream_err);
        report(k, LLM_ERR_SERVER, why);
        return;
    }
    if (!k->finished && !k->done_seen) {
        report(k, k->len ? LLM_ERR_CUT : LLM_ERR_EMPTY, "the stream ended early");
        return;
    }
    if (!k->len && !k->n_calls) {
        report(k, LLM_ERR_EMPTY, "the model sent no text");
        return;
    }
    report(k, LLM_OK, NULL);
}

static llm_call *call_start(llm_client *c, const char *model, const llm_msg *msgs, int n,
                            const cJSON *messages, const cJSON *tools, const char *tool_choice,
                            llm_delta_fn on_delta, llm_done_fn on_done, void *ud, bool probe,
                            long delay_ms);

/* Starts the breaker's probe after delay_ms (when none is pending). */
static void probe_start(llm_client *c, long delay_ms)
{
    if (c->probe)
        return;
    llm_msg ping = {.role = "user", .content = "ping"};
    c->probe = call_start(c, NULL, &ping, 1, NULL, NULL, NULL, NULL, NULL, NULL, true, delay_ms);
    if (!c->probe)
        log_debug("llm", "the probe could not start; the next question starts it");
}

/* A question: refused while the circuit is open (the caller answers at
 * once; the probe runs meanwhile). */
static llm_call *chat(llm_client *c, const char *model, const llm_msg *msgs, int n,
                      const cJSON *messages, const cJSON *tools, const char *tool_choice,
                      llm_delta_fn on_delta, llm_done_fn on_done, void *ud)
{
    if (c->open) {
        probe_start(c, c->o.breaker_probe_ms); /* (none pending: its start had failed) */
        return NULL; /* the caller answers at once; the probe runs meanwhile */
    }
    return call_start(c, model, msgs, n, messages, tools, tool_choice, on_delta, on_done, ud, false,
                      0);
}

int llm_circuit_open(const llm_client *c) { return c && c->open; }

/* ---- the circuit breaker ------------------------------------------------------ */

/* A call ended with st (not yet freed): count it, open or close. */
static void breaker_note(llm_call *k, llm_status st)
{
    llm_client *c = k->c;
    if (c->o.breaker_failures < 0)
        return;
    if (k->probe) {
        c->probe = NULL;
        if (st == LLM_OK) {
            c->open = false;
            c->fails = 0;
            log_info("llm", "the model answers again: circuit closed");
        } else {
            log_debug("llm", "probe failed (%s); next in %ld ms", llm_status_str(st),
                      c->o.breaker_probe_ms);
            if (c->open)
                probe_start(c, c->o.breaker_probe_ms);
        }
        return;
    }
    if (st == LLM_OK) {
        c->fails = 0;
        return;
    }
    /* what says the model is down, not what says the question or the answer
     * was wrong: a failure before the first token, not an overflow, not a
     * 4xx other than 429, not our shutdown */
    bool counts = !k->got_first && st != LLM_ERR_OVERFLOW && st != LLM_ERR_CANCELLED &&
                  st != LLM_ERR_NOMEM &&
                  !(st == LLM_ERR_HTTP && k->status >= 400 && k->status < 500 && k->status != 429);
    if (!counts || c->open)
        return;
    long now = loop_now_ms();
    if (!c->fails || now - c->fail_since > c->o.breaker_window_ms) {
        c->fails = 0;
        c->fail_since = now;
    }
    if (++c->fails >= c->o.breaker_failures) {
        c->open = true;
        log_warn("llm", "the model failed %d time(s) within %.1f s: circuit open, questions "
                 "get the apology at once; probing every %.1f s", c->fails,
                 (double)(now - c->fail_since) / 1000, (double)c->o.breaker_probe_ms / 1000);
        probe_start(c, c->o.breaker_probe_ms);
    }
}

static llm_call *call_start(llm_client *c, const char *model, const llm_msg *msgs, int n,
                            const cJSON *messages, const cJSON *tools, const char *tool_choice,
                            llm_delta_fn on_delta, llm_done_fn on_done, void *ud, bool probe,
                            long delay_ms)
{
    llm_call *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->on_delta = on_delta;
    k->on_done = on_done;
    k->ud = ud;
    k->prompt_tokens = k->completion_tokens = -1;
    k->started = loop_now_ms() + delay_ms; /* a probe's total counts from its start */
    k->req = cJSON_CreateObject();
    cJSON *arr = k->req ? cJSON_AddArrayToObject(k->req, "messages") : NULL;
    cJSON *so = NULL;
    bool ok = arr && cJSON_AddStringToObject(k->req, "model", model && *model ? model : c->model) &&
              cJSON_AddTrueToObject(k->req, "stream") &&
              (so = cJSON_AddObjectToObject(k->req, "stream_options")) &&
              cJSON_AddTrueToObject(so, "include_usage");
    /* the probe asks for one token: the cheapest proof of a working model */
    if (probe)
        ok = ok && cJSON_AddNumberToObject(k->req, "max_tokens", 1);
    k->probe = probe;
    if (ok && tools && cJSON_GetArraySize(tools) > 0 && !c->no_tools) {
        cJSON *t = cJSON_Duplicate(tools, true);
        ok = t && cJSON_AddItemToObject(k->req, "tools", t);
        if (!ok)
            cJSON_Delete(t);
        if (ok && tool_choice)
            ok = cJSON_AddStringToObject(k->req, "tool_choice", tool_choice) != NULL;
    }
    const cJSON *mi;
    cJSON_ArrayForEach(mi, messages) {
        cJSON *m = ok ? cJSON_Duplicate(mi, true) : NULL;
        ok = m && cJSON_AddItemToArray(arr, m);
        if (!ok)
            cJSON_Delete(m);
    }
    for (int i = 0; ok && i < n; i++) {
        cJSON *m = cJSON_CreateObject();
        ok = m && cJSON_AddItemToArray(arr, m) &&
             cJSON_AddStringToObject(m, "role", msgs[i].role) &&
             cJSON_AddStringToObject(m, "content", msgs[i].content ? msgs[i].content : "");
    }
    /* linked before the transfer starts: its callbacks need k->c */
    k->c = c;
    k->next = c->head;
    if (c->head)
        c->head->prev = k;
    c->head = k;
    if (!ok || start_attempt(k, delay_ms)) {
        call_free(k);
        return NULL;
    }
    return k;
}

llm_call *llm_chat(llm_client *c, const char *model, const llm_msg *msgs, int n,
                   llm_delta_fn on_delta, llm_done_fn on_done, void *ud)
{
    return chat(c, model, msgs, n, NULL, NULL, NULL, on_delta, on_done, ud);
}

llm_call *llm_chat_tools(llm_client *c, const char *model, const cJSON *messages,
                         const cJSON *tools, const char *tool_choice, llm_delta_fn on_delta,
                         llm_done_fn on_done, void *ud)
{
    return chat(c, model, NULL, 0, messages, tools, tool_choice, on_delta, on_done, ud);
}

int llm_tools_refused(const llm_client *c) { return c->no_tools; }

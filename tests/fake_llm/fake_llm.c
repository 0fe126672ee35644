/*
 * fake_llm.c — see fake_llm.h.
 */
#include "fake_llm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#define FL_MAX_REQUESTS 20000
#define FL_MAX_BODY (1024 * 1024)
#define FL_MAX_ALIASES 16
#define FL_MAX_DIMS 4096
#define FL_MAX_WORD 64
#define FL_MAX_CALLS 8

typedef struct fl_error {
    int status, times, retry_after;
    char *body;
} fl_error;

struct fakellm {
    struct MHD_Daemon *d;
    int port;
    char base[64];
    pthread_mutex_t mu;
    /* script */
    char *answer;
    char *summary;              /* the answer to a summary request, NULL: `answer` */
    int chunk;
    fakellm_style style;
    bool usage;
    int first_ms, between_ms;
    int stall_after, stall_ms;  /* a longer gap before content chunk stall_after + 1 */
    int cut, serr, serr_old;
    bool json;                  /* one application/json completion, stream ignored */
    fl_error err;
    int embed_dims;             /* /v1/embeddings: the size of a vector */
    char *alias[FL_MAX_ALIASES][2]; /* a word embedded as another */
    int n_alias;
    char *calls[FL_MAX_CALLS][2]; /* tool calls for the next fresh question: name, arguments */
    int n_calls;
    bool no_tools;              /* a server without tool calling: 400 to `tools` */
    /* record */
    char **reqs;
    long *req_at;
    int n_reqs;
    int embed_reqs, embed_inputs;
};

/* Whether s[0..n) is valid UTF-8 (no overlong forms, no surrogates). */
static bool utf8_ok(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + n;
    while (s < end) {
        unsigned c = *s, k, cp;
        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            k = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3, cp = c & 0x07;
        else
            return false;
        if ((size_t)(end - s) <= k)
            return false;
        for (unsigned i = 1; i <= k; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        s += k + 1;
    }
    return true;
}

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- a growing string --------------------------------------------------- */

typedef struct sb {
    char *p;
    size_t n, cap;
} sb;

static void sb_add(sb *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_adds(sb *b, const char *s) { sb_add(b, s, strlen(s)); }

/* s as a JSON string body (no quotes); ascii: escape non-ASCII as \uXXXX
 * (Python's json.dumps, as vLLM sends). */
static void sb_json(sb *b, const char *s, size_t n, bool ascii)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[16];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            sb_add(b, e, 2);
        } else if (c == '\n') {
            sb_adds(b, "\\n");
        } else if (c < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", c);
            sb_adds(b, e);
        } else if (ascii && c >= 0x80) {
            uint32_t cp;
            size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            cp = c & (0xFF >> (k + 1));
            for (size_t j = 1; j < k && i + j < n; j++)
                cp = (cp << 6) | ((unsigned char)s[i + j] & 0x3F);
            i += k - 1;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                snprintf(e, sizeof e, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            } else {
                snprintf(e, sizeof e, "\\u%04x", cp);
            }
            sb_adds(b, e);
        } else {
            sb_add(b, (const char *)&s[i], 1);
        }
    }
}

/* ---- the stream ---------------------------------------------------------- */

typedef struct stream {
    char **ev;         /* events, each complete with its framing */
    int n, pos;
    int first_ms, between_ms;
    int stall_at, stall_ms; /* event index that waits stall_ms instead, -1 */
    int cut_at;        /* event index where the connection breaks, -1 */
    size_t off;        /* bytes of ev[pos] already sent */
} stream;

static void ev_add(stream *s, sb *b)
{
    s->ev = realloc(s->ev, (size_t)(s->n + 1) * sizeof *s->ev);
    if (!s->ev)
        abort();
    s->ev[s->n++] = b->p ? b->p : strdup("");
    *b = (sb){0};
}

static const char *usage_json(int prompt, int completion, char *buf, size_t n)
{
    snprintf(buf, n, "{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}",
             prompt, completion, prompt + completion);
    return buf;
}

static stream *build(const fakellm *f, const char *answer, int prompt_tokens)
{
    stream *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->first_ms = f->first_ms;
    s->between_ms = f->between_ms;
    /* event 0 is the role chunk, event k the k-th content chunk (llama.cpp
     * pings aside) */
    s->stall_at = f->stall_after > 0 ? f->stall_after + 1 : -1;
    s->stall_ms = f->stall_ms;
    s->cut_at = -1;
    const char *end = f->style == FAKELLM_LLAMACPP ? "\r\n\r\n" : "\n\n";
    const char *nul = f->style == FAKELLM_OPENAI || f->style == FAKELLM_VLLM ? ",\"usage\":null" : "";
    bool ascii = f->style == FAKELLM_VLLM;
    const char *pre = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
                      "\"model\":\"fake\",\"choices\":[{\"index\":0,";
    sb b = {0};
    sb_adds(&b, pre);
    sb_adds(&b, "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]");
    sb_adds(&b, nul);
    sb_adds(&b, "}");
    sb_adds(&b, end);
    ev_add(s, &b);
    const char *a = answer;
    size_t len = strlen(a), i = 0;
    int chunks = 0, completion = 0;
    while (i < len) {
        size_t j = i + (size_t)(f->chunk > 0 ? f->chunk : 8);
        if (j >= len) {
            j = len;
        } else {
            while (j < len && a[j] != ' ' && ((unsigned char)a[j] & 0xC0) == 0x80)
                j++; /* never inside a character... */
            while (j < len && a[j] != ' ' && j - i < 64)
                j++; /* ...and preferably at a word's end */
        }
        if (f->cut >= 0 && chunks == f->cut) {
            s->cut_at = s->n;
            break;
        }
        if (f->serr >= 0 && chunks == f->serr) {
            if (f->serr_old)
                sb_adds(&b, "error: {\"code\":500,\"message\":\"slot unavailable\",\"type\":\"server_error\"}");
            else
                sb_adds(&b, "data: {\"error\":{\"message\":\"model crashed\",\"type\":\"InternalServerError\",\"code\":500}}");
            sb_adds(&b, end);
            ev_add(s, &b);
            return s;
        }
        if (f->style == FAKELLM_LLAMACPP && chunks % 2 == 1) {
            sb_adds(&b, ": ping");
            sb_adds(&b, end);
            ev_add(s, &b);
        }
        sb_adds(&b, pre);
        sb_adds(&b, "\"delta\":{\"content\":\"");
        sb_json(&b, a + i, j - i, ascii);
        sb_adds(&b, "\"},\"finish_reason\":null}]");
        sb_adds(&b, nul);
        sb_adds(&b, "}");
        sb_adds(&b, end);
        ev_add(s, &b);
        chunks++;
        completion++;
        i = j;
    }
    if (s->cut_at < 0 && f->cut >= 0 && chunks == f->cut && i >= len)
        s->cut_at = s->n;
    char u[128];
    usage_json(prompt_tokens, completion, u, sizeof u);
    sb_adds(&b, pre);
    sb_adds(&b, "\"delta\":{},\"finish_reason\":\"stop\"}]");
    if (f->style == FAKELLM_LLAMACPP && f->usage) {
        sb_adds(&b, ",\"usage\":");
        sb_adds(&b, u);
    } else {
        sb_adds(&b, nul);
    }
    sb_adds(&b, "}");
    sb_adds(&b, end);
    ev_add(s, &b);
    if (f->usage && f->style != FAKELLM_LLAMACPP) {
        sb_adds(&b, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":");
        sb_adds(&b, u);
        sb_adds(&b, "}");
        sb_adds(&b, end);
        ev_add(s, &b);
    }
    if (f->style != FAKELLM_OLLAMA) {
        sb_adds(&b, "data: [DONE]");
        sb_adds(&b, end);
        ev_add(s, &b);
    }
    return s;
}

/* The whole answer as one non-streamed completion, as a server that
 * ignores "stream": true sends it. malloc'd. */
static char *completion(const fakellm *f, const char *answer, int prompt_tokens)
{
    const char *a = answer;
    char u[128];
    usage_json(prompt_tokens, (int)(strlen(a) / 4) + 1, u, sizeof u);
    sb b = {0};
    sb_adds(&b, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"fake\","
                "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"");
    sb_json(&b, a, strlen(a), false);
    sb_adds(&b, "\"},\"finish_reason\":\"stop\"}]");
    if (f->usage) {
        sb_adds(&b, ",\"usage\":");
        sb_adds(&b, u);
    }
    sb_adds(&b, "}\n");
    return b.p;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *s = cls;
    (void)pos;
    if (s->pos >= s->n)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (s->pos == s->cut_at)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (s->off == 0)
        sleep_ms(s->pos == 0 ? s->first_ms : s->pos == s->stall_at ? s->stall_ms : s->between_ms);
    const char *e = s->ev[s->pos];
    size_t left = strlen(e) - s->off;
    size_t n = left < max ? left : max;
    memcpy(buf, e + s->off, n);
    s->off += n;
    if (s->off == strlen(e)) {
        s->pos++;
        s->off = 0;
    }
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *s = cls;
    for (int i = 0; i < s->n; i++)
        free(s->ev[i]);
    free(s->ev);
    free(s);
}

/* ---- requests -------------------------------------------------------------- */

typedef struct conn {
    sb body;
    bool toobig;
} conn;

static const char *typical_error(int status)
{
    switch (status) {
    case 400: /* OpenAI / vLLM */
        return "{\"error\":{\"message\":\"This model's maximum context length is 4096 tokens. "
               "However, you requested 5000 tokens.\",\"type\":\"invalid_request_error\","
               "\"code\":\"context_length_exceeded\"}}";
    case 401: return "{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}";
    case 404: return "{\"error\":\"model 'nope' not found\"}"; /* Ollama */
    case 422: return "{\"detail\":[{\"loc\":[\"body\",\"messages\"],\"msg\":\"field required\",\"type\":\"missing\"}]}";
    case 429: return "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}";
    case 500: return "{\"object\":\"error\",\"message\":\"internal error\",\"type\":\"InternalServerError\",\"code\":500}";
    case 503: return "{\"error\":{\"code\":503,\"message\":\"Loading model\",\"type\":\"unavailable_error\"}}";
    default: return "{\"detail\":\"error\"}";
    }
}

const char *fakellm_overflow_body(fakellm_style s)
{
    switch (s) {
    case FAKELLM_VLLM: /* vLLM's flat error object */
        return "{\"object\":\"error\",\"message\":\"This model's maximum context length is 4096 "
               "tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the "
               "completion). Please reduce the length of the messages or completion.\","
               "\"type\":\"BadRequestError\",\"param\":null,\"code\":400}";
    case FAKELLM_LLAMACPP: /* llama.cpp's server */
        return "{\"error\":{\"code\":400,\"message\":\"the request exceeds the available context "
               "size, try increasing it\",\"type\":\"exceed_context_size_error\","
               "\"n_prompt_tokens\":5000,\"n_ctx\":4096}}";
    case FAKELLM_OLLAMA: /* Ollama, when it refuses instead of truncating the prompt */
        return "{\"error\":\"the input length exceeds the context length\"}";
    case FAKELLM_OPENAI:
    default:
        return typical_error(400);
    }
}

/* ---- embeddings --------------------------------------------------------------- */

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* A hashed bag of words: every word (a run of ASCII letters and digits,
 * lowercased, or of non-ASCII bytes) adds ±1 to one of dims coordinates;
 * a word with an alias counts as the alias. Texts sharing words point the
 * same way, and an alias makes two words "mean" the same, as a model's
 * vectors do for synonyms. Caller holds f->mu. */
static void bag(const fakellm *f, const char *t, float *v, int dims)
{
    memset(v, 0, (size_t)dims * sizeof *v);
    for (const char *p = t; *p;) {
        char w[FL_MAX_WORD];
        size_t n = 0;
        while (*p && !(((unsigned char)*p >= 0x80) || (*p >= '0' && *p <= '9') ||
                       ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')))
            p++;
        while (*p && (((unsigned char)*p >= 0x80) || (*p >= '0' && *p <= '9') ||
                      ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))) {
            if (n < sizeof w - 1)
                w[n++] = (unsigned char)*p < 0x80 ? (char)(*p | 0x20) : *p;
            p++;
        }
        if (!n)
            continue;
        w[n] = '\0';
        const char *word = w;
        for (int i = 0; i < f->n_alias; i++)
            if (!strcmp(w, f->alias[i][0]))
                word = f->alias[i][1];
        uint64_t h = fnv(word, strlen(word));
        v[h % (uint64_t)dims] += (h >> 63) ? -1.0f : 1.0f;
    }
}

/* The answer to a POST /v1/embeddings, strict about its shape as OpenAI
 * is: "model" a non-empty string, "input" a non-empty string or a
 * non-empty array of them, "encoding_format" (if any) "float", nothing
 * else but "dimensions" and "user". Sets *status; malloc'd JSON. Caller
 * holds f->mu. */
static char *embeddings(fakellm *f, const char *body, int *status)
{
    cJSON *j = cJSON_Parse(body ? body : "");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(j, "input");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "encoding_format");
    const char *why = NULL;
    if (!cJSON_IsObject(j))
        why = "the body is not a JSON object";
    else if (!cJSON_IsString(model) || !*model->valuestring)
        why = "'model' must be a non-empty string";
    else if (fmt && (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "float")))
        why = "only encoding_format 'float' is served";
    else if (!(cJSON_IsString(input) && *input->valuestring) &&
             !(cJSON_IsArray(input) && cJSON_GetArraySize(input) > 0))
        why = "'input' must be a non-empty string or array";
    const cJSON *none = NULL;
    const cJSON *fields = why ? none : j;
    const cJSON *list = why || !cJSON_IsArray(input) ? none : input;
    const cJSON *k;
    cJSON_ArrayForEach(k, fields) {
        if (strcmp(k->string, "model") && strcmp(k->string, "input") &&
            strcmp(k->string, "encoding_format") && strcmp(k->string, "dimensions") &&
            strcmp(k->string, "user"))
            why = "unknown field in the request";
    }
    cJSON_ArrayForEach(k, list) {
        if (!cJSON_IsString(k) || !*k->valuestring)
            why = "every input must be a non-empty string";
    }
    sb out = {0};
    if (why) {
        *status = 400;
        sb_adds(&out, "{\"error\":{\"message\":\"");
        sb_adds(&out, why);
        sb_adds(&out, "\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}");
        cJSON_Delete(j);
        return out.p;
    }
    *status = 200;
    f->embed_reqs++;
    int n = cJSON_IsArray(input) ? cJSON_GetArraySize(input) : 1;
    f->embed_inputs += n;
    float v[FL_MAX_DIMS];
    sb_adds(&out, "{\"object\":\"list\",\"data\":[");
    for (int i = 0; i < n; i++) {
        const cJSON *t = cJSON_IsArray(input) ? cJSON_GetArrayItem(input, i) : input;
        bag(f, t->valuestring, v, f->embed_dims);
        char num[80];
        snprintf(num, sizeof num, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":[",
                 i ? "," : "", i);
        sb_adds(&out, num);
        for (int d = 0; d < f->embed_dims; d++) {
            snprintf(num, sizeof num, "%s%g", d ? "," : "", (double)v[d]);
            sb_adds(&out, num);
        }
        sb_adds(&out, "]}");
    }
    sb_adds(&out, "],\"model\":");
    char *m = cJSON_PrintUnformatted(model);
    sb_adds(&out, m ? m : "\"\"");
    cJSON_free(m);
    sb_adds(&out, ",\"usage\":{\"prompt_tokens\":1,\"total_tokens\":1}}");
    cJSON_Delete(j);
    return out.p;
}

/* The scripted reply to a chat request: the summary (fakellm_summary) when
 * one is scripted and the request's system message asks for a summary
 * (starts "Summarize", as a closing session's does), else the answer.
 * Borrowed from f. Caller holds f->mu. */
static const char *reply(const fakellm *f, const char *body)
{
    const char *a = f->answer ? f->answer : "";
    if (!f->summary || !body)
        return a;
    cJSON *j = cJSON_Parse(body);
    const cJSON *m0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "messages"), 0);
    const char *sys = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m0, "content"));
    bool summary = sys && !strncmp(sys, "Summarize", 9);
    cJSON_Delete(j);
    return summary ? f->summary : a;
}

/* ---- tool calling -------------------------------------------------------------- */

/* What a strict OpenAI server refuses in a chat request's tool calling
 * (NULL when fine): `tools` not a list of function tools with a name and
 * an object schema; an assistant's tool call without a "tool" message
 * answering its id (a string content) before the next non-tool message; a
 * "tool" message answering no call. */
static const char *tool_protocol_error(const cJSON *req)
{
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(req, "tools");
    const cJSON *t;
    if (tools && (!cJSON_IsArray(tools) || cJSON_GetArraySize(tools) == 0))
        return "'tools' must be a non-empty array";
    cJSON_ArrayForEach(t, tools) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(t, "type");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "function") || !cJSON_IsString(name) ||
            !*name->valuestring || !cJSON_IsObject(params))
            return "every tool must be {type: function, function: {name, parameters}}";
    }
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
    const cJSON *m;
    const cJSON *open = NULL; /* the last assistant message's tool_calls */
    int answered = 0;
    cJSON_ArrayForEach(m, msgs) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const char *r = cJSON_IsString(role) ? role->valuestring : "";
        if (!strcmp(r, "tool")) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "tool_call_id");
            const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
            bool found = false;
            const cJSON *tc;
            cJSON_ArrayForEach(tc, open) {
                const cJSON *tid = cJSON_GetObjectItemCaseSensitive(tc, "id");
                found |= cJSON_IsString(id) && cJSON_IsString(tid) &&
                         !strcmp(id->valuestring, tid->valuestring);
            }
            if (!found || !cJSON_IsString(content))
                return "a 'tool' message must answer a tool call of the assistant message before it";
            answered++;
            continue;
        }
        if (open && answered < cJSON_GetArraySize(open))
            return "an assistant message with 'tool_calls' must be followed by tool messages "
                   "responding to each 'tool_call_id'";
        open = NULL;
        answered = 0;
        const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
        if (!strcmp(r, "assistant") && cJSON_IsArray(calls))
            open = calls;
    }
    if (open && answered < cJSON_GetArraySize(open))
        return "an assistant message with 'tool_calls' must be followed by tool messages "
               "responding to each 'tool_call_id'";
    return NULL;
}

/* Whether req is a fresh question (its last message the user's) offered tools. */
static bool fresh_with_tools(const cJSON *req)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
    const cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(last, "role");
    return cJSON_GetObjectItemCaseSensitive(req, "tools") && cJSON_IsString(role) &&
           !strcmp(role->valuestring, "user");
}

/* The scripted tool calls as a stream, OpenAI's way: each call's id, type
 * and name in its first delta with empty arguments, then the arguments in
 * pieces of 5 bytes, then finish_reason "tool_calls", the usage, [DONE].
 * Caller holds f->mu; the calls are consumed. */
static stream *build_calls(fakellm *f)
{
    stream *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->first_ms = f->first_ms;
    s->between_ms = f->between_ms;
    s->stall_at = s->cut_at = -1;
    const char *pre = "data: {\"id\":\"chatcmpl-2\",\"object\":\"chat.completion.chunk\","
                      "\"model\":\"fake\",\"choices\":[{\"index\":0,";
    sb b = {0};
    sb_adds(&b, pre);
    sb_adds(&b, "\"delta\":{\"role\":\"assistant\",\"content\":null},\"finish_reason\":null}]}\n\n");
    ev_add(s, &b);
    for (int i = 0; i < f->n_calls; i++) {
        char head[128];
        snprintf(head, sizeof head,
                 "\"delta\":{\"tool_calls\":[{\"index\":%d,\"id\":\"call_fake_%d\","
                 "\"type\":\"function\",\"function\":{\"name\":\"", i, i);
        sb_adds(&b, pre);
        sb_adds(&b, head);
        sb_json(&b, f->calls[i][0], strlen(f->calls[i][0]), false);
        sb_adds(&b, "\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n");
        ev_add(s, &b);
        const char *a = f->calls[i][1];
        for (size_t k = 0, n = strlen(a); k < n; k += 5) {
            snprintf(head, sizeof head,
                     "\"delta\":{\"tool_calls\":[{\"index\":%d,\"function\":{\"arguments\":\"", i);
            sb_adds(&b, pre);
            sb_adds(&b, head);
            sb_json(&b, a + k, n - k < 5 ? n - k : 5, false);
            sb_adds(&b, "\"}}]},\"finish_reason\":null}]}\n\n");
            ev_add(s, &b);
        }
        free(f->calls[i][0]);
        free(f->calls[i][1]);
    }
    f->n_calls = 0;
    sb_adds(&b, pre);
    sb_adds(&b, "\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n");
    ev_add(s, &b);
    sb_adds(&b, "data: {\"id\":\"chatcmpl-2\",\"object\":\"chat.completion.chunk\",\"choices\":[],"
                "\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":10,\"total_tokens\":60}}\n\n");
    ev_add(s, &b);
    sb_adds(&b, "data: [DONE]\n\n");
    ev_add(s, &b);
    return s;
}

/* The scripted tool calls as one non-streamed completion (message.tool_calls,
 * arguments whole). Caller holds f->mu; the calls are consumed. malloc'd. */
static char *completion_calls(fakellm *f)
{
    sb b = {0};
    sb_adds(&b, "{\"id\":\"chatcmpl-2\",\"object\":\"chat.completion\",\"model\":\"fake\","
                "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
                "\"tool_calls\":[");
    for (int i = 0; i < f->n_calls; i++) {
        char head[96];
        snprintf(head, sizeof head, "%s{\"id\":\"call_fake_%d\",\"type\":\"function\",\"function\":{\"name\":\"",
                 i ? "," : "", i);
        sb_adds(&b, head);
        sb_json(&b, f->calls[i][0], strlen(f->calls[i][0]), false);
        sb_adds(&b, "\",\"arguments\":\"");
        sb_json(&b, f->calls[i][1], strlen(f->calls[i][1]), false);
        sb_adds(&b, "\"}}");
        free(f->calls[i][0]);
        free(f->calls[i][1]);
    }
    f->n_calls = 0;
    sb_adds(&b, "]},\"finish_reason\":\"tool_calls\"}],"
                "\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":10,\"total_tokens\":60}}\n");
    return b.p;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    fakellm *f = cls;
    (void)version;
    conn *k = *con_cls;
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k)
            return MHD_NO;
        *con_cls = k;
        return MHD_YES;
    }
    if (*upload_size) {
        if (k->body.n + *upload_size > FL_MAX_BODY)
            k->toobig = true;
        else
            sb_add(&k->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r;
    int status = 200;
    bool emb = !strcmp(url, "/v1/embeddings");
    if (strcmp(method, "POST") || (strcmp(url, "/v1/chat/completions") && !emb) || k->toobig) {
        status = k->toobig ? 413 : 404;
        const char *b = "{\"detail\":\"Not Found\"}";
        r = MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(r, "Content-Type", "application/json");
    } else {
        pthread_mutex_lock(&f->mu);
        if (f->n_reqs < FL_MAX_REQUESTS) {
            f->reqs[f->n_reqs] = strdup(k->body.p ? k->body.p : "");
            f->req_at[f->n_reqs] = mono_ms();
            f->n_reqs++;
        }
        cJSON *req = emb ? NULL : cJSON_Parse(k->body.p ? k->body.p : "");
        const char *proto = req ? tool_protocol_error(req) : NULL;
        bool has_tools = req && cJSON_GetObjectItemCaseSensitive(req, "tools");
        if (!utf8_ok(k->body.p ? k->body.p : "", k->body.n)) {
            /* what OpenAI answers a body that is not UTF-8 (its JSON
             * parser refuses it): the bot must never send one */
            status = 400;
            const char *b = "{\"error\":{\"message\":\"We could not parse the JSON body of "
                            "your request. (HINT: This likely means you aren't using your "
                            "HTTP library correctly. The OpenAI API expects a JSON payload, "
                            "but what was sent was not valid JSON.)\",\"type\":"
                            "\"invalid_request_error\",\"param\":null,\"code\":null}}";
            r = MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_MUST_COPY);
            MHD_add_response_header(r, "Content-Type", "application/json");
        } else if (!emb && (proto || (has_tools && f->no_tools))) {
            /* a strict server's refusal; without tool calling, vLLM's words */
            status = 400;
            sb eb = {0};
            sb_adds(&eb, "{\"error\":{\"message\":\"");
            sb_adds(&eb, proto ? proto
                               : "\\\"auto\\\" tool choice requires --enable-auto-tool-choice and "
                                 "--tool-call-parser to be set");
            sb_adds(&eb, "\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}}");
            r = MHD_create_response_from_buffer(eb.n, eb.p, MHD_RESPMEM_MUST_FREE);
            MHD_add_response_header(r, "Content-Type", "application/json");
        } else if (f->err.status && f->err.times != 0) {
            status = f->err.status;
            const char *b = f->err.body ? f->err.body : typical_error(status);
            r = MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_MUST_COPY);
            MHD_add_response_header(r, "Content-Type", "application/json");
            if (f->err.retry_after > 0) {
                char ra[16];
                snprintf(ra, sizeof ra, "%d", f->err.retry_after);
                MHD_add_response_header(r, "Retry-After", ra);
            }
            if (f->err.times > 0)
                f->err.times--;
        } else if (emb) {
            char *b = embeddings(f, k->body.p, &status);
            sleep_ms(f->first_ms);
            r = MHD_create_response_from_buffer(strlen(b), b, MHD_RESPMEM_MUST_FREE);
            MHD_add_response_header(r, "Content-Type", "application/json");
        } else if (f->json) {
            char *b = f->n_calls > 0 && fresh_with_tools(req)
                          ? completion_calls(f)
                          : completion(f, reply(f, k->body.p), (int)(k->body.n / 4));
            sleep_ms(f->first_ms);
            r = MHD_create_response_from_buffer(strlen(b), b, MHD_RESPMEM_MUST_FREE);
            MHD_add_response_header(r, "Content-Type", "application/json");
        } else {
            stream *s = f->n_calls > 0 && fresh_with_tools(req)
                            ? build_calls(f)
                            : build(f, reply(f, k->body.p), (int)(k->body.n / 4));
            r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s,
                                                  stream_free);
            MHD_add_response_header(r, "Content-Type", "text/event-stream");
            MHD_add_response_header(r, "Cache-Control", "no-cache");
        }
        cJSON_Delete(req);
        pthread_mutex_unlock(&f->mu);
    }
    if (!r)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    conn *k = *con_cls;
    if (k) {
        free(k->body.p);
        free(k);
        *con_cls = NULL;
    }
}

/* ---- life ------------------------------------------------------------------ */

void fakellm_reset(fakellm *f)
{
    pthread_mutex_lock(&f->mu);
    free(f->answer);
    f->answer = strdup("Hello from the model.");
    free(f->summary);
    f->summary = NULL;
    f->chunk = 8;
    f->style = FAKELLM_OPENAI;
    f->usage = true;
    f->first_ms = f->between_ms = 0;
    f->stall_after = f->stall_ms = 0;
    f->cut = f->serr = -1;
    f->serr_old = 0;
    f->json = false;
    f->embed_dims = 64;
    for (int i = 0; i < f->n_alias; i++) {
        free(f->alias[i][0]);
        free(f->alias[i][1]);
    }
    f->n_alias = 0;
    free(f->err.body);
    f->err = (fl_error){0};
    for (int i = 0; i < f->n_calls; i++) {
        free(f->calls[i][0]);
        free(f->calls[i][1]);
    }
    f->n_calls = 0;
    f->no_tools = false;
    pthread_mutex_unlock(&f->mu);
}

fakellm *fakellm_start(int port, char *err, size_t errlen)
{
    fakellm *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&f->mu, NULL);
    f->reqs = calloc(FL_MAX_REQUESTS, sizeof *f->reqs);
    f->req_at = calloc(FL_MAX_REQUESTS, sizeof *f->req_at);
    fakellm_reset(f);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                            (uint16_t)port, NULL, NULL, on_request, f,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, f,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)2000, MHD_OPTION_END);
    if (!f->d || !f->reqs || !f->req_at) {
        snprintf(err, errlen, "cannot start the fake LLM on port %d", port);
        fakellm_stop(f);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    f->port = di ? di->port : port;
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d/v1", f->port);
    return f;
}

void fakellm_stop(fakellm *f)
{
    if (!f)
        return;
    if (f->d)
        MHD_stop_daemon(f->d);
    for (int i = 0; i < f->n_reqs; i++)
        free(f->reqs[i]);
    free(f->reqs);
    free(f->req_at);
    free(f->answer);
    free(f->summary);
    free(f->err.body);
    for (int i = 0; i < f->n_calls; i++) {
        free(f->calls[i][0]);
        free(f->calls[i][1]);
    }
    for (int i = 0; i < f->n_alias; i++) {
        free(f->alias[i][0]);
        free(f->alias[i][1]);
    }
    pthread_mutex_destroy(&f->mu);
    free(f);
}

int fakellm_port(const fakellm *f) { return f->port; }
const char *fakellm_base(const fakellm *f) { return f->base; }

#define SET(stmt)                    \
    do {                             \
        pthread_mutex_lock(&f->mu);  \
        stmt;                        \
        pthread_mutex_unlock(&f->mu); \
    } while (0)

void fakellm_answer(fakellm *f, const char *text)
{
    char *t = strdup(text ? text : "");
    SET(free(f->answer); f->answer = t);
}
void fakellm_summary(fakellm *f, const char *text)
{
    char *t = text ? strdup(text) : NULL;
    SET(free(f->summary); f->summary = t);
}
void fakellm_chunk(fakellm *f, int n) { SET(f->chunk = n); }
void fakellm_set_style(fakellm *f, fakellm_style s) { SET(f->style = s); }
void fakellm_usage(fakellm *f, int on) { SET(f->usage = on != 0); }
void fakellm_delay(fakellm *f, int first_ms, int between_ms)
{
    SET(f->first_ms = first_ms; f->between_ms = between_ms);
}
void fakellm_stall(fakellm *f, int after, int ms)
{
    SET(f->stall_after = after; f->stall_ms = ms);
}
void fakellm_cut(fakellm *f, int after) { SET(f->cut = after); }
void fakellm_json(fakellm *f, int on) { SET(f->json = on != 0); }
void fakellm_stream_error(fakellm *f, int after, int old)
{
    SET(f->serr = after; f->serr_old = old);
}
void fakellm_error(fakellm *f, int status, const char *body, int times, int retry_after_s)
{
    char *b = body ? strdup(body) : NULL;
    pthread_mutex_lock(&f->mu);
    free(f->err.body);
    f->err = (fl_error){.status = status, .times = times, .retry_after = retry_after_s, .body = b};
    pthread_mutex_unlock(&f->mu);
}

int fakellm_style_by_name(const char *n)
{
    static const char *const names[] = {"openai", "ollama", "vllm", "llamacpp"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(n, names[i]))
            return i;
    return -1;
}

int fakellm_requests(fakellm *f)
{
    int n;
    SET(n = f->n_reqs);
    return n;
}

char *fakellm_request(fakellm *f, int i)
{
    char *r = NULL;
    SET(if (i >= 0 && i < f->n_reqs) r = strdup(f->reqs[i]));
    return r;
}

long fakellm_request_at(fakellm *f, int i)
{
    long t = -1;
    SET(if (i >= 0 && i < f->n_reqs) t = f->req_at[i]);
    return t;
}

void fakellm_embed_dims(fakellm *f, int dims)
{
    SET(f->embed_dims = dims > 0 && dims <= FL_MAX_DIMS ? dims : 64);
}

void fakellm_embed_alias(fakellm *f, const char *word, const char *as)
{
    pthread_mutex_lock(&f->mu);
    if (f->n_alias < FL_MAX_ALIASES) {
        f->alias[f->n_alias][0] = strdup(word);
        f->alias[f->n_alias][1] = strdup(as);
        f->n_alias++;
    }
    pthread_mutex_unlock(&f->mu);
}

int fakellm_embed_requests(fakellm *f, int *inputs)
{
    pthread_mutex_lock(&f->mu);
    int n = f->embed_reqs;
    if (inputs)
        *inputs = f->embed_inputs;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void fakellm_tool_call(fakellm *f, const char *name, const char *arguments)
{
    pthread_mutex_lock(&f->mu);
    if (f->n_calls < FL_MAX_CALLS) {
        f->calls[f->n_calls][0] = strdup(name);
        f->calls[f->n_calls][1] = strdup(arguments ? arguments : "{}");
        f->n_calls++;
    }
    pthread_mutex_unlock(&f->mu);
}

void fakellm_no_tools(fakellm *f, int on) { SET(f->no_tools = on != 0); }

int fakellm_pending_calls(fakellm *f)
{
    int n;
    SET(n = f->n_calls);
    return n;
}

/*
 * sse.c — see sse.h.
 *
 * Two layers: the SSE framing (lines → fields → events, byte by byte, so a
 * read may end anywhere) and the chat-completion chunk (JSON → deltas,
 * finish reason, usage, errors). Only the framing keeps state across reads,
 * plus up to 3 bytes of an unfinished UTF-8 character of the content.
 */
#include "ai/sse.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/text.h"

struct sse_parser {
    sse_fn fn;
    void *ud;
    size_t max;
    text_buf line;      /* the line being read */
    text_buf data;      /* the event's data lines, joined with "\n" */
    bool has_data;
    bool error_event;   /* `event: error` */
    bool after_cr;      /* the last byte was "\r": a "\n" now ends nothing */
    bool started;       /* past a possible byte-order mark */
    bool dead;
    int skipped;
    unsigned char pend[4]; /* an unfinished UTF-8 character of the content */
    size_t npend;
};

/* ---- UTF-8 --------------------------------------------------------------- */

static const char REPLACEMENT[] = "\xEF\xBF\xBD";

/* Length of the sequence a lead byte starts, 0 when it cannot lead. */
static size_t seq_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

/* Whether s[1..k) are valid continuation bytes for lead s[0] (k may be
 * less than the full length: a prefix check). */
static bool seq_ok(const unsigned char *s, size_t k)
{
    for (size_t i = 1; i < k; i++) {
        unsigned char c = s[i];
        unsigned char lo = 0x80, hi = 0xBF;
        if (i == 1) {
            if (s[0] == 0xE0)
                lo = 0xA0;
            else if (s[0] == 0xED)
                hi = 0x9F;
            else if (s[0] == 0xF0)
                lo = 0x90;
            else if (s[0] == 0xF4)
                hi = 0x8F;
        }
        if (c < lo || c > hi)
            return false;
    }
    return true;
}

/* Append s[0..n) to out as valid UTF-8: invalid bytes become U+FFFD; an
 * unfinished character at the end goes to pend (when pend is not NULL),
 * else becomes U+FFFD. Returns 0, -1 on out-of-memory. */
static int utf8_clean(text_buf *out, const unsigned char *s, size_t n, unsigned char *pend,
                      size_t *npend)
{
    size_t i = 0;
    while (i < n) {
        size_t k = seq_len(s[i]);
        if (k == 0) {
            if (text_buf_add(out, REPLACEMENT, 3))
                return -1;
            i++;
            continue;
        }
        if (i + k > n) {
            if (seq_ok(s + i, n - i)) {
                if (pend) {
                    memcpy(pend, s + i, n - i);
                    *npend = n - i;
                    return 0;
                }
                return text_buf_add(out, REPLACEMENT, 3);
            }
            k = 1; /* a broken prefix: replace its lead, rescan the rest */
        }
        if (k > 1 && !seq_ok(s + i, k)) {
            if (text_buf_add(out, REPLACEMENT, 3))
                return -1;
            i++;
            continue;
        }
        if (k == 1 && s[i] >= 0x80) {
            if (text_buf_add(out, REPLACEMENT, 3))
                return -1;
        } else if (text_buf_add(out, (const char *)s + i, k)) {
            return -1;
        }
        i += k;
    }
    return 0;
}

/* ---- chunks ---------------------------------------------------------------- */

typedef struct chunk_ctx {
    sse_fn fn;
    void *ud;
    unsigned char *pend; /* NULL: no hold-back (a whole body) */
    size_t *npend;
} chunk_ctx;

static int emit_text(chunk_ctx *c, sse_kind kind, const char *s, size_t n, const char *code)
{
    sse_event ev = {.kind = kind, .text = s, .len = n, .code = code,
                    .prompt_tokens = -1, .completion_tokens = -1, .total_tokens = -1};
    return c->fn(c->ud, &ev) ? -1 : 0;
}

/* Emit the content `s` (held-back bytes first), whole characters only. */
static int emit_delta(chunk_ctx *c, const char *s, size_t n, bool final)
{
    text_buf b;
    text_buf_init(&b, (size_t)-1);
    unsigned char joined[8];
    size_t held = c->npend ? *c->npend : 0;
    int rc = 0;
    if (held) {
        /* finish the held character with the first bytes of s */
        size_t need = seq_len(c->pend[0]) - held, take = need < n ? need : n;
        memcpy(joined, c->pend, held);
        memcpy(joined + held, s, take);
        *c->npend = 0;
        rc = utf8_clean(&b, joined, held + take, final ? NULL : c->pend, c->npend);
        s += take;
        n -= take;
        if (!rc && *c->npend && n) {
            /* still unfinished but more bytes follow: they were not
             * continuations after all (seq_ok said so), replace it */
            *c->npend = 0;
            rc = text_buf_add(&b, REPLACEMENT, 3);
        }
    }
    if (!rc)
        rc = utf8_clean(&b, (const unsigned char *)s, n, final ? NULL : c->pend, c->npend);
    if (!rc && b.len)
        rc = emit_text(c, SSE_DELTA, b.p, b.len, NULL);
    text_buf_free(&b);
    return rc;
}

/* Flush a held-back partial character as U+FFFD (the content is over). */
static int flush_pending(chunk_ctx *c)
{
    if (!c->npend || !*c->npend)
        return 0;
    *c->npend = 0;
    return emit_text(c, SSE_DELTA, REPLACEMENT, 3, NULL);
}

/* A JSON number as a long when it is one (finite, |v| < 9e18): the server's
 * number may be anything, and a double out of long's range does not
 * convert (undefined; found by the sse fuzzer with "code": 5e107). */
static bool as_long(const cJSON *v, long *out)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble > -9e18 && v->valuedouble < 9e18))
        return false;
    *out = (long)v->valuedouble;
    return true;
}

static long num_field(const cJSON *o, const char *name)
{
    long n;
    return as_long(cJSON_GetObjectItemCaseSensitive(o, name), &n) && n >= 0 ? n : -1;
}

/* The message and code of an error value: {"message":..., "code"|"type":...},
 * or a plain string, or anything else printed as JSON. */
static int emit_error(chunk_ctx *c, const cJSON *err)
{
    char *printed = NULL;
    const char *msg = NULL, *code = NULL;
    char codebuf[32];
    if (cJSON_IsString(err)) {
        msg = err->valuestring;
    } else if (cJSON_IsObject(err)) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");
        if (!cJSON_IsString(m))
            m = cJSON_GetObjectItemCaseSensitive(err, "content"); /* old llama.cpp */
        if (!cJSON_IsString(m))
            m = cJSON_GetObjectItemCaseSensitive(err, "detail");
        if (cJSON_IsString(m))
            msg = m->valuestring;
        const cJSON *cd = cJSON_GetObjectItemCaseSensitive(err, "code");
        if (cJSON_IsString(cd)) {
            code = cd->valuestring;
        } else if (cJSON_IsNumber(cd)) {
            long n;
            if (as_long(cd, &n))
                snprintf(codebuf, sizeof codebuf, "%ld", n);
            else
                snprintf(codebuf, sizeof codebuf, "%g", cd->valuedouble);
            code = codebuf;
        } else {
            const cJSON *ty = cJSON_GetObjectItemCaseSensitive(err, "type");
            if (cJSON_IsString(ty))
                code = ty->valuestring;
        }
    }
    if (!msg) {
        printed = cJSON_PrintUnformatted(err);
        msg = printed ? printed : "error";
    }
    int rc = emit_text(c, SSE_ERROR, msg, strlen(msg), code);
    cJSON_free(printed);
    return rc;
}

/* Tool calls (OpenAI's tool calling): each element of a delta's (or a
 * message's) `tool_calls` as one SSE_TOOL_CALL. A stream sends a call's id
 * and name in its first delta and its arguments in pieces; `index` says
 * which call a piece belongs to (its position when absent). */
static int emit_tool_calls(chunk_ctx *c, const cJSON *calls)
{
    int pos = 0;
    const cJSON *tc;
    cJSON_ArrayForEach(tc, calls) {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(tc, "index");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
        char *printed = args && !cJSON_IsString(args) && !cJSON_IsNull(args)
                            ? cJSON_PrintUnformatted(args) /* some servers send an object */
                            : NULL;
        const char *a = cJSON_IsString(args) ? args->valuestring : printed ? printed : "";
        sse_event ev = {.kind = SSE_TOOL_CALL, .text = a, .len = strlen(a),
                        .index = cJSON_IsNumber(idx) ? idx->valueint : pos,
                        .id = cJSON_IsString(id) ? id->valuestring : NULL,
                        .name = cJSON_IsString(name) ? name->valuestring : NULL,
                        .prompt_tokens = -1, .completion_tokens = -1, .total_tokens = -1};
        int rc = c->fn(c->ud, &ev) ? -1 : 0;
        cJSON_free(printed);
        if (rc)
            return rc;
        pos++;
    }
    return 0;
}

static int parse_chunk(chunk_ctx *c, const char *json, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return 1;
    }
    int rc = 0;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "object");
    if (err && !cJSON_IsNull(err)) {
        rc = flush_pending(c);
        if (!rc)
            rc = emit_error(c, err);
        cJSON_Delete(root);
        return rc;
    }
    if (cJSON_IsString(obj) && !strcmp(obj->valuestring, "error")) {
        rc = flush_pending(c);
        if (!rc)
            rc = emit_error(c, root); /* vLLM's flat error object */
        cJSON_Delete(root);
        return rc;
    }
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *ch = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    if (cJSON_IsObject(ch)) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(ch, "delta");
        if (!cJSON_IsObject(d))
            d = cJSON_GetObjectItemCaseSensitive(ch, "message");
        const cJSON *content = cJSON_IsObject(d) ? cJSON_GetObjectItemCaseSensitive(d, "content")
                                                 : NULL;
        const cJSON *fin = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
        bool finishing = cJSON_IsString(fin) && fin->valuestring[0];
        if (cJSON_IsString(content) && content->valuestring[0])
            rc = emit_delta(c, content->valuestring, strlen(content->valuestring), finishing);
        const cJSON *calls = cJSON_IsObject(d) ? cJSON_GetObjectItemCaseSensitive(d, "tool_calls")
                                               : NULL;
        if (!rc && cJSON_IsArray(calls))
            rc = emit_tool_calls(c, calls);
        if (!rc && finishing) {
            rc = flush_pending(c);
            if (!rc)
                rc = emit_text(c, SSE_FINISH, fin->valuestring, strlen(fin->valuestring), NULL);
        }
    }
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (!rc && cJSON_IsObject(u)) {
        sse_event ev = {.kind = SSE_USAGE, .text = "", .len = 0};
        ev.prompt_tokens = num_field(u, "prompt_tokens");
        ev.completion_tokens = num_field(u, "completion_tokens");
        ev.total_tokens = num_field(u, "total_tokens");
        if (ev.total_tokens < 0 && ev.prompt_tokens >= 0 && ev.completion_tokens >= 0)
            ev.total_tokens = ev.prompt_tokens + ev.completion_tokens;
        rc = c->fn(c->ud, &ev) ? -1 : 0;
    }
    cJSON_Delete(root);
    return rc;
}

int sse_parse_chunk(const char *json, size_t len, sse_fn fn, void *ud)
{
    chunk_ctx c = {.fn = fn, .ud = ud};
    return parse_chunk(&c, json, len);
}

/* ---- framing ----------------------------------------------------------------- */

sse_parser *sse_new(sse_fn fn, void *ud, size_t max_event)
{
    sse_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->fn = fn;
    p->ud = ud;
    p->max = max_event ? max_event : SSE_MAX_EVENT_DEFAULT;
    /* one byte over the cap is how an overlong line or event shows */
    text_buf_init(&p->line, p->max + 1);
    text_buf_init(&p->data, p->max + 1);
    return p;
}

void sse_free(sse_parser *p)
{
    if (!p)
        return;
    text_buf_free(&p->line);
    text_buf_free(&p->data);
    free(p);
}

int sse_skipped(const sse_parser *p) { return p->skipped; }

static int fail(sse_parser *p, const char *why)
{
    if (!p->dead) {
        sse_event ev = {.kind = SSE_ERROR, .text = why, .len = strlen(why),
                        .prompt_tokens = -1, .completion_tokens = -1, .total_tokens = -1};
        p->dead = true;
        p->fn(p->ud, &ev);
    }
    return -1;
}

static void reset_event(sse_parser *p)
{
    p->data.len = 0;
    if (p->data.p)
        p->data.p[0] = '\0';
    p->has_data = false;
    p->error_event = false;
}

static int dispatch(sse_parser *p)
{
    chunk_ctx c = {.fn = p->fn, .ud = p->ud, .pend = p->pend, .npend = &p->npend};
    int rc = 0;
    if (!p->has_data) {
        reset_event(p);
        return 0;
    }
    const char *d = p->data.p ? p->data.p : "";
    size_t n = p->data.len;
    if (p->error_event) {
        cJSON *j = cJSON_ParseWithLength(d, n);
        const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
        if (j)
            rc = emit_error(&c, e ? e : j);
        else
            rc = emit_text(&c, SSE_ERROR, d, n, NULL);
        cJSON_Delete(j);
    } else if (n == 6 && !memcmp(d, "[DONE]", 6)) {
        rc = flush_pending(&c);
        if (!rc)
            rc = emit_text(&c, SSE_DONE, "", 0, NULL);
    } else if (n > 0) {
        rc = parse_chunk(&c, d, n);
        if (rc == 1) {
            p->skipped++;
            rc = 0;
        }
    }
    reset_event(p);
    return rc;
}

static int line_done(sse_parser *p)
{
    if (p->line.overflow)
        return fail(p, "event too large");
    const char *l = p->line.p ? p->line.p : "";
    size_t n = p->line.len;
    int rc = 0;
    if (n == 0) {
        rc = dispatch(p);
    } else if (l[0] != ':') {
        const char *colon = memchr(l, ':', n);
        size_t fl = colon ? (size_t)(colon - l) : n;
        const char *v = colon ? colon + 1 : l + n;
        size_t vn = n - (size_t)(v - l);
        if (vn && *v == ' ') {
            v++;
            vn--;
        }
        if (fl == 4 && !memcmp(l, "data", 4)) {
            if ((p->has_data && text_buf_addc(&p->data, '\n')) || text_buf_add(&p->data, v, vn))
                return fail(p, "out of memory");
            if (p->data.overflow)
                return fail(p, "event too large");
            p->has_data = true;
        } else if (fl == 5 && !memcmp(l, "event", 5)) {
            p->error_event = vn == 5 && !memcmp(v, "error", 5);
        } else if (fl == 5 && !memcmp(l, "error", 5)) {
            /* older llama.cpp: `error: {...}` as its own field */
            chunk_ctx c = {.fn = p->fn, .ud = p->ud, .pend = p->pend, .npend = &p->npend};
            cJSON *j = cJSON_ParseWithLength(v, vn);
            const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
            rc = flush_pending(&c);
            if (!rc && j)
                rc = emit_error(&c, e ? e : j);
            else if (!rc)
                rc = emit_text(&c, SSE_ERROR, v, vn, NULL);
            cJSON_Delete(j);
        }
        /* id:, retry: and unknown fields mean nothing here */
    }
    p->line.len = 0;
    if (p->line.p)
        p->line.p[0] = '\0';
    if (rc) {
        p->dead = true;
        return -1;
    }
    return 0;
}

int sse_feed(sse_parser *p, const char *buf, size_t n)
{
    if (p->dead)
        return -1;
    size_t i = 0;
    if (!p->started && n > 0) {
        /* a byte-order mark may open the stream (and may itself be cut) */
        static const char bom[3] = {'\xEF', '\xBB', '\xBF'};
        size_t have = p->line.len;
        while (i < n && have + i < 3 && buf[i] == bom[have + i])
            i++;
        if (have + i < 3 && i == n) {
            if (text_buf_add(&p->line, buf, n))
                return fail(p, "out of memory");
            return 0; /* still could be a BOM */
        }
        if (have + i == 3) {
            p->line.len = 0;
        } else {
            i = 0; /* not a BOM: what we held is ordinary input */
        }
        p->started = true;
    }
    for (; i < n; i++) {
        char ch = buf[i];
        if (ch == '\n' && p->after_cr) {
            p->after_cr = false;
            continue;
        }
        p->after_cr = ch == '\r';
        if (ch == '\r' || ch == '\n') {
            if (line_done(p))
                return -1;
            continue;
        }
        /* copy the run up to the next line end in one go */
        size_t j = i;
        while (j < n && buf[j] != '\r' && buf[j] != '\n')
            j++;
        if (text_buf_add(&p->line, buf + i, j - i))
            return fail(p, "out of memory");
        if (p->line.overflow)
            return fail(p, "event too large");
        i = j - 1;
    }
    return 0;
}

int sse_end(sse_parser *p)
{
    if (p->dead)
        return -1;
    /* a partial last line is a cut stream: drop it; a complete event that
     * only lacks its blank line is delivered */
    p->line.len = 0;
    if (p->has_data && dispatch(p)) {
        p->dead = true;
        return -1;
    }
    chunk_ctx c = {.fn = p->fn, .ud = p->ud, .pend = p->pend, .npend = &p->npend};
    if (flush_pending(&c)) {
        p->dead = true;
        return -1;
    }
    return 0;
}

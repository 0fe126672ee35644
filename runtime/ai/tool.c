/*
 * tool.c — see tool.h.
 */
#include "ai/tool.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "base/text.h"
#include "net/http.h"

#define TOOL_NAME_MAX 64

static bool type_ok(const char *type, const cJSON *v)
{
    if (!strcmp(type, "string"))
        return cJSON_IsString(v);
    if (!strcmp(type, "number"))
        return cJSON_IsNumber(v);
    if (!strcmp(type, "integer"))
        return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
               fabs(v->valuedouble) < 9007199254740992.0;
    if (!strcmp(type, "boolean"))
        return cJSON_IsBool(v);
    return false;
}

int tool_args_check(const cJSON *schema, const cJSON *args, char *err, size_t errlen)
{
    if (!cJSON_IsObject(args)) {
        snprintf(err, errlen, "the arguments are not a JSON object");
        return -1;
    }
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(schema, "required");
    const cJSON *r;
    cJSON_ArrayForEach(r, req) {
        const cJSON *v = cJSON_IsString(r) ? cJSON_GetObjectItemCaseSensitive(args, r->valuestring)
                                           : NULL;
        if (cJSON_IsString(r) && (!v || cJSON_IsNull(v))) {
            snprintf(err, errlen, "the argument '%s' is required", r->valuestring);
            return -1;
        }
    }
    const cJSON *p;
    cJSON_ArrayForEach(p, props) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, p->string);
        if (!v || cJSON_IsNull(v))
            continue;
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(p, "type");
        if (cJSON_IsString(ty) && !type_ok(ty->valuestring, v)) {
            snprintf(err, errlen, "the argument '%s' must be a %s", p->string, ty->valuestring);
            return -1;
        }
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(p, "enum");
        if (cJSON_IsArray(en)) {
            bool found = false;
            const cJSON *e;
            cJSON_ArrayForEach(e, en) {
                if (cJSON_Compare(e, v, true))
                    found = true;
            }
            if (!found) {
                snprintf(err, errlen, "the argument '%s' is not one of its allowed values",
                         p->string);
                return -1;
            }
        }
    }
    return 0;
}

/* Appends v to b encoded as enc. 0, -1 on a refused character or memory. */
static int put_value(text_buf *b, const char *v, size_t n, tool_enc enc)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        char tmp[8];
        size_t k = 0;
        switch (enc) {
        case TOOL_ENC_URL:
            /* '.' too: curl removes "." and ".." path segments, and an
             * argument must not climb out of its place in the path */
            if (isalnum(ch) || ch == '-' || ch == '_' || ch == '~') {
                tmp[k++] = (char)ch;
            } else {
                tmp[k++] = '%';
                tmp[k++] = hex[ch >> 4];
                tmp[k++] = hex[ch & 15];
            }
            break;
        case TOOL_ENC_JSON:
            if (ch == '"' || ch == '\\') {
                tmp[k++] = '\\';
                tmp[k++] = (char)ch;
            } else if (ch < 0x20) {
                k = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", ch);
            } else {
                tmp[k++] = (char)ch;
            }
            break;
        case TOOL_ENC_HEADER:
            if (ch < 0x20 || ch == 0x7f)
                return -1;
            tmp[k++] = (char)ch;
            break;
        }
        if (text_buf_add(b, tmp, k))
            return -1;
    }
    return 0;
}

char *tool_expand(const char *tmpl, const cJSON *args, const cJSON *vars, tool_enc enc,
                  char *err, size_t errlen)
{
    text_buf b;
    text_buf_init(&b, 64 * 1024);
    for (const char *s = tmpl; *s;) {
        size_t n = 0;
        if (*s == '{' && (isalpha((unsigned char)s[1]) || s[1] == '_')) {
            n = 1;
            while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '.')
                n++;
            if (s[n] != '}' || n - 1 >= TOOL_NAME_MAX)
                n = 0;
        }
        if (!n) { /* literal text up to the next '{' */
            size_t lit = strcspn(s + 1, "{") + 1;
            if (text_buf_add(&b, s, lit))
                goto nomem;
            s += lit;
            continue;
        }
        char name[TOOL_NAME_MAX];
        snprintf(name, sizeof name, "%.*s", (int)(n - 1), s + 1);
        s += n + 1;
        const cJSON *v = strchr(name, '.') ? cJSON_GetObjectItemCaseSensitive(vars, name)
                                           : cJSON_GetObjectItemCaseSensitive(args, name);
        if (strchr(name, '.') && !cJSON_IsString(v)) {
            snprintf(err, errlen, "the runtime has no value for {%s}", name);
            text_buf_free(&b);
            return NULL;
        }
        char num[64];
        const char *val = "";
        if (cJSON_IsString(v)) {
            val = v->valuestring;
        } else if (cJSON_IsNumber(v)) {
            if (v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e15)
                snprintf(num, sizeof num, "%.0f", v->valuedouble);
            else
                snprintf(num, sizeof num, "%.17g", v->valuedouble);
            val = num;
        } else if (cJSON_IsBool(v)) {
            val = cJSON_IsTrue(v) ? "true" : "false";
        }
        if (put_value(&b, val, strlen(val), enc)) {
            if (enc != TOOL_ENC_HEADER)
                goto nomem;
            snprintf(err, errlen, "the argument '%s' holds a control character", name);
            text_buf_free(&b);
            return NULL;
        }
    }
    if (b.overflow)
        goto nomem;
    char *out = text_buf_take(&b);
    if (!out)
        snprintf(err, errlen, "out of memory");
    return out;
nomem:
    snprintf(err, errlen, "the request is too large");
    text_buf_free(&b);
    return NULL;
}

/* Cut s (n bytes) to cap at a UTF-8 character boundary; malloc'd. */
static char *cut(const char *s, size_t n, size_t cap)
{
    static const char more[] = " …(cut)";
    bool cutting = n > cap;
    if (cutting) {
        n = cap > sizeof more ? cap - sizeof more : 0;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    char *out = malloc(n + sizeof more);
    if (!out)
        return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    if (cutting)
        strcat(out, more);
    return out;
}

char *tool_result(const char *body, size_t len, const char *path, size_t cap)
{
    if (!body)
        return cut("", 0, cap);
    cJSON *root = path && *path ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *at = root;
    for (const char *p = path; at && p && *p;) {
        size_t k = strcspn(p, ".");
        char key[TOOL_NAME_MAX];
        snprintf(key, sizeof key, "%.*s", (int)(k < sizeof key ? k : sizeof key - 1), p);
        char *end;
        long idx = strtol(key, &end, 10);
        if (cJSON_IsArray(at) && *key && !*end)
            at = cJSON_GetArrayItem(at, (int)idx);
        else
            at = cJSON_IsObject(at) ? cJSON_GetObjectItemCaseSensitive(at, key) : NULL;
        p += k;
        if (*p == '.')
            p++;
    }
    char *out;
    if (at) {
        char *printed = cJSON_IsString(at) ? NULL : cJSON_PrintUnformatted(at);
        const char *s = cJSON_IsString(at) ? at->valuestring : printed;
        out = s ? cut(s, strlen(s), cap) : NULL;
        cJSON_free(printed);
    } else {
        out = cut(body, len, cap);
    }
    cJSON_Delete(root);
    return out;
}

/* ---- running a model's tool calls ------------------------------------------- */

cJSON *tool_openai_list(const cJSON *env)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(env, "list")) {
        cJSON *o = cJSON_CreateObject(), *fn = NULL, *params = NULL;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(t, "parameters");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
        const cJSON *desc = cJSON_GetObjectItemCaseSensitive(t, "description");
        bool added = o && cJSON_AddItemToArray(out, o);
        bool ok = added && cJSON_AddStringToObject(o, "type", "function") &&
                  (fn = cJSON_AddObjectToObject(o, "function")) &&
                  cJSON_AddStringToObject(fn, "name", cJSON_IsString(name) ? name->valuestring : "") &&
                  cJSON_AddStringToObject(fn, "description",
                                          cJSON_IsString(desc) ? desc->valuestring : "") &&
                  (params = cJSON_Duplicate(p, true));
        if (ok && !cJSON_AddItemToObject(fn, "parameters", params)) {
            cJSON_Delete(params);
            ok = false;
        }
        if (!ok) {
            if (!added)
                cJSON_Delete(o); /* not in the array: its own */
            cJSON_Delete(out);
            return NULL;
        }
    }
    return out;
}

typedef struct tool_slot {
    struct tool_batch *b; /* NULL once the batch is gone (abandoned) */
    int i;                /* which call */
} tool_slot;

struct tool_batch {
    cJSON *msgs, *log;   /* borrowed */
    tool_batch_fn done;
    void *ud;
    int n, pending;
    char **ids, **results; /* per call: its id, the model's answer */
    cJSON **recs;          /* per call: its log record (owned until appended) */
    bool abandoned, started;
};

static void batch_free(tool_batch *b)
{
    for (int i = 0; i < b->n; i++) {
        free(b->ids[i]);
        free(b->results[i]);
        cJSON_Delete(b->recs[i]);
    }
    free(b->ids);
    free(b->results);
    free(b->recs);
    free(b);
}

/* The answers in order into msgs and log. */
static void batch_flush(tool_batch *b)
{
    for (int i = 0; i < b->n; i++) {
        cJSON *m = cJSON_CreateObject();
        if (m && cJSON_AddItemToArray(b->msgs, m)) {
            cJSON_AddStringToObject(m, "role", "tool");
            cJSON_AddStringToObject(m, "tool_call_id", b->ids[i] ? b->ids[i] : "");
            cJSON_AddStringToObject(m, "content", b->results[i] ? b->results[i] : "");
        } else {
            cJSON_Delete(m);
        }
        if (b->recs[i] && cJSON_AddItemToArray(b->log, b->recs[i]))
            b->recs[i] = NULL;
    }
}

/* Call i's answer: text for the model, and its record. */
static void batch_answer(tool_batch *b, int i, bool ok, long status, const char *text)
{
    free(b->results[i]);
    b->results[i] = strdup(text);
    cJSON *r = b->recs[i];
    if (r) {
        cJSON_AddBoolToObject(r, "ok", ok);
        cJSON_AddNumberToObject(r, "status", (double)status);
        cJSON_AddStringToObject(r, "result", text);
    }
}

static void on_fetched(const http_result *r, void *ud)
{
    tool_slot *sl = ud;
    tool_batch *b = sl->b;
    int i = sl->i;
    free(sl);
    if (!b)
        return;
    if (r->err == HTTP_OK) {
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(b->recs[i], "path");
        char *res = tool_result(r->body, r->body_len, cJSON_IsString(path) ? path->valuestring : NULL,
                                TOOL_RESULT_MAX);
        cJSON_DeleteItemFromObjectCaseSensitive(b->recs[i], "path");
        batch_answer(b, i, true, r->status, res ? res : "");
        free(res);
    } else {
        char why[300];
        snprintf(why, sizeof why,
                 "error: the tool failed (%s%s%s); tell the user it is not available now",
                 http_err_str(r->err), r->description[0] ? ": " : "", r->description);
        cJSON_DeleteItemFromObjectCaseSensitive(b->recs[i], "path");
        batch_answer(b, i, false, r->status, why);
        log_warn("tool", "%s failed: %s: %s", json_str(b->recs[i], "name"), http_err_str(r->err),
                 r->description);
    }
    b->pending--;
    if (b->pending == 0 && b->started) {
        if (!b->abandoned) {
            batch_flush(b);
            b->done(b->ud);
        }
        batch_free(b);
    }
}

static const cJSON *find_tool(const cJSON *env, const char *name)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(env, "list")) {
        const char *n = json_str(t, "name");
        if (n && name && !strcmp(n, name))
            return t;
    }
    return NULL;
}

/* Starts call i; its answer comes at once (a refusal) or from on_fetched. */
static void start_call(tool_batch *b, loop *lp, const cJSON *env, const cJSON *call,
                       const tool_limits *lim)
{
    int i = b->n++;
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
    const char *name = json_str(fn, "name"), *raw = json_str(fn, "arguments");
    const char *id = json_str(call, "id");
    b->ids[i] = strdup(id ? id : "");
    cJSON *rec = b->recs[i] = cJSON_CreateObject();
    if (rec) {
        cJSON_AddStringToObject(rec, "name", name ? name : "");
        cJSON_AddStringToObject(rec, "arguments", raw ? raw : "");
    }
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(env, "vars");
    const cJSON *t = find_tool(env, name);
    char err[256] = "";
    cJSON *args = raw && *raw ? cJSON_Parse(raw) : cJSON_CreateObject();
    char *url = NULL, *body = NULL, *hdrs[9] = {0};
    if (!t) {
        snprintf(err, sizeof err, "no tool is named '%s'", name ? name : "");
    } else if (!args) {
        snprintf(err, sizeof err, "the arguments are not JSON");
    } else if (!tool_args_check(cJSON_GetObjectItemCaseSensitive(t, "parameters"), args, err,
                                sizeof err)) {
        url = tool_expand(json_str(t, "url"), args, vars, TOOL_ENC_URL, err, sizeof err);
        const char *bt = json_str(t, "body");
        if (url && bt)
            body = tool_expand(bt, args, vars, TOOL_ENC_JSON, err, sizeof err);
        int nh = 0;
        const cJSON *h;
        cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(t, "headers")) {
            if (url && (!bt || body) && nh < 8 && cJSON_IsString(h) &&
                !(hdrs[nh++] = tool_expand(h->valuestring, args, vars, TOOL_ENC_HEADER, err,
                                           sizeof err)))
                break;
        }
    }
    bool ready = url && !err[0];
    if (ready) {
        tool_slot *sl = malloc(sizeof *sl);
        http_fetch_opts o = {.method = json_str(t, "method"), .url = url,
                             .headers = (const char *const *)hdrs, .body = body,
                             .timeout_ms = lim && lim->timeout_ms ? lim->timeout_ms : 10000,
                             .max_body = lim && lim->max_body ? lim->max_body : 65536};
        const char *path = json_str(t, "result");
        if (path && rec)
            cJSON_AddStringToObject(rec, "path", path);
        http_err e = HTTP_ERR_NOMEM;
        if (sl) {
            *sl = (tool_slot){.b = b, .i = i};
            e = http_fetch(lp, &o, on_fetched, sl);
        }
        if (e == HTTP_OK) {
            b->pending++;
            log_info("tool", "%s: %s started", name, o.method ? o.method : "GET");
        } else {
            free(sl);
            cJSON_DeleteItemFromObjectCaseSensitive(rec, "path");
            snprintf(err, sizeof err, "the request could not start (%s)", http_err_str(e));
            ready = false;
        }
    }
    if (!ready) {
        char text[320];
        snprintf(text, sizeof text, "error: %s", err[0] ? err : "the request could not be made");
        log_warn("tool", "%s: not run: %s", name ? name : "?", text);
        batch_answer(b, i, false, 0, text);
    }
    free(url);
    free(body);
    for (int k = 0; k < 8; k++)
        free(hdrs[k]);
    cJSON_Delete(args);
}

int tool_batch_start(loop *lp, const cJSON *env, const cJSON *calls, int max,
                     const tool_limits *lim, cJSON *msgs, cJSON *log, tool_batch_fn done,
                     void *ud, tool_batch **out)
{
    int n = cJSON_GetArraySize(calls);
    tool_batch *b = calloc(1, sizeof *b);
    *out = NULL;
    if (!b || n <= 0 || !(b->ids = calloc((size_t)n, sizeof *b->ids)) ||
        !(b->results = calloc((size_t)n, sizeof *b->results)) ||
        !(b->recs = calloc((size_t)n, sizeof *b->recs))) {
        if (b) {
            free(b->ids);
            free(b->results);
            free(b);
        }
        return n <= 0 ? 0 : -1;
    }
    b->msgs = msgs;
    b->log = log;
    b->done = done;
    b->ud = ud;
    const cJSON *call;
    cJSON_ArrayForEach(call, calls) {
        if (b->n < max) {
            start_call(b, lp, env, call, lim);
            continue;
        }
        int i = b->n++;
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
        const char *id = json_str(call, "id"), *name = json_str(fn, "name");
        const char *raw = json_str(fn, "arguments");
        b->ids[i] = strdup(id ? id : "");
        if ((b->recs[i] = cJSON_CreateObject())) {
            cJSON_AddStringToObject(b->recs[i], "name", name ? name : "");
            cJSON_AddStringToObject(b->recs[i], "arguments", raw ? raw : "");
        }
        char text[160];
        snprintf(text, sizeof text, "error: not run: at most %d tool call(s) per answer", max);
        batch_answer(b, i, false, 0, text);
    }
    b->started = true;
    if (b->pending == 0) {
        batch_flush(b);
        batch_free(b);
        return 0;
    }
    *out = b;
    return 1;
}

void tool_batch_abandon(tool_batch *b)
{
    if (b)
        b->abandoned = true;
}

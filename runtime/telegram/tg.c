/*
 * tg.c — Telegram Bot API client: one easy handle per call, on the loop.
 *
 * The loop's multi handle owns the connection cache, so a fresh easy handle
 * per call still reuses the kept-alive connections to the API host. Each
 * call is an http_req (net/http.h) embedded in the call's own request: its
 * body buffer (capped), error buffer and callback, in one allocation.
 */
#include "telegram/tg.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/b64.h"
#include "base/json.h"
#include "base/jsonscan.h"
#include "base/log.h"
#include "net/http.h"

#define TG_DEFAULT_BASE "https://api.telegram.org"
#define TG_METHOD_MAX 64
#define TG_DESC_MAX 512
#define TG_POOL_MAX 256 /* idle easy handles kept for the next Bot API calls: as
                         * many as calls in flight at once (one per connection),
                         * so a burst does not create and destroy handles */
#define TG_URLS_MAX 32  /* methods whose parsed URL is kept */

typedef struct tg_req {
    http_req h;          /* first: the transfer, its body and answer */
    tg_client *tg;
    char method[TG_METHOD_MAX];
    CURLU *own_url;      /* the call's URL when the client keeps none */
    bool check_only;     /* tg_call_body, getUpdates: an ok answer is checked
                          * (result_raw), not parsed */
    tg_done_fn cb;
    void *ud;
    curl_mime *form;     /* an upload's multipart body (tg.h, "Uploads"), else NULL */
} tg_req;

struct tg_client {
    loop *lp;
    struct curl_slist *headers;
    struct curl_slist *form_headers; /* an upload's: curl writes its multipart Content-Type */
    char *base;   /* without a trailing slash */
    char *token;
    tg_options opt;
    int n_flight; /* calls in flight */
    bool closing; /* refuse new calls (inside cancel/free) */
    /* Easy handles of finished Bot API calls, reused: a fresh handle costs
     * a 16 KiB buffer and some 20 allocations per call. */
    CURL *pool[TG_POOL_MAX];
    int n_pool;
    /* Each method's URL, parsed once (curl re-parses a URL string, and
     * prints it back byte by byte, on every transfer). */
    struct { char method[TG_METHOD_MAX]; CURLU *url; } urls[TG_URLS_MAX];
    int n_urls;
    /* The proxy for Bot API calls, from the environment once (curl would
     * read five variables on every call): "" = none. */
    char *proxy, *noproxy;
};

const char *tg_err_str(tg_err e)
{
    switch (e) {
    case TG_OK: return "ok";
    case TG_ERR_API: return "Bot API error";
    case TG_ERR_HTTP: return "HTTP error";
    case TG_ERR_NETWORK: return "network error";
    case TG_ERR_TOOBIG: return "response too large";
    case TG_ERR_PARSE: return "unparsable response";
    case TG_ERR_NOMEM: return "out of memory";
    case TG_ERR_CANCELLED: return "cancelled";
    case TG_ERR_CONFIG: return "configuration error";
    }
    return "unknown error";
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

/* A token goes into the URL path verbatim, so refuse anything that would
 * change the URL's meaning. */
static bool token_ok(const char *t)
{
    if (!*t)
        return false;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == '/' || *p == '?' || *p == '#' ||
            *p == '%')
            return false;
    return true;
}

static bool method_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n >= TG_METHOD_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)m[i]) && m[i] != '_')
            return false;
    return true;
}

static const char *first_env(const char *const *names)
{
    for (; *names; names++) {
        const char *v = getenv(*names);
        if (v && *v)
            return v;
    }
    return NULL;
}

/* What curl itself would pick for the API's scheme (for http: the lower
 * case name only, as curl does), read once. */
static int proxy_from_env(tg_client *tg)
{
    static const char *const https[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                                        NULL};
    static const char *const http[] = {"http_proxy", "all_proxy", "ALL_PROXY", NULL};
    static const char *const no[] = {"no_proxy", "NO_PROXY", NULL};
    const char *p = first_env(strncmp(tg->base, "https:", 6) ? http : https);
    const char *np = first_env(no);
    tg->proxy = dup_str(p ? p : "");
    tg->noproxy = dup_str(np ? np : "");
    return tg->proxy && tg->noproxy ? 0 : -1;
}

tg_client *tg_new(loop *lp, const tg_options *opts, char *err, size_t errlen)
{
    if (!lp) {
        set_err(err, errlen, "no event loop");
        return NULL;
    }
    tg_options o = {0};
    if (opts)
        o = *opts;
    const char *base = o.api_base;
    if (!base || !*base)
        base = getenv("TELEGRAM_API_BASE");
    if (!base || !*base)
        base = TG_DEFAULT_BASE;
    const char *token = o.token;
    if (!token || !*token)
        token = getenv("TELEGRAM_BOT_TOKEN");
    if (!token || !*token) {
        set_err(err, errlen, "TELEGRAM_BOT_TOKEN is not set");
        return NULL;
    }
    if (!token_ok(token)) {
        set_err(err, errlen, "TELEGRAM_BOT_TOKEN holds characters a token cannot have");
        return NULL;
    }
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
        set_err(err, errlen, "TELEGRAM_API_BASE must start with http:// or https://");
        return NULL;
    }
    log_add_secret(token);

    if (!o.connect_timeout_ms) o.connect_timeout_ms = 10000;
    if (!o.timeout_ms) o.timeout_ms = 30000;
    if (!o.poll_margin_ms) o.poll_margin_ms = 15000;
    if (!o.low_speed_time_s) o.low_speed_time_s = 20;
    if (!o.max_body) o.max_body = (size_t)1 << 20;
    if (!o.max_body_updates) o.max_body_updates = (size_t)8 << 20;
    o.api_base = NULL; /* not kept: the copies below are */
    o.token = NULL;

    tg_client *tg = calloc(1, sizeof *tg);
    if (!tg) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    tg->lp = lp;
    tg->opt = o;
    tg->base = dup_str(base);
    tg->token = dup_str(token);
    if (!tg->base || !tg->token) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    size_t bl = strlen(tg->base);
    while (bl > 0 && tg->base[bl - 1] == '/')
        tg->base[--bl] = '\0';

    /* Every Bot API call's headers, sent as they are. "Expect:" stops curl
     * from waiting on 100-continue for larger bodies; "Accept:" drops curl's
     * default Accept header, which Telegram ignores. The User-Agent is a header
     * here, not CURLOPT_USERAGENT, which curl formats anew per request. */
    static const char *const fixed[] = {
        "Content-Type: application/json", "Expect:", "Accept:", "User-Agent: botc/1",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        struct curl_slist *h = curl_slist_append(tg->headers, fixed[i]);
        struct curl_slist *fh = i ? curl_slist_append(tg->form_headers, fixed[i]) : tg->form_headers;
        if (h)
            tg->headers = h;
        if (fh)
            tg->form_headers = fh;
        if (!h || (i && !fh)) {
            set_err(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (proxy_from_env(tg)) {
        set_err(err, errlen, "out of memory");
        goto fail;
    }
    return tg;

fail:
    curl_slist_free_all(tg->headers);
    curl_slist_free_all(tg->form_headers);
    free(tg->base);
    free(tg->token);
    free(tg->proxy);
    free(tg->noproxy);
    free(tg);
    return NULL;
}

/* Frees a call; its easy handle goes back to the pool for the next. */
static void req_free(tg_req *r)
{
    tg_client *tg = r->tg;
    /* an upload's handle still points at its form: not pooled */
    if (r->h.x.easy && !r->form && !tg->closing && tg->n_pool < TG_POOL_MAX)
        tg->pool[tg->n_pool++] = r->h.x.easy; /* call_start sets the per-call options again */
    else if (r->h.x.easy)
        curl_easy_cleanup(r->h.x.easy);
    curl_url_cleanup(r->own_url);
    curl_mime_free(r->form);
    http_req_clean(&r->h);
    free(r);
}

void tg_cancel_all(tg_client *tg)
{
    if (!tg)
        return;
    bool was = tg->closing;
    tg->closing = true;
    loop_cancel(tg->lp, tg);
    tg->closing = was;
}

void tg_free(tg_client *tg)
{
    if (!tg)
        return;
    tg->closing = true;
    tg_cancel_all(tg);
    while (tg->n_pool > 0)
        curl_easy_cleanup(tg->pool[--tg->n_pool]);
    curl_slist_free_all(tg->headers);
    curl_slist_free_all(tg->form_headers);
    for (int i = 0; i < tg->n_urls; i++)
        curl_url_cleanup(tg->urls[i].url);
    free(tg->base);
    free(tg->token);
    free(tg->proxy);
    free(tg->noproxy);
    free(tg);
}

int tg_in_flight(const tg_client *tg)
{
    return tg ? tg->n_flight : 0;
}

/* A new parsed URL of <base>/bot<token>/<method>; NULL on out-of-memory. */
static CURLU *new_method_url(const tg_client *tg, const char *method)
{
    size_t ulen = strlen(tg->base) + strlen(tg->token) + strlen(method) + 8;
    char *text = malloc(ulen);
    CURLU *u = text ? curl_url() : NULL;
    if (u) {
        snprintf(text, ulen, "%s/bot%s/%s", tg->base, tg->token, method);
        if (curl_url_set(u, CURLUPART_URL, text, 0) != CURLUE_OK) {
            curl_url_cleanup(u);
            u = NULL;
        }
    }
    free(text);
    return u;
}

/* The method's parsed URL, kept by the client for the first TG_URLS_MAX
 * methods; beyond them (no bot calls that many) r gets its own. */
static CURLU *method_url(tg_client *tg, tg_req *r, const char *method)
{
    for (int i = 0; i < tg->n_urls; i++)
        if (!strcmp(tg->urls[i].method, method))
            return tg->urls[i].url;
    CURLU *u = new_method_url(tg, method);
    if (!u)
        return NULL;
    if (tg->n_urls == TG_URLS_MAX)
        return r->own_url = u;
    snprintf(tg->urls[tg->n_urls].method, sizeof tg->urls[0].method, "%s", method);
    tg->urls[tg->n_urls++].url = u;
    return u;
}

/* 1 when body is exactly one well-formed JSON object whose "ok" is true
 * and which has a "result": an accepted call (checked without a tree, see
 * jsonscan.h). 0 otherwise: parse it to learn more. */
static int reply_accepted(const char *body, size_t len, jscan_span *result)
{
    static const char *const keys[] = {"ok", "result"};
    jscan_span v[2];
    if (jscan_members(body, len, keys, v, 2) != 2 || v[0].end - v[0].p != 4 ||
        memcmp(v[0].p, "true", 4))
        return 0;
    *result = v[1];
    return 1;
}

/* Fills res from a finished call's HTTP result: the Bot API reply read.
 * desc is scratch for the description; *json receives the parsed body the
 * result points into (caller frees). */
static void read_reply(const tg_req *r, const http_result *hr, tg_result *res, char *desc,
                       size_t desclen, cJSON **json)
{
    long status = hr->status;
    res->method = r->method;
    res->http_status = status;
    res->description = hr->description;
    res->body = hr->body;
    res->body_len = hr->body_len;
    res->maybe_taken = hr->maybe_taken;
    switch (hr->err) {
    case HTTP_OK:
    case HTTP_ERR_STATUS:
        break; /* the body says what happened */
    case HTTP_ERR_CANCELLED: res->err = TG_ERR_CANCELLED; return;
    case HTTP_ERR_TOOBIG: res->err = TG_ERR_TOOBIG; return;
    case HTTP_ERR_NOMEM: res->err = TG_ERR_NOMEM; return;
    case HTTP_ERR_NETWORK: res->err = TG_ERR_NETWORK; return;
    case HTTP_ERR_CONFIG: res->err = TG_ERR_CONFIG; return;
    }
    res->description = "";

    jscan_span raw;
    if (r->check_only && status >= 200 && status < 300 && r->h.resp &&
        reply_accepted(r->h.resp, r->h.resp_len, &raw)) {
        res->err = TG_OK; /* result stays NULL: only its bytes are wanted */
        res->result_raw = raw.p;
        res->result_raw_len = (size_t)(raw.end - raw.p);
        return;
    }
    cJSON *j = r->h.resp ? cJSON_ParseWithLength(r->h.resp, r->h.resp_len) : NULL;
    const cJSON *ok = j ? cJSON_GetObjectItemCaseSensitive(j, "ok") : NULL;
    if (!cJSON_IsObject(j) || !cJSON_IsBool(ok)) {
        cJSON_Delete(j);
        if (status < 200 || status >= 300) {
            res->err = TG_ERR_HTTP;
            res->error_code = (int)status;
            snprintf(desc, desclen, "HTTP %ld without a Bot API reply", status);
        } else {
            res->err = TG_ERR_PARSE;
            res->maybe_taken = 1; /* a 2xx came back: it was probably done */
            snprintf(desc, desclen, "HTTP %ld body is not a Bot API reply", status);
        }
        res->description = desc;
        return;
    }
    *json = j;
    if (cJSON_IsTrue(ok)) {
        const cJSON *result = cJSON_GetObjectItemCaseSensitive(j, "result");
        if (!result) {
            res->err = TG_ERR_PARSE;
            res->description = "ok reply without a result";
            return;
        }
        res->err = TG_OK;
        res->result = result;
        return;
    }
    res->err = TG_ERR_API;
    int64_t code = 0;
    res->error_code = json_i64(j, "error_code", &code) == 0 && code > 0 && code < 1000
                          ? (int)code : (int)status;
    const char *d = json_str(j, "description");
    res->description = d ? d : "";
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "parameters");
    int64_t v;
    if (json_i64(p, "retry_after", &v) == 0 && v > 0)
        res->retry_after = v > 86400 ? 86400 : (int)v;
    if (json_i64(p, "migrate_to_chat_id", &v) == 0)
        res->migrate_to_chat_id = v;
}

/* The call's end, from the loop: the reply read, the caller told. */
static void call_complete(http_req *h, const http_result *hr)
{
    tg_req *r = (tg_req *)h;
    r->tg->n_flight--;
    tg_result res = {0};
    char desc[TG_DESC_MAX];
    cJSON *json = NULL;
    read_reply(r, hr, &res, desc, sizeof desc, &json);
    long ms = loop_now_ms() - r->h.x.start_ms;
    if (res.err == TG_OK)
        log_debug("tg", "%s ok (%ld ms)", r->method, ms);
    else
        log_debug("tg", "%s failed (%ld ms): %s %d: %s", r->method, ms,
                  tg_err_str(res.err), res.error_code, res.description);
    if (r->cb)
        r->cb(&res, r->ud);
    cJSON_Delete(json);
    req_free(r);
}

/* The multipart form of a body that carries an upload (tg.h, "Uploads"):
 * the file fields as files, every other parameter as a field (strings as
 * they are, the rest as JSON, as the Bot API reads form fields). 1 with
 * *out set, 0 when the body uploads nothing, -1 out of memory, -2 a
 * content_base64 that is not base64. */
static int upload_form(CURL *e, const char *body, curl_mime **out)
{
    *out = NULL;
    if (!strstr(body, "\"" TG_UPLOAD_CONTENT "\"") &&
        !strstr(body, "\"" TG_UPLOAD_CONTENT_B64 "\""))
        return 0; /* most calls: no parse */
    cJSON *params = cJSON_Parse(body);
    bool any = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, params) {
        any |= cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, TG_UPLOAD_NAME)) &&
               (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, TG_UPLOAD_CONTENT)) ||
                cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, TG_UPLOAD_CONTENT_B64)));
    }
    if (!any) {
        cJSON_Delete(params);
        return params ? 0 : -1;
    }
    curl_mime *form = curl_mime_init(e);
    int rc = form ? 1 : -1;
    cJSON_ArrayForEach(it, params) {
        curl_mimepart *part = rc > 0 ? curl_mime_addpart(form) : NULL;
        if (!part || curl_mime_name(part, it->string) != CURLE_OK) {
            rc = -1;
            break;
        }
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, TG_UPLOAD_NAME);
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, TG_UPLOAD_CONTENT);
        const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(it, TG_UPLOAD_CONTENT_B64);
        CURLcode cc;
        if (cJSON_IsString(name) && !cJSON_IsString(content) && cJSON_IsString(b64)) {
            unsigned char *bytes;
            size_t n;
            if (b64_decode(b64->valuestring, &bytes, &n)) {
                rc = -2; /* not base64: the call can never be made */
                break;
            }
            cc = curl_mime_data(part, (const char *)bytes, n);
            free(bytes);
            if (cc == CURLE_OK)
                cc = curl_mime_filename(part, name->valuestring);
            if (cc == CURLE_OK)
                cc = curl_mime_type(part, "application/octet-stream");
        } else if (cJSON_IsString(name) && cJSON_IsString(content)) {
            cc = curl_mime_data(part, content->valuestring, CURL_ZERO_TERMINATED);
            if (cc == CURLE_OK)
                cc = curl_mime_filename(part, name->valuestring);
            if (cc == CURLE_OK)
                cc = curl_mime_type(part, "application/octet-stream");
        } else if (cJSON_IsString(it)) {
            cc = curl_mime_data(part, it->valuestring, CURL_ZERO_TERMINATED);
        } else {
            char *js = cJSON_PrintUnformatted(it);
            cc = js ? curl_mime_data(part, js, CURL_ZERO_TERMINATED) : CURLE_OUT_OF_MEMORY;
            cJSON_free(js);
        }
        if (cc != CURLE_OK)
            rc = -1;
    }
    cJSON_Delete(params);
    if (rc < 0) {
        curl_mime_free(form);
        return rc;
    }
    *out = form;
    return 1;
}

/* Starts a Bot API call whose JSON body is ready; takes body (malloc'd,
 * NULL = out of memory). poll_s: getUpdates' timeout. */
static tg_err call_start(tg_client *tg, const char *method, char *body, long poll_s,
                         bool check_only, tg_done_fn cb, void *ud)
{
    bool is_updates = strcmp(method, "getUpdates") == 0;
    tg_req *r = calloc(1, sizeof *r);
    if (!r) {
        free(body);
        return TG_ERR_NOMEM;
    }
    snprintf(r->method, sizeof r->method, "%s", method);
    r->tg = tg;
    r->cb = cb;
    r->ud = ud;
    r->h.complete = call_complete;
    r->h.x.owner = tg;
    r->h.resp_max = is_updates ? tg->opt.max_body_updates : tg->opt.max_body;
    r->h.body = body;
    r->check_only = check_only;
    bool fresh = tg->n_pool == 0;
    r->h.x.easy = fresh ? curl_easy_init() : tg->pool[--tg->n_pool];
    if (!r->h.body || !r->h.x.easy) {
        req_free(r);
        return TG_ERR_NOMEM;
    }

    CURLU *url = method_url(tg, r, method);
    if (!url) {
        req_free(r);
        return TG_ERR_NOMEM;
    }

    CURL *e = r->h.x.easy;
    int up = upload_form(e, r->h.body, &r->form);
    if (up < 0) {
        req_free(r);
        return up == -2 ? TG_ERR_CONFIG : TG_ERR_NOMEM;
    }
    long total_ms = is_updates ? poll_s * 1000 + tg->opt.poll_margin_ms : tg->opt.timeout_ms;
    long low_s = tg->opt.low_speed_time_s;
    if (is_updates && low_s < total_ms / 1000)
        low_s = total_ms / 1000; /* a long poll is silent by design */

    if (fresh) {
        /* the same for every Bot API call: a pooled handle keeps them */
        http_easy_setup(e);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, tg->headers);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, tg->opt.connect_timeout_ms);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
        curl_easy_setopt(e, CURLOPT_PROXY, tg->proxy);
        curl_easy_setopt(e, CURLOPT_NOPROXY, tg->noproxy);
    }
    curl_easy_setopt(e, CURLOPT_CURLU, url); /* the client's, or r's own */
    if (r->form) { /* an upload's handle is never pooled: the JSON setup stays */
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, tg->form_headers);
        curl_easy_setopt(e, CURLOPT_MIMEPOST, r->form);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->h.body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->h.body));
    }
    /* A Bot API answer is a few KiB: a 4 KiB receive buffer instead of
     * 16 KiB per call in flight (hundreds at once under load) */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, is_updates ? 16384L : 4096L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, low_s);

    http_err he = http_req_start(tg->lp, &r->h, 0);
    if (he != HTTP_OK) {
        req_free(r);
        return he == HTTP_ERR_CANCELLED ? TG_ERR_CANCELLED : TG_ERR_NOMEM;
    }
    tg->n_flight++;
    log_debug("tg", "%s started", r->method);
    return TG_OK;
}

tg_err tg_call(tg_client *tg, const char *method, cJSON *params,
               tg_done_fn cb, void *ud)
{
    if (!tg || !method || !method_ok(method)) {
        cJSON_Delete(params);
        return TG_ERR_CONFIG;
    }
    if (tg->closing) {
        cJSON_Delete(params);
        return TG_ERR_CANCELLED;
    }
    long poll_s = 0;
    bool updates = strcmp(method, "getUpdates") == 0;
    if (updates) {
        int64_t t;
        if (json_i64(params, "timeout", &t) == 0 && t > 0 && t < 3600)
            poll_s = (long)t;
    }
    char *body = params ? cJSON_PrintUnformatted(params) : dup_str("{}");
    cJSON_Delete(params);
    /* getUpdates' answer goes to the inbox as bytes (result_raw) */
    return call_start(tg, method, body, poll_s, updates, cb, ud);
}

tg_err tg_call_body(tg_client *tg, const char *method, const char *body,
                    tg_done_fn cb, void *ud)
{
    if (!tg || !method || !method_ok(method) || !body || !strcmp(method, "getUpdates"))
        return TG_ERR_CONFIG;
    if (tg->closing)
        return TG_ERR_CANCELLED;
    return call_start(tg, method, dup_str(body), 0, true, cb, ud);
}

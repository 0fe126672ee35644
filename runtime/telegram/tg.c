/*
 * tg.c — Telegram Bot API client: one CURLM, one easy handle per call.
 *
 * The multi handle owns the connection cache, so a fresh easy handle per
 * call still reuses the kept-alive connections to the API host. Each call
 * carries its own body buffer (capped), error buffer and callback.
 */
#include "telegram/tg.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "base/jsonscan.h"
#include "base/log.h"

#define TG_DEFAULT_BASE "https://api.telegram.org"
#define TG_METHOD_MAX 64
#define TG_DESC_MAX 512
#define TG_I64_EXACT 9007199254740992.0 /* 2^53 */
#define TG_POOL_MAX 256 /* idle easy handles kept for the next Bot API calls: as
                         * many as calls in flight at once (one per connection),
                         * so a burst does not create and destroy handles */
#define TG_URLS_MAX 32  /* methods whose parsed URL is kept */

typedef struct tg_req {
    struct tg_req *prev, *next;
    tg_client *tg;
    CURL *easy;
    char method[TG_METHOD_MAX];
    char *body;          /* request JSON, alive until the transfer ends */
    char *resp;          /* response bytes, NUL-terminated when done */
    size_t resp_len, resp_cap, resp_max;
    bool toobig;
    bool raw;            /* tg_fetch: any URL, the body is not a Bot API reply */
    bool pooled;         /* easy goes back to tg->pool (a Bot API call's) */
    CURLU *own_url;      /* a Bot API call's URL when the client keeps none */
    bool check_only;     /* tg_call_body, getUpdates: an ok answer is checked
                          * (result_raw), not parsed */
    tg_data_fn on_data;  /* tg_stream: body bytes go here, not to resp */
    tg_tick_fn tick;
    struct curl_slist *hdrs; /* tg_stream's own headers */
    bool aborted;        /* on_data or tick asked to stop */
    long add_at;         /* tg_stream delay: not in the multi handle before this, 0 = added */
    long start_ms;
    tg_done_fn cb;
    void *ud;
    char errbuf[CURL_ERROR_SIZE];
} tg_req;

struct tg_client {
    CURLM *multi;
    struct curl_slist *headers;
    char *base;   /* without a trailing slash */
    char *token;
    tg_options opt;
    tg_req *head; /* calls in flight */
    int n_flight;
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

static int g_curl_users; /* curl_global_init refcount; clients live on one thread */

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

/* ---- JSON helpers ------------------------------------------------------ */

int tg_json_i64(const cJSON *obj, const char *key, int64_t *out)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (cJSON_IsRaw(it) && it->valuestring) {
        /* written by tg_json_add_i64 */
        char *end;
        errno = 0;
        long long v = strtoll(it->valuestring, &end, 10);
        if (errno || end == it->valuestring || *end || llabs(v) > (long long)TG_I64_EXACT)
            return -1;
        *out = (int64_t)v;
        return 0;
    }
    if (!cJSON_IsNumber(it))
        return -1;
    double d = it->valuedouble;
    /* valueint saturates at INT_MAX; the double is exact up to 2^53. */
    if (!isfinite(d) || d != floor(d) || fabs(d) > TG_I64_EXACT)
        return -1;
    *out = (int64_t)d;
    return 0;
}

cJSON *tg_json_add_i64(cJSON *obj, const char *key, int64_t v)
{
    /* A raw item printed verbatim: cJSON prints a number with "%1.15g",
     * reads it back with sscanf and may print it again with "%1.17g", the
     * most expensive part of printing a Bot API call's body. */
    char digits[24];
    snprintf(digits, sizeof digits, "%" PRId64, v);
    return cJSON_AddRawToObject(obj, key, digits);
}

const char *tg_json_str(const cJSON *obj, const char *key)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* ---- client ------------------------------------------------------------ */

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

tg_client *tg_new(const tg_options *opts, char *err, size_t errlen)
{
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
    if (!o.max_host_connections) o.max_host_connections = 256;
    o.api_base = NULL; /* not kept: the copies below are */
    o.token = NULL;

    tg_client *tg = calloc(1, sizeof *tg);
    if (!tg) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
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

    if (g_curl_users++ == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        g_curl_users--;
        set_err(err, errlen, "curl_global_init failed");
        goto fail;
    }
    tg->multi = curl_multi_init();
    if (!tg->multi) {
        set_err(err, errlen, "curl_multi_init failed");
        goto fail_curl;
    }
    curl_multi_setopt(tg->multi, CURLMOPT_MAX_HOST_CONNECTIONS, o.max_host_connections);
    curl_multi_setopt(tg->multi, CURLMOPT_MAXCONNECTS, o.max_host_connections + 4);

    /* Every Bot API call's headers, sent as they are. "Expect:" stops curl
     * from waiting on 100-continue for larger bodies; "Accept:" drops curl's
     * default Accept header, which Telegram ignores. The User-Agent is a header
     * here, not CURLOPT_USERAGENT, which curl formats anew per request. */
    static const char *const fixed[] = {
        "Content-Type: application/json", "Expect:", "Accept:", "User-Agent: botc/1",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        struct curl_slist *h = curl_slist_append(tg->headers, fixed[i]);
        if (!h) {
            curl_slist_free_all(tg->headers);
            tg->headers = NULL;
            set_err(err, errlen, "out of memory");
            goto fail_multi;
        }
        tg->headers = h;
    }
    if (proxy_from_env(tg)) {
        set_err(err, errlen, "out of memory");
        goto fail_multi;
    }
    return tg;

fail_multi:
    curl_slist_free_all(tg->headers);
    curl_multi_cleanup(tg->multi);
fail_curl:
    if (--g_curl_users == 0)
        curl_global_cleanup();
fail:
    free(tg->base);
    free(tg->token);
    free(tg->proxy);
    free(tg->noproxy);
    free(tg);
    return NULL;
}

static void req_free(tg_req *r)
{
    if (!r)
        return;
    tg_client *tg = r->tg;
    if (r->easy && r->pooled && tg && !tg->closing && tg->n_pool < TG_POOL_MAX)
        tg->pool[tg->n_pool++] = r->easy; /* call_start sets the per-call options again */
    else if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->hdrs);
    curl_url_cleanup(r->own_url);
    free(r->body);
    free(r->resp);
    free(r);
}

/* Counts r in flight, from now on; req_unlink undoes it. */
static void req_link(tg_client *tg, tg_req *r)
{
    r->start_ms = now_ms();
    r->next = tg->head;
    if (tg->head)
        tg->head->prev = r;
    tg->head = r;
    tg->n_flight++;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud);

/* A transfer whose answer goes to cb raw (not parsed as a Bot API reply):
 * the fields and curl options tg_fetch and tg_stream share. NULL on OOM. */
static tg_req *raw_req_new(tg_client *tg, const char *label, const char *url,
                           tg_done_fn cb, void *ud)
{
    tg_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->method, sizeof r->method, "%s", label);
    r->tg = tg;
    r->cb = cb;
    r->ud = ud;
    r->raw = true;
    r->easy = curl_easy_init();
    if (!r->easy) {
        req_free(r);
        return NULL;
    }
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "botc/1");
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    return r;
}

static void req_unlink(tg_client *tg, tg_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        tg->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    tg->n_flight--;
}

void tg_cancel_all(tg_client *tg)
{
    if (!tg)
        return;
    bool was = tg->closing;
    tg->closing = true;
    while (tg->head) {
        tg_req *r = tg->head;
        curl_multi_remove_handle(tg->multi, r->easy);
        req_unlink(tg, r);
        tg_result res = {
            .err = TG_ERR_CANCELLED, .method = r->method,
            .description = "cancelled at shutdown",
        };
        log_debug("tg", "%s cancelled", r->method);
        if (r->cb)
            r->cb(&res, r->ud);
        req_free(r);
    }
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
    curl_multi_cleanup(tg->multi);
    for (int i = 0; i < tg->n_urls; i++)
        curl_url_cleanup(tg->urls[i].url);
    if (--g_curl_users == 0)
        curl_global_cleanup();
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

void tg_wakeup(tg_client *tg)
{
    if (tg)
        curl_multi_wakeup(tg->multi);
}

/* Collects the response, refusing to grow past resp_max. */
static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    tg_req *r = ud;
    size_t n = size * nmemb;
    if (r->on_data) {
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        if (r->on_data(r->ud, status, data, n)) {
            r->aborted = true;
            return 0;
        }
        return n;
    }
    if (n > r->resp_max - r->resp_len) {
        r->toobig = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (r->resp_len + n + 1 > r->resp_cap) {
        size_t cap = r->resp_cap ? r->resp_cap : 4096;
        while (cap < r->resp_len + n + 1)
            cap *= 2;
        if (cap > r->resp_max + 1)
            cap = r->resp_max + 1;
        char *p = realloc(r->resp, cap);
        if (!p)
            return 0;
        r->resp = p;
        r->resp_cap = cap;
    }
    memcpy(r->resp + r->resp_len, data, n);
    r->resp_len += n;
    r->resp[r->resp_len] = '\0';
    return n;
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
    r->resp_max = is_updates ? tg->opt.max_body_updates : tg->opt.max_body;
    r->body = body;
    r->pooled = true;
    r->check_only = check_only;
    bool fresh = tg->n_pool == 0;
    r->easy = fresh ? curl_easy_init() : tg->pool[--tg->n_pool];
    if (!r->body || !r->easy) {
        req_free(r);
        return TG_ERR_NOMEM;
    }

    CURLU *url = method_url(tg, r, method);
    if (!url) {
        req_free(r);
        return TG_ERR_NOMEM;
    }

    CURL *e = r->easy;
    long total_ms = is_updates ? poll_s * 1000 + tg->opt.poll_margin_ms : tg->opt.timeout_ms;
    long low_s = tg->opt.low_speed_time_s;
    if (is_updates && low_s < total_ms / 1000)
        low_s = total_ms / 1000; /* a long poll is silent by design */

    if (fresh) {
        /* the same for every Bot API call: a pooled handle keeps them */
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, tg->headers);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, tg->opt.connect_timeout_ms);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
        curl_easy_setopt(e, CURLOPT_PROXY, tg->proxy);
        curl_easy_setopt(e, CURLOPT_NOPROXY, tg->noproxy);
    }
    curl_easy_setopt(e, CURLOPT_CURLU, url); /* the client's, or r's own */
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->resp_max);
    /* A Bot API answer is a few KiB: a 4 KiB receive buffer instead of
     * 16 KiB per call in flight (hundreds at once under load) */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, is_updates ? 16384L : 4096L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, low_s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);

    if (curl_multi_add_handle(tg->multi, e) != CURLM_OK) {
        req_free(r);
        return TG_ERR_NOMEM;
    }
    req_link(tg, r);
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
        if (tg_json_i64(params, "timeout", &t) == 0 && t > 0 && t < 3600)
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

tg_err tg_fetch(tg_client *tg, const char *url, long timeout_ms, size_t max_body,
                tg_done_fn cb, void *ud)
{
    if (!tg || !url || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
        return TG_ERR_CONFIG;
    if (tg->closing)
        return TG_ERR_CANCELLED;
    tg_req *r = raw_req_new(tg, "GET", url, cb, ud);
    if (!r)
        return TG_ERR_NOMEM;
    r->resp_max = max_body ? max_body : tg->opt.max_body;
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->resp_max);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, tg->opt.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : tg->opt.timeout_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, tg->opt.low_speed_time_s);
    if (curl_multi_add_handle(tg->multi, e) != CURLM_OK) {
        req_free(r);
        return TG_ERR_NOMEM;
    }
    req_link(tg, r);
    log_debug("tg", "GET started");
    return TG_OK;
}

tg_err tg_stream(tg_client *tg, const tg_stream_opts *o, tg_data_fn on_data, tg_tick_fn tick,
                 tg_done_fn done, void *ud)
{
    if (!tg || !o || !o->url || !o->body || !on_data ||
        (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8)))
        return TG_ERR_CONFIG;
    if (tg->closing)
        return TG_ERR_CANCELLED;
    tg_req *r = raw_req_new(tg, "POST stream", o->url, done, ud);
    if (!r)
        return TG_ERR_NOMEM;
    r->on_data = on_data;
    r->tick = tick;
    r->body = dup_str(o->body);
    bool ok = r->body != NULL;
    for (const char *const *h = o->headers; ok && h && *h; h++) {
        struct curl_slist *l = curl_slist_append(r->hdrs, *h);
        if (!l)
            ok = false;
        else
            r->hdrs = l;
    }
    if (!ok) {
        req_free(r);
        return TG_ERR_NOMEM;
    }
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     o->connect_timeout_ms > 0 ? o->connect_timeout_ms : tg->opt.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : tg->opt.timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    if (o->delay_ms > 0) {
        r->add_at = now_ms() + o->delay_ms;
    } else if (curl_multi_add_handle(tg->multi, e) != CURLM_OK) {
        req_free(r);
        return TG_ERR_NOMEM;
    }
    req_link(tg, r);
    log_debug("tg", "stream started");
    return TG_OK;
}

/* Runs the ticks of streamed transfers; one that asks to stop is removed
 * and finished as aborted. Returns the callbacks run. */
static int run_ticks(tg_client *tg)
{
    int n = 0;
    for (tg_req *r = tg->head, *next; r; r = next) {
        next = r->next;
        if (r->add_at && now_ms() >= r->add_at) {
            r->add_at = 0;
            r->start_ms = now_ms();
            if (curl_multi_add_handle(tg->multi, r->easy) != CURLM_OK)
                r->aborted = true;
        }
        if (!r->aborted && (!r->tick || !r->tick(r->ud)))
            continue;
        if (!r->add_at)
            curl_multi_remove_handle(tg->multi, r->easy);
        req_unlink(tg, r);
        tg_result res = {.err = TG_ERR_CANCELLED, .method = r->method,
                         .description = "aborted"};
        if (r->cb)
            r->cb(&res, r->ud);
        req_free(r);
        n++;
        next = tg->head; /* the callback may have changed the list */
    }
    return n;
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

/* Fills res from a finished transfer. desc is scratch for the description;
 * *json receives the parsed body the result points into (caller frees). */
static void finish(tg_req *r, CURLcode cc, tg_result *res, char *desc,
                   size_t desclen, cJSON **json)
{
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    res->method = r->method;
    res->http_status = status;
    res->description = "";
    res->body = r->resp;
    res->body_len = r->resp_len;
    if (cc != CURLE_OK && cc != CURLE_COULDNT_CONNECT && cc != CURLE_COULDNT_RESOLVE_HOST &&
        cc != CURLE_COULDNT_RESOLVE_PROXY && !r->raw) {
        /* the request went out in full, then the answer was lost: the
         * server may have acted on it */
        curl_off_t up = 0;
        curl_easy_getinfo(r->easy, CURLINFO_SIZE_UPLOAD_T, &up);
        res->maybe_taken = r->body && up >= (curl_off_t)strlen(r->body);
    }

    if (r->aborted) {
        res->err = TG_ERR_CANCELLED;
        res->description = "aborted";
        return;
    }
    if (r->toobig || cc == CURLE_FILESIZE_EXCEEDED) {
        res->err = TG_ERR_TOOBIG;
        snprintf(desc, desclen, "response over %zu bytes", r->resp_max);
        res->description = desc;
        return;
    }
    if (cc != CURLE_OK) {
        res->err = cc == CURLE_OUT_OF_MEMORY ? TG_ERR_NOMEM : TG_ERR_NETWORK;
        snprintf(desc, desclen, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
        res->description = desc;
        return;
    }
    if (r->raw) {
        curl_off_t ra = 0;
        if (curl_easy_getinfo(r->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
            res->retry_after = ra > 86400 ? 86400 : (int)ra;
        res->err = status >= 200 && status < 300 ? TG_OK : TG_ERR_HTTP;
        res->error_code = res->err == TG_OK ? 0 : (int)status;
        if (res->err != TG_OK) {
            snprintf(desc, desclen, "HTTP %ld", status);
            res->description = desc;
        }
        return;
    }

    jscan_span raw;
    if (r->check_only && status >= 200 && status < 300 && r->resp &&
        reply_accepted(r->resp, r->resp_len, &raw)) {
        res->err = TG_OK; /* result stays NULL: only its bytes are wanted */
        res->result_raw = raw.p;
        res->result_raw_len = (size_t)(raw.end - raw.p);
        return;
    }
    cJSON *j = r->resp ? cJSON_ParseWithLength(r->resp, r->resp_len) : NULL;
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
    res->error_code = tg_json_i64(j, "error_code", &code) == 0 && code > 0 && code < 1000
                          ? (int)code : (int)status;
    const char *d = tg_json_str(j, "description");
    res->description = d ? d : "";
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "parameters");
    int64_t v;
    if (tg_json_i64(p, "retry_after", &v) == 0 && v > 0)
        res->retry_after = v > 86400 ? 86400 : (int)v;
    if (tg_json_i64(p, "migrate_to_chat_id", &v) == 0)
        res->migrate_to_chat_id = v;
}

static int dispatch(tg_client *tg)
{
    int n = 0, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(tg->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode cc = m->data.result;
        tg_req *r = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
        curl_multi_remove_handle(tg->multi, e); /* m is invalid from here */
        if (!r)
            continue;
        req_unlink(tg, r);

        tg_result res = {0};
        char desc[TG_DESC_MAX];
        cJSON *json = NULL;
        finish(r, cc, &res, desc, sizeof desc, &json);
        long ms = now_ms() - r->start_ms;
        if (res.err == TG_OK)
            log_debug("tg", "%s ok (%ld ms)", r->method, ms);
        else
            log_debug("tg", "%s failed (%ld ms): %s %d: %s", r->method, ms,
                      tg_err_str(res.err), res.error_code, res.description);
        if (r->cb)
            r->cb(&res, r->ud);
        cJSON_Delete(json);
        req_free(r);
        n++;
    }
    return n;
}

int tg_kick(tg_client *tg)
{
    int running = 0;
    CURLMcode mc = curl_multi_perform(tg->multi, &running);
    if (mc != CURLM_OK) {
        log_error("tg", "curl_multi_perform: %s", curl_multi_strerror(mc));
        return -1;
    }
    return 0;
}

int tg_poll(tg_client *tg, int timeout_ms)
{
    int running = 0;
    CURLMcode mc = curl_multi_perform(tg->multi, &running);
    if (mc != CURLM_OK) {
        log_error("tg", "curl_multi_perform: %s", curl_multi_strerror(mc));
        return -1;
    }
    int n = dispatch(tg) + run_ticks(tg);
    if (n > 0)
        return n; /* let the caller act on it before waiting */
    mc = curl_multi_poll(tg->multi, NULL, 0, timeout_ms > 0 ? timeout_ms : 0, NULL);
    if (mc != CURLM_OK) {
        log_error("tg", "curl_multi_poll: %s", curl_multi_strerror(mc));
        return -1;
    }
    mc = curl_multi_perform(tg->multi, &running);
    if (mc != CURLM_OK) {
        log_error("tg", "curl_multi_perform: %s", curl_multi_strerror(mc));
        return -1;
    }
    return dispatch(tg) + run_ticks(tg);
}

/*
 * http.c — HTTP requests on the loop (see http.h): one easy handle per
 * request, the response collected under its cap (or streamed), the
 * transfer's end turned into an http_result.
 */
#include "net/http.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

#define HTTP_DESC_MAX 512

const char *http_err_str(http_err e)
{
    switch (e) {
    case HTTP_OK: return "ok";
    case HTTP_ERR_STATUS: return "HTTP error";
    case HTTP_ERR_NETWORK: return "network error";
    case HTTP_ERR_TOOBIG: return "response too large";
    case HTTP_ERR_NOMEM: return "out of memory";
    case HTTP_ERR_CANCELLED: return "cancelled";
    case HTTP_ERR_CONFIG: return "configuration error";
    }
    return "unknown error";
}

static http_req *req_of(loop_xfer *x)
{
    return (http_req *)((char *)x - offsetof(http_req, x));
}

/* Collects the response, refusing to grow past resp_max; or hands a
 * stream's bytes on. */
static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    http_req *r = ud;
    size_t n = size * nmemb;
    if (r->on_data) {
        long status = 0;
        curl_easy_getinfo(r->x.easy, CURLINFO_RESPONSE_CODE, &status);
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

/* Fills res from the transfer's end. desc is scratch for the description. */
static void finish(http_req *r, loop_end how, CURLcode cc, http_result *res, char *desc,
                   size_t desclen)
{
    res->description = "";
    if (how == LOOP_CANCELLED) {
        res->err = HTTP_ERR_CANCELLED;
        res->description = "cancelled at shutdown";
        return;
    }
    if (how == LOOP_ABORTED) {
        res->err = HTTP_ERR_CANCELLED;
        res->description = "aborted";
        return;
    }
    long status = 0;
    curl_easy_getinfo(r->x.easy, CURLINFO_RESPONSE_CODE, &status);
    res->status = status;
    res->body = r->resp;
    res->body_len = r->resp_len;
    if (cc != CURLE_OK && cc != CURLE_COULDNT_CONNECT && cc != CURLE_COULDNT_RESOLVE_HOST &&
        cc != CURLE_COULDNT_RESOLVE_PROXY) {
        /* the request went out in full, then the answer was lost: the
         * server may have acted on it */
        curl_off_t up = 0;
        curl_easy_getinfo(r->x.easy, CURLINFO_SIZE_UPLOAD_T, &up);
        res->maybe_taken = r->body && up >= (curl_off_t)strlen(r->body);
    }
    if (r->aborted) {
        res->err = HTTP_ERR_CANCELLED;
        res->description = "aborted";
        return;
    }
    if (r->toobig || cc == CURLE_FILESIZE_EXCEEDED) {
        res->err = HTTP_ERR_TOOBIG;
        snprintf(desc, desclen, "response over %zu bytes", r->resp_max);
        res->description = desc;
        return;
    }
    if (cc != CURLE_OK) {
        res->err = cc == CURLE_OUT_OF_MEMORY ? HTTP_ERR_NOMEM : HTTP_ERR_NETWORK;
        snprintf(desc, desclen, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
        res->description = desc;
        return;
    }
    if (status >= 200 && status < 300) {
        res->err = HTTP_OK;
        return;
    }
    curl_off_t ra = 0;
    if (curl_easy_getinfo(r->x.easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        res->retry_after = ra > 86400 ? 86400 : (int)ra;
    res->err = HTTP_ERR_STATUS;
    snprintf(desc, desclen, "HTTP %ld", status);
    res->description = desc;
}

static void xfer_done(loop_xfer *x, loop_end how, CURLcode cc)
{
    http_req *r = req_of(x);
    http_result res = {0};
    char desc[HTTP_DESC_MAX];
    finish(r, how, cc, &res, desc, sizeof desc);
    r->complete(r, &res);
}

static int xfer_tick(loop_xfer *x)
{
    http_req *r = req_of(x);
    return r->tick(r->ud);
}

void http_easy_setup(CURL *e)
{
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
}

http_err http_req_start(loop *lp, http_req *r, long delay_ms)
{
    if (loop_closing(lp))
        return HTTP_ERR_CANCELLED;
    CURL *e = r->x.easy;
    r->x.done = xfer_done;
    r->x.tick = r->tick ? xfer_tick : NULL;
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    if (!r->on_data)
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->resp_max);
    return loop_add(lp, &r->x, delay_ms) == 0 ? HTTP_OK : HTTP_ERR_NOMEM;
}

void http_req_clean(http_req *r)
{
    curl_slist_free_all(r->hdrs);
    free(r->body);
    free(r->resp);
    r->hdrs = NULL;
    r->body = r->resp = NULL;
}

/* ---- http_get / http_stream: requests of their own --------------------- */

static void plain_complete(http_req *r, const http_result *res)
{
    const char *label = r->on_data ? "POST stream" : "GET";
    long ms = loop_now_ms() - r->x.start_ms;
    if (res->err == HTTP_OK)
        log_debug("http", "%s ok (%ld ms)", label, ms);
    else
        log_debug("http", "%s failed (%ld ms): %s: %s", label, ms, http_err_str(res->err),
                  res->description);
    if (r->done)
        r->done(res, r->ud);
    curl_easy_cleanup(r->x.easy);
    http_req_clean(r);
    free(r);
}

static void plain_free(http_req *r)
{
    curl_easy_cleanup(r->x.easy);
    http_req_clean(r);
    free(r);
}

static bool url_ok(const char *url)
{
    return url && (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8));
}

/* A request of its own with the options GETs and streams share. NULL on
 * out-of-memory. */
static http_req *plain_new(const char *url, http_done_fn done, void *ud)
{
    http_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->complete = plain_complete;
    r->done = done;
    r->ud = ud;
    r->x.easy = curl_easy_init();
    if (!r->x.easy) {
        free(r);
        return NULL;
    }
    CURL *e = r->x.easy;
    http_easy_setup(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "botc/1");
    return r;
}

http_err http_get(loop *lp, const char *url, long timeout_ms, size_t max_body,
                  http_done_fn done, void *ud)
{
    if (!lp || !url_ok(url))
        return HTTP_ERR_CONFIG;
    if (loop_closing(lp))
        return HTTP_ERR_CANCELLED;
    http_req *r = plain_new(url, done, ud);
    if (!r)
        return HTTP_ERR_NOMEM;
    r->resp_max = max_body ? max_body : HTTP_MAX_BODY;
    CURL *e = r->x.easy;
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, HTTP_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : HTTP_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, HTTP_LOW_SPEED_TIME_S);
    http_err he = http_req_start(lp, r, 0);
    if (he != HTTP_OK) {
        plain_free(r);
        return he;
    }
    log_debug("http", "GET started");
    return HTTP_OK;
}

http_err http_fetch(loop *lp, const http_fetch_opts *o, http_done_fn done, void *ud)
{
    bool post = o && o->method && !strcmp(o->method, "POST");
    if (!lp || !o || !url_ok(o->url) || (o->method && !post && strcmp(o->method, "GET")))
        return HTTP_ERR_CONFIG;
    if (loop_closing(lp))
        return HTTP_ERR_CANCELLED;
    http_req *r = plain_new(o->url, done, ud);
    if (!r)
        return HTTP_ERR_NOMEM;
    r->resp_max = o->max_body ? o->max_body : HTTP_MAX_BODY;
    bool ok = true;
    if (post)
        ok = (r->body = strdup(o->body ? o->body : "")) != NULL;
    for (const char *const *h = o->headers; ok && h && *h; h++) {
        struct curl_slist *l = curl_slist_append(r->hdrs, *h);
        if (!l)
            ok = false;
        else
            r->hdrs = l;
    }
    if (!ok) {
        plain_free(r);
        return HTTP_ERR_NOMEM;
    }
    CURL *e = r->x.easy;
    if (r->hdrs)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
    if (post) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, HTTP_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : HTTP_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, HTTP_LOW_SPEED_TIME_S);
    http_err he = http_req_start(lp, r, 0);
    if (he != HTTP_OK) {
        plain_free(r);
        return he;
    }
    log_debug("http", "%s started", post ? "POST" : "GET");
    return HTTP_OK;
}

http_err http_stream(loop *lp, const http_stream_opts *o, http_data_fn on_data,
                     http_tick_fn tick, http_done_fn done, void *ud)
{
    if (!lp || !o || !url_ok(o->url) || !o->body || !on_data)
        return HTTP_ERR_CONFIG;
    if (loop_closing(lp))
        return HTTP_ERR_CANCELLED;
    http_req *r = plain_new(o->url, done, ud);
    if (!r)
        return HTTP_ERR_NOMEM;
    r->on_data = on_data;
    r->tick = tick;
    r->body = strdup(o->body);
    bool ok = r->body != NULL;
    for (const char *const *h = o->headers; ok && h && *h; h++) {
        struct curl_slist *l = curl_slist_append(r->hdrs, *h);
        if (!l)
            ok = false;
        else
            r->hdrs = l;
    }
    if (!ok) {
        plain_free(r);
        return HTTP_ERR_NOMEM;
    }
    CURL *e = r->x.easy;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(r->body));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     o->connect_timeout_ms > 0 ? o->connect_timeout_ms : HTTP_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : HTTP_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    http_err he = http_req_start(lp, r, o->delay_ms);
    if (he != HTTP_OK) {
        plain_free(r);
        return he;
    }
    log_debug("http", "stream started");
    return HTTP_OK;
}

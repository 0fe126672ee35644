/*
 * http.h — an HTTP client on the event loop (net/loop.h): GETs whose
 * bodies are collected under a cap, streamed POSTs, and the request type
 * protocol clients embed to run their own calls.
 *
 * Defaults where a caller gives 0: connect timeout 10 s, total 30 s, abort
 * below 1 byte/s for 20 s, response cap 1 MiB. URLs are logged nowhere.
 */
#ifndef BOTC_HTTP_H
#define BOTC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "net/loop.h"

#define HTTP_CONNECT_TIMEOUT_MS 10000L
#define HTTP_TIMEOUT_MS 30000L
#define HTTP_LOW_SPEED_TIME_S 20L
#define HTTP_MAX_BODY ((size_t)1 << 20)

/* The one error type of the HTTP client. */
typedef enum http_err {
    HTTP_OK = 0,
    HTTP_ERR_STATUS,    /* an answer whose status is not 2xx */
    HTTP_ERR_NETWORK,   /* resolve/connect/TLS/timeout/transfer failure */
    HTTP_ERR_TOOBIG,    /* the response body exceeded its cap */
    HTTP_ERR_NOMEM,
    HTTP_ERR_CANCELLED, /* loop_cancel / loop_free, or on_data / tick stopped it */
    HTTP_ERR_CONFIG,    /* not an http(s) URL / bad argument */
} http_err;

const char *http_err_str(http_err e); /* static string, e.g. "network error" */

/* What a finished request reports. Everything is borrowed and valid only
 * during the callback; copy what you keep. */
typedef struct http_result {
    http_err err;
    long status;             /* 0 when no HTTP response arrived */
    const char *description; /* "" on success; curl's reason, "HTTP 404",
                              * "aborted", "cancelled at shutdown"...; never NULL */
    int retry_after;         /* seconds from a non-2xx answer's Retry-After, 0 if none */
    const char *body;        /* the response bytes as received, NUL-terminated
                              * (NULL if none, and for streams) */
    size_t body_len;
    int maybe_taken;         /* 1 when it failed after the whole request body
                              * went out: the server may have acted on it */
} http_result;

/* Runs exactly once per accepted request, from loop_poll (or with
 * HTTP_ERR_CANCELLED from loop_cancel / loop_free). It may start requests. */
typedef void (*http_done_fn)(const http_result *r, void *ud);
/* A stream's bytes as they arrive; non-zero aborts the transfer. */
typedef int (*http_data_fn)(void *ud, long status, const char *data, size_t n);
/* Runs on every loop_poll while a stream is in flight, for deadlines curl
 * does not know (first byte, idle gaps); non-zero aborts the transfer. */
typedef int (*http_tick_fn)(void *ud);

/* Starts a GET of an http(s) URL. done gets HTTP_OK for a 2xx answer,
 * HTTP_ERR_STATUS otherwise, with the body in body/body_len either way.
 * timeout_ms / max_body 0 = the defaults. Returns HTTP_OK when the request
 * is in flight: done then runs exactly once. On any other return done
 * never runs. */
http_err http_get(loop *lp, const char *url, long timeout_ms, size_t max_body,
                  http_done_fn done, void *ud);

/* A GET or POST with headers, its answer collected under a cap as
 * http_get's (the spec's tools, ai/tool.h). Strings in o are copied. Same
 * return contract as http_get. */
typedef struct http_fetch_opts {
    const char *method;         /* "GET" (NULL too) or "POST" */
    const char *url;            /* http(s) */
    const char *const *headers; /* NULL-terminated "Name: value" lines, may be NULL */
    const char *body;           /* POST: sent as is, NULL = empty */
    long timeout_ms;            /* total, 0 = the default */
    size_t max_body;            /* the answer's cap, 0 = the default */
} http_fetch_opts;

http_err http_fetch(loop *lp, const http_fetch_opts *o, http_done_fn done, void *ud);

/* A streamed POST (the LLM client's transfers): the response body goes to
 * on_data piece by piece (nothing is buffered here, so the caller caps
 * what it keeps), and tick runs on every loop_poll while it is in flight
 * (also during its delay). Either returning non-zero aborts it: done then
 * runs with HTTP_ERR_CANCELLED and description "aborted". done gets
 * HTTP_OK for a 2xx status, HTTP_ERR_STATUS otherwise (the error body was
 * passed to on_data too), body NULL. Strings in o are copied. Same return
 * contract as http_get. */
typedef struct http_stream_opts {
    const char *url;            /* http(s) */
    const char *body;           /* POSTed as is */
    const char *const *headers; /* NULL-terminated "Name: value" lines, may be NULL */
    long connect_timeout_ms;    /* 0 = the default */
    long timeout_ms;            /* total, 0 = the default */
    long delay_ms;              /* start this much later (a retry's backoff), 0 = now */
} http_stream_opts;
http_err http_stream(loop *lp, const http_stream_opts *o, http_data_fn on_data,
                     http_tick_fn tick, http_done_fn done, void *ud);

/* ---- for protocol clients: a request embedded in their own ------------- */

/* A request a protocol client embeds in its own (one allocation per call)
 * and sets up itself: the easy handle (its own, or pooled), the URL, the
 * method and body, headers, timeouts. http collects the answer under the
 * cap and turns the transfer's end into an http_result for `complete`. */
typedef struct http_req http_req;
struct http_req {
    loop_xfer x;        /* x.easy and x.owner: set by the owner */
    /* Set by the owner: runs exactly once per started request, from the
     * loop; r is then the owner's to clean up (http_req_clean) and free,
     * with its easy handle. An answer's body is collected even when the
     * status is not 2xx (err HTTP_ERR_STATUS), for the owner to read. */
    void (*complete)(http_req *r, const http_result *res);
    char *body;         /* set: the request body, if any (owned: freed by
                         * http_req_clean; its length decides maybe_taken) */
    size_t resp_max;    /* set: the response cap */
    /* http's own */
    char *resp;
    size_t resp_len, resp_cap;
    bool toobig, aborted;
    http_data_fn on_data; /* streams only */
    http_tick_fn tick;
    http_done_fn done;    /* http_get / http_stream's caller */
    void *ud;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
};

/* The options a request's easy handle needs once (http/https only, the
 * collector, no signals): a handle reused for the next request keeps them. */
void http_easy_setup(CURL *e);

/* Starts r (its easy handle set up by the owner and with http_easy_setup)
 * on lp after delay_ms (0 = now): sets the collector's per-request options
 * (r itself, the error buffer, the cap). Returns HTTP_OK when r is in
 * flight; otherwise complete never runs and r is still the owner's. */
http_err http_req_start(loop *lp, http_req *r, long delay_ms);

/* Frees what r holds (body, response, headers); not r, not its easy handle. */
void http_req_clean(http_req *r);

#endif

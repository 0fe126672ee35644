/*
 * tg.h — Telegram Bot API client over one libcurl multi handle and cJSON.
 *
 * Every call is a POST of a JSON body to <base>/bot<token>/<method> and runs
 * as one transfer in the shared multi handle, so many calls proceed at once
 * over reused connections. Nothing blocks except tg_poll, which waits for
 * network activity and runs the callbacks of finished calls.
 *
 *   tg_client *tg = tg_new(NULL, err, sizeof err);   // from the environment
 *   tg_call(tg, "sendMessage", params, on_sent, ctx);
 *   while (running) tg_poll(tg, 500);
 *   tg_free(tg);                                      // cancels what is left
 *
 * The token is registered with log_add_secret and only method names are
 * logged, never URLs.
 *
 * Numbers: cJSON keeps numbers as double, and valueint is an int, so 64-bit
 * Telegram ids are read with tg_json_i64 (exact up to 2^53, which covers
 * every Telegram id) and written with tg_json_add_i64.
 */
#ifndef BOTC_TG_H
#define BOTC_TG_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct tg_client tg_client;

/* The one error type of the client. */
typedef enum tg_err {
    TG_OK = 0,
    TG_ERR_API,       /* the Bot API answered {"ok":false,...}: error_code etc. */
    TG_ERR_HTTP,      /* an HTTP error without a Bot API body (e.g. 502 HTML) */
    TG_ERR_NETWORK,   /* resolve/connect/TLS/timeout/transfer failure */
    TG_ERR_TOOBIG,    /* the response body exceeded its cap */
    TG_ERR_PARSE,     /* a 2xx body that is not a Bot API JSON reply */
    TG_ERR_NOMEM,
    TG_ERR_CANCELLED, /* the client was shut down before the call finished */
    TG_ERR_CONFIG,    /* no token / bad base URL / bad argument */
} tg_err;

const char *tg_err_str(tg_err e); /* static string, e.g. "network error" */

/* What a finished call reports. Everything is borrowed and valid only during
 * the callback; copy what you keep (cJSON_Duplicate for result). */
typedef struct tg_result {
    tg_err err;
    const char *method;      /* the method called */
    long http_status;        /* 0 when no HTTP response arrived */
    int error_code;          /* API: error_code; HTTP: http_status; else 0 */
    const char *description; /* API description, or curl/our reason; never NULL */
    int retry_after;         /* seconds from parameters.retry_after, 0 if none */
    int64_t migrate_to_chat_id; /* parameters.migrate_to_chat_id, 0 if none */
    const cJSON *result;     /* the "result" member when err == TG_OK, else NULL;
                              * NULL also for getUpdates and tg_call_body,
                              * whose answers are checked, not parsed: */
    const char *result_raw;  /* for those: the bytes of "result" as received */
    size_t result_raw_len;
    const char *body;        /* the response bytes as received (NULL if none) */
    size_t body_len;
    int maybe_taken;         /* 1 when the call failed after the whole request
                              * went out (connection broke, unreadable 2xx
                              * answer): the server may have acted on it */
} tg_result;

/* Runs exactly once per accepted call, from tg_poll (or with
 * TG_ERR_CANCELLED from tg_cancel_all / tg_free). It may call tg_call. */
typedef void (*tg_done_fn)(const tg_result *r, void *ud);

/* Limits; 0 (or NULL) picks the default shown. */
typedef struct tg_options {
    const char *api_base;       /* TELEGRAM_API_BASE, else https://api.telegram.org */
    const char *token;          /* TELEGRAM_BOT_TOKEN */
    long connect_timeout_ms;    /* 10000 */
    long timeout_ms;            /* 30000: total time of one ordinary call */
    long poll_margin_ms;        /* 15000: getUpdates total = its timeout + this */
    long low_speed_time_s;      /* 20: abort below 1 byte/s for this long */
    size_t max_body;            /* 1 MiB: response cap of ordinary calls */
    size_t max_body_updates;    /* 8 MiB: response cap of getUpdates */
    long max_host_connections;  /* 256: per host; the outbox bounds Telegram
                                 * calls itself (64), actions' requests need more */
} tg_options;

/* Creates a client. opts may be NULL (all defaults from the environment).
 * Strings are copied. On failure returns NULL with a reason in err (no
 * token, curl init failure). */
tg_client *tg_new(const tg_options *opts, char *err, size_t errlen);

/* Cancels every call still in flight (callbacks run with
 * TG_ERR_CANCELLED), then frees the client. NULL is fine. */
void tg_free(tg_client *tg);

/* Starts `method` with `params` (a JSON object, or NULL for none). params
 * is consumed in every case. Returns TG_OK when the call is in flight: cb
 * then runs exactly once. On any other return cb never runs. For
 * getUpdates the total timeout follows params.timeout, the larger body
 * cap applies, and an accepted answer comes as result_raw (the inbox
 * parses each update by itself, once). */
tg_err tg_call(tg_client *tg, const char *method, cJSON *params,
               tg_done_fn cb, void *ud);

/* tg_call with the JSON object already printed (the outbox keeps each
 * call's text for its row and resends): body is copied. Not for
 * getUpdates. An accepted call's answer is checked (well-formed, "ok":
 * true, a "result") but not parsed: result is NULL on TG_OK (result_raw
 * holds its bytes). Every other answer is reported as by tg_call. Same return contract as tg_call. */
tg_err tg_call_body(tg_client *tg, const char *method, const char *body,
                    tg_done_fn cb, void *ud);

/* Starts an HTTP GET of any http(s) URL in the same multi handle (the
 * event loop's other work goes on while it runs). The callback gets err
 * TG_OK for a 2xx answer, TG_ERR_HTTP (error_code = status) otherwise, the
 * network errors as for tg_call, and the raw body in body/body_len (result
 * is NULL). timeout_ms / max_body 0 = the client's defaults. The URL is
 * logged nowhere. Same return contract as tg_call. */
tg_err tg_fetch(tg_client *tg, const char *url, long timeout_ms, size_t max_body,
                tg_done_fn cb, void *ud);

/* A streamed POST beside the Bot API calls (the LLM client's transfers):
 * the response body goes to on_data piece by piece as it arrives (nothing
 * is buffered here, so the caller caps what it keeps), and `tick` runs on
 * every tg_poll while the transfer is in flight, for deadlines curl does not
 * know (first byte, idle gaps). Either returning non-zero aborts the
 * transfer: done then runs with TG_ERR_CANCELLED and description
 * "aborted". done gets TG_OK for a 2xx status, TG_ERR_HTTP otherwise (the
 * error body was passed to on_data too), the network errors as for tg_call;
 * body is NULL; retry_after from a Retry-After header. Strings in o are copied. Same return contract as tg_call. */
typedef int (*tg_data_fn)(void *ud, long http_status, const char *data, size_t n);
typedef int (*tg_tick_fn)(void *ud);
typedef struct tg_stream_opts {
    const char *url;            /* http(s) */
    const char *body;           /* POSTed as is */
    const char *const *headers; /* NULL-terminated "Name: value" lines, may be NULL */
    long connect_timeout_ms;    /* 0 = the client's */
    long timeout_ms;            /* total, 0 = the client's */
    long delay_ms;              /* start this much later (a retry's backoff;
                                 * ticks run meanwhile), 0 = now */
} tg_stream_opts;
tg_err tg_stream(tg_client *tg, const tg_stream_opts *o, tg_data_fn on_data, tg_tick_fn tick,
                 tg_done_fn done, void *ud);

/* Drives the transfers: waits up to timeout_ms for activity (less when a
 * call finishes or tg_wakeup is called), then runs the callbacks of every
 * finished call. Returns how many callbacks ran, or -1 on a multi-handle
 * failure (logged). With nothing in flight it simply sleeps. */
int tg_poll(tg_client *tg, int timeout_ms);

/* Puts the requests of calls just started on the wire now, without waiting
 * and without running callbacks (the next tg_poll runs them): a caller about
 * to do other work first (handling a batch) overlaps it with their round
 * trips. Returns 0, or -1 on a multi-handle failure. */
int tg_kick(tg_client *tg);

/* Makes a tg_poll that is waiting return early. Safe from another thread. */
void tg_wakeup(tg_client *tg);

/* Calls in flight (accepted, callback not yet run). */
int tg_in_flight(const tg_client *tg);

/* Cancels every call in flight: their callbacks run now with
 * TG_ERR_CANCELLED. Calls started from those callbacks are refused. */
void tg_cancel_all(tg_client *tg);

/* ---- JSON helpers (64-bit safe) ---------------------------------------- */

/* Reads obj[key] as an integral number (or tg_json_add_i64's raw digits)
 * into *out. Returns 0, or -1 when it is missing, not a number, not
 * integral or beyond ±2^53 (*out untouched). */
int tg_json_i64(const cJSON *obj, const char *key, int64_t *out);

/* Adds key: v as a JSON number (exact for |v| <= 2^53). The item is a
 * cJSON raw item holding the decimal digits (cheaper to print than a
 * cJSON number), so read it back with tg_json_i64, not valuedouble.
 * Returns the new item, or NULL on out-of-memory. */
cJSON *tg_json_add_i64(cJSON *obj, const char *key, int64_t v);

/* obj[key] when it is a string, else NULL. Borrowed. */
const char *tg_json_str(const cJSON *obj, const char *key);

#endif

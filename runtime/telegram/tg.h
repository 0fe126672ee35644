/*
 * tg.h — Telegram Bot API client on the event loop (net/loop.h), with cJSON.
 *
 * Every call is a POST of a JSON body to <base>/bot<token>/<method> and runs
 * as one transfer on the loop, so many calls proceed at once over reused
 * connections, beside the loop's other HTTP work. Nothing blocks except
 * loop_poll, which waits for network activity and runs the callbacks of
 * finished calls.
 *
 *   loop *lp = loop_new(NULL, err, sizeof err);
 *   tg_client *tg = tg_new(lp, NULL, err, sizeof err); // from the environment
 *   tg_call(tg, "sendMessage", params, on_sent, ctx);
 *   while (running) loop_poll(lp, 500);
 *   tg_free(tg);                                      // cancels what is left
 *   loop_free(lp);
 *
 * The token is registered with log_add_secret and only method names are
 * logged, never URLs. 64-bit ids go in and out with base/json.h.
 */
#ifndef BOTC_TG_H
#define BOTC_TG_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "net/loop.h"

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

/* Runs exactly once per accepted call, from loop_poll (or with
 * TG_ERR_CANCELLED from tg_cancel_all / tg_free / loop_cancel / loop_free).
 * It may call tg_call. */
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
} tg_options;

/* Creates a client whose calls run on lp (borrowed: it must outlive the
 * client). opts may be NULL (all defaults from the environment). Strings
 * are copied. On failure returns NULL with a reason in err (no token, bad
 * base URL, out of memory). */
tg_client *tg_new(loop *lp, const tg_options *opts, char *err, size_t errlen);

/* Cancels every call of the client still in flight (callbacks run with
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

/* Uploads. A parameter of type InputFile (sendDocument's document,
 * sendVoice's voice) given as the object {"file_name": NAME, "content":
 * TEXT} is uploaded as that file: the call then goes as multipart/form-data
 * (the file as a file part, every other parameter as a field) instead of
 * JSON. The params stay one JSON text, so the outbox keeps an upload in its
 * row and resends it like any call. */
#define TG_UPLOAD_NAME "file_name"
#define TG_UPLOAD_CONTENT "content"
/* A binary file (a voice note) goes as {"file_name": NAME,
 * "content_base64": BASE64} instead: uploaded as the decoded bytes (a
 * value that is not base64 makes the call TG_ERR_CONFIG). */
#define TG_UPLOAD_CONTENT_B64 "content_base64"

/* Calls in flight (accepted, callback not yet run). */
int tg_in_flight(const tg_client *tg);

/* Cancels every call of the client in flight: their callbacks run now with
 * TG_ERR_CANCELLED. Calls started from those callbacks are refused. */
void tg_cancel_all(tg_client *tg);

#endif

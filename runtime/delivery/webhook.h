/*
 * webhook.h — the Telegram webhook receiver: an HTTP server (libmicrohttpd)
 * that takes updates Telegram POSTs and hands them to the bot's main loop.
 *
 *   wh_config c;
 *   if (wh_config_from_env(&c, err, sizeof err) == 1) {      // WEBHOOK_URL set
 *       wh_server *s = wh_new(&c, wake, ud, err, sizeof err);
 *       tg_call(tg, "setWebhook", wh_set_params(&c), ...);
 *       while (running) { wh_drain(s, 100, accept, ud); loop_poll(lp, 500); }
 *       wh_free(s);
 *   }
 *
 * Threads: the server runs in libmicrohttpd's own thread, which never
 * touches the bot, the store or curl. A request that passes every check
 * (path, POST, secret header, size, a JSON object with an integral
 * update_id) is parked (MHD suspend) in a queue and `wake` is called; the
 * main loop takes it with wh_drain, makes it durable, and only then is the
 * HTTP answer (200, or 503 so Telegram retries) sent. A request failing a
 * check is answered at once from the server thread:
 *
 *   other path 404 · not POST 405 · wrong/missing secret 401 ·
 *   Content-Type not application/json 415 · body over the cap 413 ·
 *   not a JSON object with update_id 400 · server stopping 503
 *
 * Slow clients: a connection's request (headers and body) must arrive
 * within deadline_s of its start, else its socket is shut down (a sweeper
 * thread checks every 200 ms); one address holds at most max_per_address
 * connections. So clients trickling bytes (slowloris) cannot keep the
 * connection slots from Telegram.
 *
 * The secret is compared in constant time and is never logged (it is
 * registered with log_add_secret); neither is the value a client offered.
 */
#ifndef BOTC_WEBHOOK_H
#define BOTC_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/jsonscan.h"

#define WH_SECRET_MAX 256          /* Telegram: 1..256 of A-Z a-z 0-9 _ - */
#define WH_SECRET_RANDOM_LEN 48    /* length of a generated secret */
#define WH_LISTEN_DEFAULT "127.0.0.1:8080"

/* Settings. Strings are fixed buffers, so a config is plain data. */
typedef struct wh_config {
    char url[1024];                /* WEBHOOK_URL: what setWebhook gets */
    char path[512];                /* the path part of url ("/" if none): the one path served */
    char listen[256];              /* WEBHOOK_LISTEN, host:port ([v6]:port) */
    char secret[WH_SECRET_MAX + 1];/* WEBHOOK_SECRET, else random */
    size_t max_body;               /* 1 MiB: larger bodies get 413 */
    unsigned timeout_s;            /* 10: idle limit while reading headers and body */
    unsigned deadline_s;           /* WEBHOOK_REQUEST_TIMEOUT, 5: total time for one
                                    * request's headers and body (then the socket is shut
                                    * down); the time a request waits for the bot is not
                                    * counted */
    unsigned max_connections;      /* 64: connections at once (more wait in the backlog) */
    unsigned max_per_address;      /* WEBHOOK_MAX_PER_ADDRESS, 20: connections from one
                                    * client address at once (more are closed at accept);
                                    * also setWebhook's max_connections */
} wh_config;

/* Fills c from WEBHOOK_URL, WEBHOOK_LISTEN, WEBHOOK_SECRET (a random
 * secret from /dev/urandom when unset), WEBHOOK_REQUEST_TIMEOUT and
 * WEBHOOK_MAX_PER_ADDRESS with the defaults above. Returns 1
 * when WEBHOOK_URL is set and everything is valid, 0 when WEBHOOK_URL is
 * unset (polling mode; c untouched), -1 with a reason in err on a bad value.
 * The secret is registered with log_add_secret. */
int wh_config_from_env(wh_config *c, char *err, size_t errlen);

/* Fills out[0..len) with len random characters of the secret alphabet
 * (A-Z a-z 0-9 _ -) from /dev/urandom and NUL-terminates it (out holds
 * len + 1 bytes). Returns 0, or -1 if /dev/urandom cannot be read. */
int wh_random_secret(char *out, size_t len);

/* Whether s is a valid secret_token for Telegram. */
bool wh_secret_valid(const char *s);

/* Constant-time equality: the time depends on blen (the secret's length)
 * only, never on where a and b differ nor on alen. */
bool wh_secret_equal(const char *a, size_t alen, const char *b, size_t blen);

/* The setWebhook parameters {url, secret_token, allowed_updates,
 * drop_pending_updates:false}. Caller owns the object (tg_call consumes
 * it). NULL on out-of-memory. */
cJSON *wh_set_params(const wh_config *c);

typedef struct wh_server wh_server;

/* Called from the server thread whenever an update starts waiting for the
 * main loop (e.g. a function calling loop_wakeup). */
typedef void (*wh_wake_fn)(void *ud);

/* Starts listening on c->listen. c is copied. NULL with a reason in err when
 * the address is bad or cannot be bound. */
wh_server *wh_new(const wh_config *c, wh_wake_fn wake, void *wake_ud, char *err, size_t errlen);

/* Answers 503 to every update still waiting, stops the server thread and
 * frees everything. NULL is fine. */
void wh_free(wh_server *s);

/* The bound port (useful with port 0). */
uint16_t wh_port(const wh_server *s);

/* What the main loop does with one update (its JSON text json[0..len), the
 * request body as received, not NUL-terminated): return 0 once it is
 * durable (handled, or stored to be handled) — the sender gets 200 — or -1
 * when it could not be taken now — 503, and Telegram delivers it again.
 * The text is borrowed for the call. */
typedef int (*wh_accept_fn)(const char *json, size_t len, void *ud);

/* Takes up to max (<= 0: all) waiting updates in arrival order, runs
 * accept on each and answers its request. Call from the main loop only.
 * Returns how many were taken. */
int wh_drain(wh_server *s, int max, wh_accept_fn accept, void *ud);

/* The batch form: takes up to max (<= 0: all) waiting updates and passes
 * them to accept_batch as n texts in arrival order (the request bodies:
 * borrowed, valid for the call), so one durable commit covers them all;
 * its verdict (0 or -1 as above) answers every one of them. Returns how
 * many were taken. */
typedef int (*wh_batch_fn)(const jscan_span *updates, int n, void *ud);
int wh_drain_batch(wh_server *s, int max, wh_batch_fn accept_batch, void *ud);

/* Updates waiting for wh_drain. Thread-safe. */
size_t wh_waiting(wh_server *s);

/* Counters since wh_new (thread-safe snapshot). */
typedef struct wh_stats {
    unsigned long accepted;      /* answered 200 */
    unsigned long retried;       /* answered 503 (not taken / stopping) */
    unsigned long unauthorized;  /* 401 */
    unsigned long too_large;     /* 413 */
    unsigned long bad_request;   /* 400 */
    unsigned long other;         /* 404, 405 */
    unsigned long media_type;    /* 415 */
    unsigned long cut;           /* connections shut down past their deadline */
} wh_stats;
wh_stats wh_get_stats(wh_server *s);

#endif

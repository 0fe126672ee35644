/*
 * loop.h — the event loop: one libcurl multi handle, the transfers running
 * in it, their start delays and ticks, wake-ups from other threads.
 *
 * The loop knows no protocol. A transfer is a loop_xfer embedded in its
 * owner's request (no allocation here); when curl finishes it, the loop
 * takes the easy handle out of the multi handle and calls the transfer's
 * own done callback, where the owner (net/http.c, and the protocol clients
 * on top of it) reads the answer. Nothing blocks except loop_poll.
 *
 *   loop *lp = loop_new(NULL, err, sizeof err);
 *   ... clients start transfers on lp ...
 *   while (running) loop_poll(lp, 500);
 *   loop_free(lp);                          // cancels what is left
 */
#ifndef BOTC_LOOP_H
#define BOTC_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

typedef struct loop loop;
typedef struct loop_xfer loop_xfer;

/* How a transfer ended. */
typedef enum loop_end {
    LOOP_DONE,      /* curl finished it: the CURLcode says how */
    LOOP_ABORTED,   /* its tick asked to stop, or a delayed start failed */
    LOOP_CANCELLED, /* loop_cancel / loop_free */
} loop_end;

/* Runs exactly once per transfer loop_add accepted, after its easy handle
 * left the multi handle; x is the owner's again (to free, with its easy).
 * It may start new transfers. cc: curl's result when how is LOOP_DONE,
 * else CURLE_OK. */
typedef void (*loop_done_fn)(loop_xfer *x, loop_end how, CURLcode cc);
/* Runs on every loop_poll while x is in flight (also while it waits out
 * its delay): non-zero stops it (done then runs with LOOP_ABORTED). */
typedef int (*loop_tick_fn)(loop_xfer *x);

/* One transfer, embedded in its owner's request. The owner sets easy,
 * done, tick (may be NULL) and owner (a tag for loop_cancel, may be NULL)
 * before loop_add; the other fields are the loop's. */
struct loop_xfer {
    CURL *easy;         /* borrowed: the owner makes and frees it */
    loop_done_fn done;
    loop_tick_fn tick;
    const void *owner;
    long start_ms;      /* when it went into the multi handle (monotonic ms) */
    long add_at;        /* a delayed start: not in the multi handle before this; 0 = in */
    loop_xfer *prev, *next;
};

/* Limits; 0 picks the default shown. */
typedef struct loop_options {
    long max_host_connections; /* 256 per host: a client that bounds its own
                                * calls in flight (64) shares a host with
                                * requests that are not bounded */
} loop_options;

/* Creates a loop (opts may be NULL). NULL with a reason in err when curl
 * cannot start. Loops live on one thread (loop_wakeup excepted). */
loop *loop_new(const loop_options *opts, char *err, size_t errlen);

/* Cancels every transfer in flight (their done callbacks run with
 * LOOP_CANCELLED), then frees the loop. NULL is fine. Every client made
 * on the loop must be freed before it. */
void loop_free(loop *lp);

/* Starts x (its easy handle fully set up) now, or after delay_ms (> 0):
 * until then it waits outside the multi handle, its tick running. Sets the
 * handle's CURLOPT_PRIVATE. Returns 0 when x is in flight (done then runs
 * exactly once), -1 when the multi handle refused it or the loop is
 * cancelling (loop_closing): done never runs. */
int loop_add(loop *lp, loop_xfer *x, long delay_ms);

/* 1 while loop_cancel / loop_free run their callbacks: new transfers are
 * refused (callers report "cancelled" rather than "out of memory"). */
bool loop_closing(const loop *lp);

/* Drives the transfers: waits up to timeout_ms for activity (less when a
 * transfer finishes or loop_wakeup is called), then runs the done callbacks
 * of every finished transfer and the ticks. Returns how many done callbacks
 * ran, or -1 on a multi-handle failure (logged). With nothing in flight it
 * simply sleeps. */
int loop_poll(loop *lp, int timeout_ms);

/* Puts the requests of transfers just started on the wire now, without
 * waiting and without running callbacks (the next loop_poll runs them): a
 * caller about to do other work first (handling a batch) overlaps it with
 * their round trips. Returns 0, or -1 on a multi-handle failure. */
int loop_kick(loop *lp);

/* Makes a loop_poll that is waiting return early. Safe from another thread. */
void loop_wakeup(loop *lp);

/* Transfers in flight (accepted, done not yet run). */
int loop_in_flight(const loop *lp);

/* Cancels every transfer in flight whose owner tag is `owner` (NULL: all):
 * their done callbacks run now with LOOP_CANCELLED. Transfers started from
 * those callbacks are refused. */
void loop_cancel(loop *lp, const void *owner);

/* The monotonic clock the loop keeps time by, in ms. */
long loop_now_ms(void);

#endif

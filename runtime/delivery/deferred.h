/*
 * deferred.h — the executor of deferred I/O (dialogue/deferred.h): runs
 * what an action asked for in the event loop — an HTTP GET, a Bot API call,
 * a model's answer streamed into the chat meanwhile (delivery/draft.c) —
 * and hands the answer back to whoever waits for it (the inbox).
 */
#ifndef BOTC_DELIVERY_DEFERRED_H
#define BOTC_DELIVERY_DEFERRED_H

#include <stdbool.h>
#include <stddef.h>

#include "dialogue/deferred.h"
#include "net/loop.h"
#include "telegram/outq.h"
#include "telegram/tg.h"

typedef struct deferred deferred;
typedef struct deferred_job deferred_job;

/* res is borrowed for the call (body NUL-terminated when not NULL);
 * res->owner is the request's. */
typedef void (*deferred_done_fn)(void *ud, const bot_io_res *res);

/* lp, tg and q borrowed (must outlive it). timeout_ms / max_body: total time
 * and answer cap of an HTTP GET (0 = 30000 ms, 64 KiB). NULL on
 * out-of-memory. */
deferred *deferred_new(loop *lp, tg_client *tg, outq *q, long timeout_ms, size_t max_body);
/* Answers every model job still streaming with "cancelled", then frees;
 * jobs on the loop are abandoned (their callbacks find nothing). */
void deferred_free(deferred *d);

/* Starts req (not freed: the caller keeps it). Returns the job: fn then
 * runs exactly once, later, unless deferred_abandon. NULL when it could
 * not start, with the reason in *why (static); fn never runs. */
deferred_job *deferred_start(deferred *d, const bot_io_req *req, deferred_done_fn fn, void *ud,
                             const char **why);
/* The waiter is gone: fn will not run for job. */
void deferred_abandon(deferred_job *job);

/* Runs the callbacks of requests answered off the loop (voice notes
 * recognised on the worker thread): call on every loop turn. */
void deferred_pump(deferred *d);
/* Whether deferred_pump has answers to deliver. */
bool deferred_ready(const deferred *d);

#endif

/*
 * outq.h — the outbox: Bot API calls waiting to be made, one FIFO per chat.
 *
 * Calls of one chat go out strictly in order, at most one in flight per
 * chat; different chats proceed concurrently through the tg client, up to a
 * bound on calls in flight overall. Failures are retried here:
 *   429            wait parameters.retry_after (that chat only), resend
 *   5xx, network   bounded exponential backoff with jitter, then drop
 *   400 with migrate_to_chat_id   resend to the new chat id
 *   other 4xx      log method + description, drop
 * The queue lives in memory for now; a later issue makes it durable and
 * shapes the send rates, behind this same interface.
 */
#ifndef BOTC_OUTQ_H
#define BOTC_OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "tg.h"

typedef struct outq outq;

/* 0 picks the default shown. */
typedef struct outq_options {
    int max_in_flight;     /* 64: calls in flight over all chats */
    int max_attempts;      /* 8: tries of one call on 5xx/network errors */
    int max_rate_waits;    /* 20: 429 answers one call may get before drop */
    long backoff_base_ms;  /* 500: first retry delay (doubles each try) */
    long backoff_max_ms;   /* 30000: cap of the retry delay */
} outq_options;

/* Counters since outq_new. */
typedef struct outq_stats {
    unsigned long sent;    /* calls answered ok */
    unsigned long dropped; /* calls given up (4xx, out of tries, shutdown) */
    unsigned long retried; /* resends after 429, 5xx, network, migration */
} outq_stats;

/* A queue sending through tg (borrowed; must outlive every call made, see
 * outq_free). opts may be NULL. NULL on out-of-memory. */
outq *outq_new(tg_client *tg, const outq_options *opts);

/* Frees the queue and every call still queued (logged as dropped). Calls
 * already in flight stay with tg: their callbacks (run by tg_poll, or by
 * tg_cancel_all / tg_free) free them without touching the queue. */
void outq_free(outq *q);

/* Appends method(params) to chat_id's FIFO (0 = bot-wide calls, kept in
 * order among themselves). params (a JSON object or NULL) is consumed in
 * every case; method is copied.
 * Returns 0, or -1 on out-of-memory. Nothing is sent before outq_pump. */
int outq_push(outq *q, int64_t chat_id, const char *method, cJSON *params);

/* Starts every call that may start now. Returns the milliseconds until the
 * earliest call waiting on a retry delay is due (0 if one is due now), or -1
 * when no call is waiting on a delay: a poll timeout for the event loop. */
long outq_pump(outq *q);

/* Calls queued or in flight. */
size_t outq_pending(const outq *q);
int outq_in_flight(const outq *q);
outq_stats outq_get_stats(const outq *q);

#endif

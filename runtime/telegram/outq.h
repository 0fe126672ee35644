/*
 * outq.h — the outbox: Bot API calls waiting to be made, one FIFO per chat,
 * persisted before they are made and shaped to Telegram's limits.
 *
 * Calls of one chat go out strictly in order, at most one in flight per
 * chat; different chats proceed concurrently through the tg client, up to a
 * bound on calls in flight overall. answerCallbackQuery (not a message: it
 * only stops the button's spinner) runs in a lane of its own per chat, in
 * order among the chat's answers, so it neither waits behind the chat's
 * messages nor holds them up.
 *
 * Durability (with outq_options.st set): every call is a row of the store's
 * outbox table before it is sent (outq_push writes it at once; outq_stage
 * writes it inside the caller's open transaction, so the calls commit with
 * the update that made them) and the row goes only when Telegram accepted
 * the call. Those deletions are batched: outq_flush writes them in one
 * transaction (the event loop calls it every turn). outq_restore loads what
 * a previous run left; a call Telegram had taken just before a crash (or
 * before the connection broke) is then sent again: the one duplicate the
 * design allows, and it is logged.
 *
 * Flood control: token buckets on message calls (send*, edit*, copy*,
 * forward*; not answerCallbackQuery, sendChatAction or bot-wide calls):
 *   overall   rate_global per second, at most that many in any 1 s
 *   per chat  rate_chat per second, bursts of chat_burst
 *   per group (chat_id < 0) group_per_min, at most that many in any 60 s
 * 0 turns a limit off. Failures:
 *   429            wait parameters.retry_after (that chat; every chat when
 *                  the call was bot-wide), resend
 *   5xx, network   exponential backoff with jitter (capped), resend; given
 *                  up after max_attempts tries
 *   400 with migrate_to_chat_id   the chat's queue re-keyed, resent
 *   403            the user blocked the bot: users.active = 0, the chat's
 *                  queue dropped
 *   other 4xx      logged with the method and reason, dropped
 */
#ifndef BOTC_OUTQ_H
#define BOTC_OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "storage/store.h"
#include "telegram/tg.h"

typedef struct outq outq;

/* A call that needs work before it can go (a voice answer still to be
 * synthesized): see outq_options.prepare. */
typedef struct oq_item outq_call;

/* Asked, when its turn in its chat comes, for each call of the method
 * outq_options.prepare_method; body is the call's params as stored
 * (borrowed for the call). Return 1: the call goes as it is; 0: the
 * preparer took it and answers with outq_prepared exactly once, later, on
 * the loop thread (the chat waits meanwhile, as for a call in flight; the
 * flood limits apply when the prepared call is sent); -1: not now (tried
 * again after the retry delay). */
typedef int (*outq_prepare_fn)(void *ud, outq_call *call, int64_t chat_id, const char *body);

typedef enum outq_prep {
    OUTQ_PREP_SEND,      /* send method(body) in its place */
    OUTQ_PREP_DROP,      /* give the call up (the preparer logged why) */
    OUTQ_PREP_CANCELLED, /* shutting down: the row stays for the next start */
} outq_prep;

/* The preparer's answer for call. SEND: method (copied) with body
 * (malloc'd, taken: the params as they go, kept in memory for resends,
 * while the outbox row keeps what was stored) goes out next in its chat.
 * body is taken in every case. Safe after outq_free (the call is then
 * only freed). */
void outq_prepared(outq_call *call, outq_prep what, const char *method, char *body);

/* 0 picks the default shown, except for the rate limits (0 = off). */
typedef struct outq_options {
    int max_in_flight;     /* 256: calls in flight over all chats */
    int max_attempts;      /* 30: tries of one call on 5xx/network errors */
    int max_rate_waits;    /* 100: 429 answers one call may get before drop */
    long backoff_base_ms;  /* 500: first retry delay (doubles each try) */
    long backoff_max_ms;   /* 30000: cap of the retry delay */
    store *st;             /* NULL: memory only (nothing survives a crash) */
    double rate_global;    /* messages per second overall; 0 = no limit */
    double rate_chat;      /* messages per second per chat; 0 = no limit */
    double chat_burst;     /* 3: messages a chat may get at once */
    double group_per_min;  /* messages per minute per group; 0 = no limit */
    outq_prepare_fn prepare;    /* NULL: no call needs preparing */
    const char *prepare_method; /* the method prepare is asked for (static) */
    void *prepare_ud;
} outq_options;

/* Telegram's published limits (30/s, 1/s per chat with bursts of 3, 20/min
 * per group), overridden by TELEGRAM_RATE_GLOBAL, TELEGRAM_RATE_CHAT,
 * TELEGRAM_RATE_CHAT_BURST, TELEGRAM_RATE_GROUP_PER_MIN (0 = off; a bad
 * value is logged and the default kept). Only the rate fields are set. */
outq_options outq_options_from_env(void);

/* Counters since outq_new. */
typedef struct outq_stats {
    unsigned long sent;       /* calls answered ok */
    unsigned long dropped;    /* calls given up (4xx, out of tries, 403) */
    unsigned long retried;    /* resends after 429, 5xx, network, migration */
    unsigned long rate_waits; /* times the scheduler held a call for a limit */
    unsigned long restored;   /* calls loaded by outq_restore */
} outq_stats;

/* A queue sending through tg (borrowed; must outlive every call made, see
 * outq_free). opts may be NULL. NULL on out-of-memory. */
outq *outq_new(tg_client *tg, const outq_options *opts);

/* Flushes pending deletions, then frees the queue and the calls still
 * queued (their rows stay in the store: the next run sends them). Calls in
 * flight stay with tg: their callbacks (run by loop_poll, or by tg_cancel_all
 * / tg_free) free them without touching the queue. */
void outq_free(outq *q);

/* Appends method(params) to chat_id's FIFO (0 = bot-wide calls, kept in
 * order among themselves) and, with a store, writes its row now (its own
 * transaction unless one is open). params (a JSON object or NULL) is
 * consumed in every case; method is copied. Returns 0, or -1 on
 * out-of-memory or a storage error. Nothing is sent before outq_pump. */
int outq_push(outq *q, int64_t chat_id, const char *method, cJSON *params);
/* The same with params already written as a JSON object's text (body,
 * malloc'd, taken in every case; tgu_render writes them so): stored and
 * sent as is, parsed only if the chat migrates. */
int outq_push_body(outq *q, int64_t chat_id, const char *method, char *body);

/* A droppable call (sendMessageDraft, sendChatAction of a streamed
 * answer): never stored, under the same flood limits as any call. A
 * volatile call of the same method still queued (not in flight) for the
 * chat gets these params instead (only the newest draft matters); any
 * failure drops it (a 429 still holds the chat for retry_after, so what
 * follows respects it); a durable call queued for the chat drops the
 * volatile calls waiting before it (the final message supersedes the
 * drafts). params consumed. Returns 0 or -1 (out of memory). */
int outq_push_volatile(outq *q, int64_t chat_id, const char *method, cJSON *params);

/* Like outq_push, but inside the caller's open transaction and held back:
 * outq_stage_commit (after the commit) queues every staged call,
 * outq_stage_abort (after a rollback) forgets them. */
int outq_stage(outq *q, int64_t chat_id, const char *method, cJSON *params);
int outq_stage_body(outq *q, int64_t chat_id, const char *method, char *body);
void outq_stage_commit(outq *q);
void outq_stage_abort(outq *q);
/* Writes the deletions outq_flush would write inside the caller's open
 * transaction (the handling batch: no transaction of their own), counted
 * done by the outq_stage_commit after its commit, kept for the next flush
 * by an outq_stage_abort. Returns 0, or -1 on a storage error (roll back). */
int outq_stage_flush(outq *q);
/* How many calls are staged; outq_stage_truncate keeps the first n (after
 * a savepoint rolled back the rows of the later ones). */
size_t outq_staged(const outq *q);
void outq_stage_truncate(outq *q, size_t n);

/* Queues the calls a previous run left in the store (call once, before
 * anything else is pushed). Returns how many, -1 on a storage error. */
int outq_restore(outq *q);

/* Writes the deletions of accepted calls (one transaction). Returns 0 or
 * -1 (kept for the next flush). */
int outq_flush(outq *q);

/* Starts every call that may start now. Returns the milliseconds until the
 * earliest call waiting on a retry delay or a rate limit is due (0 if one
 * is due now), or -1 when none waits: a poll timeout for the event loop. */
long outq_pump(outq *q);

/* Calls queued or in flight (staged ones not counted). */
size_t outq_pending(const outq *q);
int outq_in_flight(const outq *q);
outq_stats outq_get_stats(const outq *q);

#endif

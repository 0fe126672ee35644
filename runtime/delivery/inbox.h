/*
 * inbox.h — Telegram updates from arrival to handled, exactly once.
 *
 * Every way an update arrives (long polling, the webhook) goes through
 * inbox_put_raw / inbox_put_updates: the update is written to the store's
 * inbox table (synchronous=FULL for that commit) before the caller confirms
 * it to Telegram (the next getUpdates offset, the webhook's 200).
 * De-duplication is by exact update_id: an id already waiting, handled or
 * dead-lettered is ignored.
 *
 * inbox_run handles what may run: one chat's updates strictly in order,
 * every chat independently. Up to batch_max updates share one transaction
 * (a savepoint each): the user's new state and records, the outbox rows of
 * the replies (outq_stage), the handled mark and the inbox row's deletion
 * commit together, and the replies are queued to send only after the
 * commit. An update that cannot be parsed, or whose handling fails, goes to
 * the dead_letter table with the reason; its chat goes on.
 *
 * An action that needs a remote answer (bot_handle_tx returns BOT_DEFERRED)
 * hands its request to the executor (delivery/deferred.c), which runs it on
 * the event loop, and leaves the update waiting; the chat's later updates
 * wait behind it, other chats go on. When
 * the answer arrives the update runs again with it and commits as above. A
 * crash meanwhile loses nothing: the update is still in the inbox and its
 * request is made again after the restart.
 *
 * One inbox is used from the event loop's thread only.
 */
#ifndef BOTC_INBOX_H
#define BOTC_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "dialogue/bot.h"
#include "base/jsonscan.h"
#include "net/loop.h"
#include "telegram/outq.h"
#include "telegram/tg.h"

typedef struct inbox inbox;

/* 0 picks the default shown. */
typedef struct inbox_options {
    int batch_max;        /* 128: updates handled in one transaction (a whole
                           * getUpdates batch of 100 is one commit) */
    long io_timeout_ms;   /* 30000: total time of an action's HTTP request */
    size_t io_max_body;   /* 65536: cap of its answer */
    long run_budget_ms;   /* 50: inbox_run returns after this much work */
} inbox_options;

typedef struct inbox_stats {
    unsigned long stored;     /* updates written to the inbox */
    unsigned long duplicates; /* redeliveries ignored */
    unsigned long handled;    /* committed */
    unsigned long dead;       /* dead-lettered */
    unsigned long io_started; /* action requests made */
    unsigned long batches;    /* handling transactions committed */
    unsigned long no_id;      /* items without an integer update_id (ignored) */
} inbox_stats;

/* Everything borrowed: b, lp, tg and q must outlive the inbox (q with a
 * store: the replies go to the outbox). Actions' requests run on lp, their
 * Bot API calls through tg. opts may be NULL. NULL on out-of-memory. */
inbox *inbox_new(bot *b, loop *lp, tg_client *tg, outq *q, const inbox_options *opts);
/* Frees the inbox; updates still waiting stay in the store. Requests in
 * flight are abandoned (their callbacks, run later by the loop, do nothing). */
void inbox_free(inbox *ib);

/* Loads the updates a previous run stored and did not finish. Returns how
 * many, -1 on a storage error. Call once, first. */
int inbox_restore(inbox *ib);

/* The bot's username (getMe), without '@': commands in groups addressed
 * to another bot ("/help@OtherBot") are then skipped at arrival, like
 * kinds the bot does not handle. Copied; NULL or "" = not known (nothing
 * is skipped for it). */
void inbox_set_username(inbox *ib, const char *username);

/* Stores a getUpdates result as received (tg's result_raw: the bytes of a
 * JSON array of Update objects) in one durable transaction: each update is
 * stored as it came and parsed once, by itself, from its text
 * (tgu_parse_text; the parse is kept for the handler). *next_offset is
 * raised to 1 + the highest update_id seen (also for kinds the bot skips),
 * only when everything is stored. An item without an integer update_id
 * can be neither stored nor confirmed: it is counted (stats.no_id) and, when
 * it is the batch's first item and nothing after it moved the offset, the
 * offset (if known, > 0) goes one past the old one — the first item is the
 * oldest update Telegram still holds and nothing below it is unconfirmed,
 * so this drops that item and no other (repeated polls walk past a gap in
 * the ids one by one). Such items are logged once at WARN until a batch
 * comes without any. Returns the number of new updates, -1 when nothing
 * could be stored (do not confirm the offset), also when json is not an
 * array. */
int inbox_put_raw(inbox *ib, const char *json, size_t len, int64_t *next_offset);

/* The same for n updates' texts (each one JSON object; borrowed for the
 * call), e.g. the bodies the webhook received. Returns the number of new
 * updates, -1 when nothing could be stored (answer so that Telegram
 * delivers them again); otherwise every one is durable (stored, a
 * duplicate, a kind the bot skips, or dead-lettered as malformed). */
int inbox_put_updates(inbox *ib, const jscan_span *updates, int n, int64_t *next_offset);

/* Handles every update that may run now, in transactions of up to
 * batch_max, for at most run_budget_ms. Returns how many were handled,
 * dead-lettered or started waiting; -1 on a storage error (logged; the
 * updates stay in the inbox and are tried again). */
int inbox_run(inbox *ib);

/* Updates waiting (runnable, behind another, or waiting for an answer). */
size_t inbox_pending(const inbox *ib);
/* Updates whose action request is in flight. */
int inbox_waiting_io(const inbox *ib);
/* Whether some update could run now (inbox_run would do work). */
int inbox_runnable(const inbox *ib);
inbox_stats inbox_get_stats(const inbox *ib);

#endif

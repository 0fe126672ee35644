/*
 * store_handoff.h — the handoff tables (handoff.h says what they are for),
 * in the bot's database:
 *   managers(user_id PK, name, added)
 *   handoffs(id PK, user_id, chat_id, thread_id, status, opened, closed,
 *            closed_by, rating, tries)   status 'creating' | 'open' | 'closed';
 *                                        opened / closed unix seconds; rating
 *                                        1..5 or NULL; tries: createForumTopic
 *                                        attempts while 'creating'
 * At most one open and one 'creating' handoff per user (unique indexes).
 *
 * Statements run in whatever transaction the store has open. One handle,
 * one thread; functions return 0 on success and -1 on a database error
 * (logged) unless said otherwise.
 */
#ifndef BOTC_STORE_HANDOFF_H
#define BOTC_STORE_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

typedef struct store_handoff store_handoff;

/* Creates or upgrades the tables and prepares the statements on st's
 * database (st must outlive the handle). NULL with the reason in err. */
store_handoff *store_handoff_open(store *st, char *err, size_t errlen);
void store_handoff_free(store_handoff *t);

/* ---- managers ------------------------------------------------------------ */

/* 1 when user_id has a managers row, 0 when not, -1 on error. */
int store_handoff_is_manager(store_handoff *t, int64_t user_id);
/* Inserts the manager (added now), or renames one. */
int store_handoff_add_manager(store_handoff *t, int64_t user_id, const char *name);
/* 1 removed, 0 was not a manager, -1 on error. */
int store_handoff_del_manager(store_handoff *t, int64_t user_id);
/* Calls fn for every manager in user_id order (name borrowed for the
 * call); fn returns non-zero to stop (-1 returned). The number of rows,
 * -1 on error. */
typedef int (*store_manager_fn)(void *ud, int64_t user_id, const char *name);
int store_handoff_list_managers(store_handoff *t, store_manager_fn fn, void *ud);

/* ---- handoffs ------------------------------------------------------------ */

typedef struct store_handoff_row {
    int64_t id, user_id, chat_id, thread_id;
    bool open;              /* status 'open' (else 'closed') */
    int64_t opened, closed; /* unix seconds; closed 0 while open */
    int rating;             /* 1..5, 0 = none */
} store_handoff_row;

/* The user's open handoff / the newest open one of topic thread_id / the
 * one with this id: 1 found (into *out, which may be NULL), 0 none, -1. */
int store_handoff_find_open(store_handoff *t, int64_t user_id, store_handoff_row *out);
int store_handoff_find_thread(store_handoff *t, int64_t thread_id, store_handoff_row *out);
int store_handoff_find_id(store_handoff *t, int64_t id, store_handoff_row *out);
/* Inserts an open handoff, opened now; *id (may be NULL) gets its id. */
int store_handoff_insert(store_handoff *t, int64_t user_id, int64_t chat_id, int64_t thread_id,
                         int64_t *id);
/* Closes open handoff id now, by user `by`: 1 closed, 0 it was not open, -1. */
int store_handoff_close(store_handoff *t, int64_t id, int64_t by);
/* Sets the rating of closed, unrated handoff id of user_id: 1 set, 0 no
 * such handoff (not closed, another user's, rated before), -1. */
int store_handoff_rate(store_handoff *t, int64_t id, int64_t user_id, int rating);
/* Deletes every handoff row of the user (managers rows stay). */
int store_handoff_forget(store_handoff *t, int64_t user_id);
/* Appends the user's handoffs ({"id", "chat_id", "thread_id", "status",
 * "opened", "closed", "closed_by", "rating"}, in id order) to the array
 * handoffs, and their managers row ({"name", "added"}), if any, to the
 * array manager. */
struct cJSON;
int store_handoff_export(store_handoff *t, int64_t user_id, struct cJSON *handoffs,
                         struct cJSON *manager);

/* ---- topics being created ('creating' rows, see handoff.c) ----------------- */

typedef struct store_handoff_creating {
    int64_t id, thread_id; /* thread_id 0: no answer stored yet */
    int tries;
} store_handoff_creating;

/* The user's 'creating' row: 1 found (into *out), 0 none, -1. */
int store_handoff_find_creating(store_handoff *t, int64_t user_id, store_handoff_creating *out);
/* Before a createForumTopic goes out: the user's 'creating' row with one
 * try, or one more try on the row there. */
int store_handoff_mark_creating(store_handoff *t, int64_t user_id, int64_t chat_id);
/* Stores the thread id Telegram answered on the user's 'creating' row. */
int store_handoff_mark_thread(store_handoff *t, int64_t user_id, int64_t thread_id);
/* 'creating' row id becomes the open handoff of topic thread_id in chat_id,
 * opened now. */
int store_handoff_promote(store_handoff *t, int64_t id, int64_t thread_id, int64_t chat_id);
/* Deletes the user's 'creating' row. */
int store_handoff_unmark(store_handoff *t, int64_t user_id);

#endif

/*
 * store.h — SQLite storage of users, their variables and form records.
 *
 * States, forms and fields are stored BY NAME, so a database survives a new
 * version of the bot: a renamed state is found through the machine's moves,
 * a vanished one is listed by store_list_stale for bot_migrate.
 *
 * Schema (meta.schema_version = 4):
 *   meta(key PK, value)                 schema_version, shape_hash
 *   users(user_id PK, chat_id, lang, first_name, username, state, form,
 *         field, active, created, updated)
 *   vars(user_id, name, value, PK(user_id, name))
 *   records(id PK, user_id, form, json, created)
 *   handled(update_id PK, at)           Telegram updates already handled
 *   inbox(update_id PK, chat_id, json, at)        updates stored, not yet handled
 *   dead_letter(update_id PK, chat_id, json, reason, at, user_id)   updates given up
 *       on; user_id: the sender (0 when unknown); erased and exported with the
 *       user's data, pruned by age (store_dead_letter_prune)
 *   history(id PK, user_id, role, text, at, kind)   the recent conversation
 *                                       (store_history_*; at unix seconds;
 *                                       schema 3 added kind)
 *   outbox(id PK, chat_id, method, params, attempts, not_before)
 *                                       Bot API calls not yet accepted
 *                                       (not_before: unix ms, 0 = now)
 *   history and outbox ids are plain rowids (schema 4; AUTOINCREMENT
 *   before): a new row's id is above every row's in the table.
 *
 * Every statement is prepared once at open and uses bound parameters only.
 * The feature modules' tables live in the same database, each behind its
 * own file here (store_handoff.h, store_lead.h, store_feedback.h,
 * store_usage.h): only runtime/storage/ speaks SQL (ARCHITECTURE.md,
 * "Storage boundary").
 * Functions returning int give 0 on success and -1 on a database error
 * (logged) unless said otherwise. One store is used by one thread.
 */
#ifndef BOTC_STORE_H
#define BOTC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "dialogue/machine.h"

typedef struct store store;

/* Open or create the database at path (":memory:" works). NULL on failure
 * with the reason in err. The machine must outlive the store. */
store *store_open(const char *path, const bm_machine *m, char *err, size_t errlen);
void store_close(store *st);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. They nest: a begin inside an open
 * transaction opens a savepoint, and the matching commit / rollback
 * releases / rolls back only that savepoint. */
int store_begin(store *st);
int store_commit(store *st);
int store_rollback(store *st);
/* The database runs in WAL mode with synchronous=NORMAL: a commit survives
 * a crash of the process, and a power loss can undo the transactions
 * since the last WAL sync. store_set_durable(st, 1) switches to FULL (each
 * commit fsyncs the WAL) until store_set_durable(st, 0); call it outside a
 * transaction. Returns 0 or -1. */
int store_set_durable(store *st, int full);
/* 1 while a transaction is open. */
int store_in_transaction(const store *st);

/* Load user_id's session into *s, which the store initialises (free it with
 * bm_session_free). Names map back to indices through the machine: a state
 * it no longer has (and no move leads from) becomes the start state, an
 * unknown form or field drops the form, unknown variables are ignored.
 * Returns 1 when found, 0 when the user is unknown (*s untouched), -1 on
 * error. */
int store_load_session(store *st, int64_t user_id, bm_session *s);

/* Insert or update the user's row and variables. u may be NULL; its
 * first_name/username replace the stored ones when not NULL. */
int store_save_session(store *st, const bm_session *s, const bm_user *u);

int store_add_record(store *st, int64_t user_id, int form, const char *json);

/* Remember that Telegram update `update_id` is handled, inside the current
 * transaction, so that a redelivery after a crash is recognised by its exact
 * id (ids are not monotonic across idle periods). Returns 1 when the id is
 * new, 0 when it was handled before, -1 on error. Ids older than two days
 * are pruned. */
int store_mark_handled(store *st, int64_t update_id);

/* What the store holds about a user beyond the session. */
typedef struct store_user {
    int64_t user_id;
    int64_t chat_id;
    char *state;      /* stored state name */
    char *lang;       /* stored language code, may be NULL */
    char *first_name; /* may be NULL */
    char *username;   /* may be NULL */
} store_user;

/* Users whose stored state is not a state of the machine (by exact name).
 * *out is a malloc'd array (free with store_users_free). */
int store_list_stale(store *st, store_user **out, int *n);
void store_users_free(store_user *v, int n);

/* Erase every row about the user in the store's own tables: users, vars,
 * records, history. (The other modules erase theirs: bot_delete_user.) */
int store_delete_user(store *st, int64_t user_id);

/* What the store's own tables hold about the user, added to the object
 * root: "user": {...} | null, "variables": {...}, "records": [...],
 * "history": [{"role", "kind", "text", "at"}...] (oldest first).
 * 0, or -1 on error (root may then hold part of it). */
struct cJSON;
int store_export_into(store *st, int64_t user_id, struct cJSON *root);

/* store_export_into as pretty-printed JSON. malloc'd, NULL on error. */
char *store_export_user(store *st, int64_t user_id);


/* 1 if the user has a row, 0 if not, -1 on error. */
int store_user_exists(store *st, int64_t user_id);
/* Number of users, -1 on error. */
int store_count_users(store *st);

/* meta key/value. store_get_meta returns a malloc'd value or NULL when
 * absent (*found says which when not NULL; -1 error via return NULL and
 * *found = -1). */
char *store_get_meta(store *st, const char *key, int *found);
int store_set_meta(store *st, const char *key, const char *value);

/* ---- inbox: updates stored before their offset is confirmed ------------- */

/* Store Update `update_id` (its JSON text) for `chat_id` (0 when it has
 * none). Returns 1 when stored, 0 when the id is already waiting, handled
 * or dead-lettered (a redelivery), -1 on error. */
int store_inbox_put(store *st, int64_t update_id, int64_t chat_id, const char *json);
/* Remove the update from the inbox (in the transaction that handles it). */
int store_inbox_done(store *st, int64_t update_id);
/* Calls fn (NULL: just count) for every waiting update in update_id order;
 * json is borrowed for the call. fn returns 0 to go on, non-zero to stop (-1 returned).
 * Returns the number of rows seen, -1 on error. */
typedef int (*store_inbox_fn)(void *ud, int64_t update_id, int64_t chat_id, const char *json);
int store_inbox_load(store *st, store_inbox_fn fn, void *ud);
/* Record an update given up on with the reason, and take it out of the
 * inbox. A later redelivery of the id is a duplicate (store_inbox_put 0).
 * Returns 1 when recorded, 0 when the id was dead-lettered before (the
 * first reason is kept), -1 on error. */
int store_dead_letter(store *st, int64_t update_id, int64_t chat_id, const char *json,
                      const char *reason);

/* Removes the dead letters older than max_age_s seconds. Returns how many,
 * -1 on error. */
int store_dead_letter_prune(store *st, long max_age_s);

/* ---- outbox: Bot API calls persisted before they are made ---------------- */

/* Append a call; params is its JSON object text. *id gets the row id:
 * above every id in the table and every id this store gave before (even
 * of rows deleted since), so an id held in memory never names a new call. */
int store_outbox_add(store *st, int64_t chat_id, const char *method, const char *params,
                     int64_t *id);
/* Telegram accepted it (or it was given up): remove it. */
int store_outbox_delete(store *st, int64_t id);
/* New chat id / params (NULL keeps them) / retry state of a call. */
int store_outbox_update(store *st, int64_t id, int64_t chat_id, const char *params,
                        int attempts, int64_t not_before);
/* Remove every call to chat_id. Returns how many, -1 on error. */
int store_outbox_drop_chat(store *st, int64_t chat_id);

typedef struct store_outbox_row {
    int64_t id, chat_id;
    const char *method, *params; /* borrowed for the callback */
    int attempts;
    int64_t not_before;          /* unix ms, 0 = now */
} store_outbox_row;
/* Calls fn (NULL: just count) for every stored call in id (= queueing) order. fn returns 0 to
 * go on. Returns the number of rows, -1 on error. */
typedef int (*store_outbox_fn)(void *ud, const store_outbox_row *row);
int store_outbox_load(store *st, store_outbox_fn fn, void *ud);

/* users.active for the users of chat_id (0 after a 403: the bot is blocked;
 * a new message from them sets it back to 1). Returns rows changed, -1. */
int store_set_active(store *st, int64_t chat_id, int active);

/* ---- history: each user's recent conversation ----------------------------
 * The one message log: what the user wrote, what the bot sent, what an
 * operator wrote during a handoff. The handoff card shows all of it; the
 * model's context is the `ai` rows only (store_history_turns).
 *
 * role says who: "user", "bot" or "operator". kind says what it was part
 * of, so that menu traffic never reaches the model:
 *   STORE_HIST_MENU     the dialogue machine: commands, buttons, menus,
 *                       forms, offline answers (and their texts)
 *   STORE_HIST_AI       a turn with the model: the user's question and the
 *                       model's answer (only answers that reached the user)
 *   STORE_HIST_HANDOFF  relayed between the user and an operator
 * Capped: the newest STORE_HISTORY_MAX rows per user are kept, and beside
 * them the newest STORE_HISTORY_AI_KEEP `ai` rows, so a walk through the
 * menus does not push the conversation with the model out (at most 48
 * rows per user). Each text is cut to STORE_HISTORY_TEXT_MAX bytes (on a
 * UTF-8 boundary). store_delete_user erases them. */
#define STORE_HISTORY_MAX 40
#define STORE_HISTORY_AI_KEEP 8
#define STORE_HISTORY_TEXT_MAX 2000

typedef enum store_hist_kind {
    STORE_HIST_MENU = 0,
    STORE_HIST_AI,
    STORE_HIST_HANDOFF,
} store_hist_kind;

/* Append one message; role is "user", "bot" or "operator" (a static
 * string). An empty text is not stored. 0 or -1. The cap is not applied:
 * call store_history_trim once after the messages of one update (one
 * statement per update instead of one per message). */
int store_history_add(store *st, int64_t user_id, const char *role, store_hist_kind kind,
                      const char *text);
/* Applies the cap above to the user's rows. 0 or -1. */
int store_history_trim(store *st, int64_t user_id);
/* The same, done only once the user added about 8 rows since the last
 * (`added`: rows just added): the trim is the dearest statement of a
 * handled update, and the readers take the newest rows anyway. A user thus
 * holds at most some 8 rows over the cap. 0 or -1. */
int store_history_trim_due(store *st, int64_t user_id, int added);
/* Calls fn for the user's newest `max` messages of every kind, oldest
 * first (strings borrowed for the call; at = unix seconds). fn returns
 * non-zero to stop (-1 returned). Returns how many, -1 on error. */
typedef int (*store_history_fn)(void *ud, const char *role, const char *text, int64_t at);
int store_history_list(store *st, int64_t user_id, int max, store_history_fn fn, void *ud);
/* The same for the user's newest `max` STORE_HIST_AI rows only: the
 * conversation with the model, for its next request. */
int store_history_turns(store *st, int64_t user_id, int max, store_history_fn fn, void *ud);

/* Ends the user's conversation with the model (session_start): their
 * STORE_HIST_AI rows become "ai_closed", kept (the operator's view, the
 * export) but no longer the model's context. 0 or -1. */
int store_history_close_ai(store *st, int64_t user_id);

/* Calls fn for the user's newest `max` form records, newest first (json is
 * the record's object text, created an ISO time; borrowed). Same return
 * contract as store_history_list. */
typedef int (*store_record_fn)(void *ud, int64_t id, const char *form, const char *json,
                               const char *created);
int store_list_records(store *st, int64_t user_id, int max, store_record_fn fn, void *ud);

#endif

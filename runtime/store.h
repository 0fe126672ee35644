/*
 * store.h — SQLite storage of users, their variables and form records.
 *
 * States, forms and fields are stored BY NAME, so a database survives a new
 * version of the bot: a renamed state is found through the machine's moves,
 * a vanished one is listed by store_list_stale for bot_migrate.
 *
 * Schema (meta.schema_version = 1):
 *   meta(key PK, value)                 schema_version, shape_hash
 *   users(user_id PK, chat_id, lang, first_name, username, state, form,
 *         field, active, created, updated)
 *   vars(user_id, name, value, PK(user_id, name))
 *   records(id PK, user_id, form, json, created)
 *   handled(update_id PK, at)           Telegram updates already handled
 *
 * Every statement is prepared once at open and uses bound parameters only.
 * Functions returning int give 0 on success and -1 on a database error
 * (logged) unless said otherwise. One store is used by one thread.
 */
#ifndef BOTC_STORE_H
#define BOTC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "machine.h"

typedef struct store store;

/* Open or create the database at path (":memory:" works). NULL on failure
 * with the reason in err. The machine must outlive the store. */
store *store_open(const char *path, const bm_machine *m, char *err, size_t errlen);
void store_close(store *st);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int store_begin(store *st);
int store_commit(store *st);
int store_rollback(store *st);

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

/* Erase every row about the user. */
int store_delete_user(store *st, int64_t user_id);

/* Everything stored about the user as pretty-printed JSON:
 * {"user": {...} | null, "variables": {...}, "records": [...]}.
 * Returns a malloc'd string, NULL on error. */
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

#endif

/*
 * store_session.h — the AI sessions (actions/session.h says what they are
 * for), in the bot's database:
 *   sessions(id PK, user_id, chat_id, title, opened, at, closed, turns, summary)
 *       opened / at (the last turn) / closed: unix seconds; closed NULL
 *       while the session is open (a user has at most one open session);
 *       turns: the user's questions answered in it
 *   session_turns(id PK, session_id, user_id, role, text, at)
 *       what the user asked ("user") and the model answered ("assistant"),
 *       the model's context while the session is open; the newest
 *       STORE_SESSION_TURNS_KEEP per session are kept, each text cut to
 *       STORE_SESSION_TEXT_MAX bytes (on a UTF-8 boundary)
 *
 * Statements run in whatever transaction the store has open. One handle,
 * one thread; functions return 0 on success and -1 on a database error
 * (logged) unless said otherwise. Every lookup is scoped to the user: a
 * session id of another user is "no such session".
 */
#ifndef BOTC_STORE_SESSION_H
#define BOTC_STORE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

#define STORE_SESSION_TURNS_KEEP 40
#define STORE_SESSION_TEXT_MAX 4000
#define STORE_SESSION_TITLE_MAX 96 /* bytes of the first question's first line kept as the title */

typedef struct store_session store_session;

/* One session row; strings borrowed for the call that gives it. */
typedef struct store_session_row {
    int64_t id, user_id, chat_id;
    const char *title;   /* "" until the first question */
    int64_t opened, at;  /* unix seconds */
    int64_t closed;      /* unix seconds, 0 while open */
    int turns;
    const char *summary; /* "" while open or when none */
} store_session_row;

/* Creates the tables when missing and prepares the statements on st's
 * database (st must outlive the handle). NULL with the reason in err. */
store_session *store_session_open(store *st, char *err, size_t errlen);
void store_session_free(store_session *ss);

/* Opens a new session for the user, now (the caller closed any open one
 * first); *id gets its id. */
int store_session_start(store_session *ss, int64_t user_id, int64_t chat_id, int64_t *id);
/* The user's open session into *row, its title copied into `title`
 * (STORE_SESSION_TITLE_MAX + 1 bytes; summary left ""): 1 found, 0 none
 * open, -1. */
int store_session_current(store_session *ss, int64_t user_id, store_session_row *row,
                          char *title);
/* Appends a turn (role "user" or "assistant", a static string) to the
 * user's session id, now: "user" counts a turn and, for the first, names
 * the session after its text; the session's `at` moves to now. */
int store_session_add_turn(store_session *ss, int64_t user_id, int64_t id, const char *role,
                           const char *text);
/* Calls fn for the newest `max` turns of the user's session id, oldest
 * first (strings borrowed for the call); fn returns non-zero to stop (-1
 * returned). Returns how many, -1 on error. */
typedef int (*store_session_turn_fn)(void *ud, const char *role, const char *text);
int store_session_turns(store_session *ss, int64_t user_id, int64_t id, int max,
                        store_session_turn_fn fn, void *ud);
/* Closes the user's session id with its summary (may be ""), now, when it
 * is open and, if at_seen is not 0, untouched since at_seen (a turn added
 * meanwhile keeps it open). 1 closed, 0 not (no such open session), -1. */
int store_session_close(store_session *ss, int64_t user_id, int64_t id, const char *summary,
                        int64_t at_seen);
/* Deletes the user's session id and its turns (an empty session closed). */
int store_session_drop(store_session *ss, int64_t user_id, int64_t id);
/* Opens the user's closed session id again (its turns are the model's
 * context again; its summary stays until it closes anew): 1 reopened, 0
 * no such closed session, -1. The caller closed any open one first. */
int store_session_reopen(store_session *ss, int64_t user_id, int64_t id);
/* Calls fn for the user's newest `max` sessions with a turn (-1: all):
 * the open one first, then by last turn, newest first. Same return contract as store_session_turns. */
typedef int (*store_session_fn)(void *ud, const store_session_row *row);
int store_session_list(store_session *ss, int64_t user_id, int max, store_session_fn fn,
                       void *ud);
/* Calls fn for up to `max` open sessions (of any user) whose last turn is
 * before `before` (unix seconds), oldest first. Same return contract. */
int store_session_idle(store_session *ss, int64_t before, int max, store_session_fn fn,
                       void *ud);
/* Deletes the user's sessions and turns. */
int store_session_delete_user(store_session *ss, int64_t user_id);
/* Appends the user's sessions to arr, each {"id", "title", "opened", "at",
 * "closed", "turns", "summary", "turns_kept": [{"role", "text", "at"}]},
 * in id order. */
struct cJSON;
int store_session_export(store_session *ss, int64_t user_id, struct cJSON *arr);

#endif

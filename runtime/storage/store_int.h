/*
 * store_int.h — the inside of the storage files: the body of struct store,
 * the statement helpers they share, and the SQLite-only functions of
 * store_sqlite.c. Included by the files of runtime/storage/ only (and by
 * the tests' support code, to inspect a store's database); nothing above
 * storage/ sees SQLite.
 *
 * Helpers named store__ are internal to storage/ (libuv's uv__ tier).
 * Functions returning int give 0 (or a count) on success and -1 on a
 * database error, logged with SQLite's message, as in store.h.
 */
#ifndef BOTC_STORE_INT_H
#define BOTC_STORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "storage/store.h"

/* SQL for a dead letter's user from its update text J and chat id C (SQL
 * expressions): the sender of a message or a press when J is valid JSON,
 * else C when it is a private chat (C > 0), else 0. */
#define STORE_DEAD_USER_SQL(J, C)                                                          \
    "coalesce(CASE WHEN json_valid(" J ") THEN CAST(coalesce("                             \
    "json_extract(" J ", '$.message.from.id'), json_extract(" J ", '$.callback_query.from.id'), " \
    "json_extract(" J ", '$.edited_message.from.id')) AS INTEGER) END, "                   \
    "CASE WHEN " C " > 0 THEN " C " END, 0)"

/* store.c's statements, prepared once at open (store.c's queries[]). */
enum {
    Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
    Q_LOAD_USER, Q_LOAD_VARS, Q_SAVE_USER, Q_SET_VAR, Q_DEL_VAR,
    Q_ADD_RECORD, Q_ALL_USERS, Q_DEL_VARS, Q_DEL_RECORDS, Q_DEL_USER,
    Q_EXPORT_USER, Q_EXPORT_RECORDS, Q_EXISTS, Q_COUNT, Q_GET_META, Q_SET_META,
    Q_MARK_HANDLED, Q_PRUNE_HANDLED,
    Q_SAVEPOINT, Q_RELEASE, Q_ROLLBACK_TO,
    Q_INBOX_PUT, Q_INBOX_DONE, Q_INBOX_LOAD, Q_DEAD_LETTER,
    Q_OUTBOX_ADD, Q_OUTBOX_MAX, Q_OUTBOX_DEL, Q_OUTBOX_UPDATE, Q_OUTBOX_DROP_CHAT, Q_OUTBOX_LOAD,
    Q_SET_ACTIVE,
    Q_HIST_ADD, Q_HIST_PRUNE, Q_HIST_LIST, Q_HIST_TURNS, Q_HIST_DEL, Q_LIST_RECORDS,
    Q_EXPORT_HIST, Q_HIST_CLOSE_AI,
    Q_DEAD_DEL, Q_DEAD_EXPORT, Q_DEAD_PRUNE,
    Q_COUNT_ALL
};

#define STORE_TRIM_SLOTS 1024 /* users remembered by store_history_trim_due */
#define STORE_TRIM_EVERY 8    /* rows a user adds between trims */

struct store {
    sqlite3 *db;
    /* Rows added per user since their last trim (store_history_trim_due);
     * a slot taken by another user means "trim now". */
    struct { int64_t user; int added; } trim_due[STORE_TRIM_SLOTS];
    /* The clock of every statement, bound from here (store__now): SQLite's
     * strftime costs more than the rest of a hot insert, and a time bound
     * from C reads the same in any database. Formatted once a second. */
    time_t now_s;
    char now_iso[24];   /* YYYY-MM-DDTHH:MM:SSZ */
    const bm_machine *m;
    sqlite3_stmt *q[Q_COUNT_ALL];
    int depth; /* store_begin nesting: 1 = the transaction, more = savepoints */
    /* The newest outbox id given out: store_outbox_add never gives one
     * twice, though a row deleted as the newest leaves max(id) lower. */
    int64_t outbox_last;
    /* The variables as the last store_load_session read them, so that the
     * save right after it writes only those that changed (a step touches
     * few of them). Valid from a load until the next save or rollback. */
    bool snap_valid;
    int64_t snap_user;
    char *snap_buf;    /* the values, NUL-terminated, back to back */
    size_t snap_len, snap_cap;
    size_t *snap_off;  /* per variable: offset in snap_buf, SIZE_MAX = absent */
};

/* ---- statement helpers (store.c) ------------------------------------------ */

/* The wall clock in unix seconds; st->now_iso holds it as text after. */
time_t store__now(store *st);
/* Logs "what: <SQLite's message>"; returns -1. */
int store__fail(store *st, const char *what);
/* s reset and its bindings cleared, for a new use. */
sqlite3_stmt *store__reset(sqlite3_stmt *s);
/* Steps s, which returns no row, and resets it. The rows it changed, or
 * -1 (logged as what). */
int store__run(store *st, sqlite3_stmt *s, const char *what);

/* A statement of a storage file and the handle it is prepared into. */
typedef struct store__sql {
    sqlite3_stmt **stmt;
    const char *sql;
} store__sql;
/* Prepares every q[i] once, for the life of the statement (the caller
 * finalizes them with store__finalize_all). 0, or -1 with SQLite's reason
 * in err after `what`. */
int store__prepare_all(store *st, const store__sql *q, size_t n, const char *what, char *err,
                       size_t errlen);
void store__finalize_all(const store__sql *q, size_t n);

/* Appends every row of s (bound by the caller; reset here) to arr as an
 * object keyed by column name: integers as numbers (times in unix seconds
 * as ISO-8601 UTC text), text as strings, NULL as null. The number of
 * rows, -1 on error. For the exports (export_data). */
struct cJSON;
int store__json_rows(store *st, sqlite3_stmt *s, struct cJSON *arr);

/* ---- SQLite only (store_sqlite.c) --------------------------------------------
 * What no other database understands: the connection's pragmas, BEGIN
 * IMMEDIATE, the schema (its column types, rowid tables, partial indexes)
 * and the upgrades of old databases, which read sqlite_master and
 * pragma_table_info. A PostgreSQL driver is a file beside this one. */

/* BEGIN IMMEDIATE: the write lock taken at begin, not at the first write. */
extern const char store__sqlite_begin[];
/* Opens st->db at path with the pragmas of store.h (WAL, synchronous,
 * foreign keys, page cache). 0, or -1 with the reason in err. */
int store__sqlite_open(store *st, const char *path, char *err, size_t errlen);
/* synchronous = FULL (full) or NORMAL. 0 or -1. */
int store__sqlite_synchronous(store *st, int full);
/* Creates store.c's tables and upgrades an older schema, inside the open
 * transaction. 0, or -1 with the reason in err. */
int store__sqlite_schema(store *st, const char *path, char *err, size_t errlen);
/* The tables of store_handoff.c, store_lead.c (group: the managers' group
 * that named topics of an older table belong to), store_feedback.c and
 * store_usage.c, created or upgraded. 0, or -1 with the reason in err. */
int store__sqlite_handoff_schema(store *st, char *err, size_t errlen);
int store__sqlite_lead_schema(store *st, int64_t group, char *err, size_t errlen);
int store__sqlite_feedback_schema(store *st, char *err, size_t errlen);
int store__sqlite_usage_schema(store *st, char *err, size_t errlen);
/* The tables of store_session.c. 0, or -1 with the reason in err. */
int store__sqlite_session_schema(store *st, char *err, size_t errlen);
int store__sqlite_tool_calls_schema(store *st, char *err, size_t errlen);
/* The table of store_vectors.c, created. 0, or -1 with the reason in err. */
int store__sqlite_vectors_schema(store *st, char *err, size_t errlen);
/* The tables of store_memory.c, created. 0, or -1 with the reason in err. */
int store__sqlite_memory_schema(store *st, char *err, size_t errlen);

#endif

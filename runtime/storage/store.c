/*
 * store.c — see store.h.
 */
#include "storage/store.h"

#include <cJSON.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

#define STORE_SCHEMA_VERSION 4
#define STORE_CACHE_KIB "512" /* the page cache (PRAGMA cache_size), see store_open */
#define NOW "strftime('%Y-%m-%dT%H:%M:%SZ','now')"

/* The two hot append-only tables. Their ids are plain rowids (schema 4;
 * AUTOINCREMENT before): SQLite gives a new row max(id) + 1, so a new row
 * still sorts after every row it has, which is all the readers need (a
 * user's turns, a chat's calls in id order); AUTOINCREMENT only added that
 * an id is never given twice even after the newest row went, at the price
 * of reading and rewriting sqlite_sequence on every insert (a page more
 * per commit). The one place that needs never-twice, the outbox ids the
 * outq keeps in memory, gets it from store_outbox_add. */
#define OUTBOX_COLS \
    "(id INTEGER PRIMARY KEY," \
    "  chat_id INTEGER NOT NULL," \
    "  method TEXT NOT NULL," \
    "  params TEXT NOT NULL," \
    "  attempts INTEGER NOT NULL DEFAULT 0," \
    "  not_before INTEGER NOT NULL DEFAULT 0)"
#define HISTORY_COLS \
    "(id INTEGER PRIMARY KEY," \
    "  user_id INTEGER NOT NULL," \
    "  role TEXT NOT NULL," \
    "  text TEXT NOT NULL," \
    "  at INTEGER NOT NULL," \
    "  kind TEXT NOT NULL DEFAULT 'menu')"

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS meta("
    "  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS users("
    "  user_id INTEGER PRIMARY KEY,"
    "  chat_id INTEGER NOT NULL,"
    "  lang TEXT,"
    "  first_name TEXT,"
    "  username TEXT,"
    "  state TEXT NOT NULL,"
    "  form TEXT,"
    "  field TEXT,"
    "  active INTEGER NOT NULL DEFAULT 1,"
    "  created TEXT NOT NULL,"
    "  updated TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS vars("
    "  user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY(user_id, name)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS records("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,"
    "  form TEXT NOT NULL,"
    "  json TEXT NOT NULL,"
    "  created TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS records_user ON records(user_id);"
    "CREATE TABLE IF NOT EXISTS handled("
    "  update_id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL);"
    /* the prune (Q_PRUNE_HANDLED) finds old marks by time: without this it
     * read two days of update ids every 1,024 updates */
    "CREATE INDEX IF NOT EXISTS handled_at ON handled(at);"
    /* schema 2: the durable inbox and outbox (see store.h) */
    "CREATE TABLE IF NOT EXISTS inbox("
    "  update_id INTEGER PRIMARY KEY,"
    "  chat_id INTEGER NOT NULL,"
    "  json TEXT NOT NULL,"
    "  at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS dead_letter("
    "  update_id INTEGER PRIMARY KEY,"
    "  chat_id INTEGER NOT NULL,"
    "  json TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS outbox" OUTBOX_COLS ";"
    /* the recent conversation of each user (store_history_*) */
    "CREATE TABLE IF NOT EXISTS history" HISTORY_COLS ";"
    "CREATE INDEX IF NOT EXISTS history_user ON history(user_id, id);";

/* Schema 2 -> 3: history gains `kind` (its rows were all dialogue traffic
 * as far as anyone can tell: 'menu'), and the model's own log, the
 * llm_history table of the first online-LLM build, goes: its turns are in
 * history too, only not marked, so a user's next question after the
 * upgrade reaches the model without the earlier ones. */
static const char *const upgrade3_sql =
    "ALTER TABLE history ADD COLUMN kind TEXT NOT NULL DEFAULT 'menu';";
static const char *const drop_llm_history_sql = "DROP TABLE IF EXISTS llm_history;";

/* Schema 3 -> 4: outbox and history lose AUTOINCREMENT (see OUTBOX_COLS).
 * A table's declaration cannot change in place: each is copied, ids kept,
 * into one declared anew, inside the open transaction. */
static const char *const upgrade4_sql =
    "CREATE TABLE outbox_v4" OUTBOX_COLS ";"
    "INSERT INTO outbox_v4(id, chat_id, method, params, attempts, not_before)"
    " SELECT id, chat_id, method, params, attempts, not_before FROM outbox;"
    "DROP TABLE outbox;"
    "ALTER TABLE outbox_v4 RENAME TO outbox;"
    "CREATE TABLE history_v4" HISTORY_COLS ";"
    "INSERT INTO history_v4(id, user_id, role, text, at, kind)"
    " SELECT id, user_id, role, text, at, kind FROM history;"
    "DROP TABLE history;" /* and its index */
    "ALTER TABLE history_v4 RENAME TO history;"
    "CREATE INDEX history_user ON history(user_id, id);"
    "DELETE FROM sqlite_sequence WHERE name IN ('outbox', 'history');";

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
    Q_COUNT_ALL
};

static const char *const queries[Q_COUNT_ALL] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_LOAD_USER] = "SELECT chat_id, lang, state, form, field FROM users WHERE user_id = ?1",
    [Q_LOAD_VARS] = "SELECT name, value FROM vars WHERE user_id = ?1",
    [Q_SAVE_USER] =
        "INSERT INTO users(user_id, chat_id, lang, first_name, username, state, form,"
        " field, active, created, updated)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?9)"
        " ON CONFLICT(user_id) DO UPDATE SET chat_id = excluded.chat_id,"
        " lang = excluded.lang,"
        " first_name = COALESCE(excluded.first_name, users.first_name),"
        " username = COALESCE(excluded.username, users.username),"
        " state = excluded.state, form = excluded.form, field = excluded.field,"
        " active = 1, updated = excluded.updated",
    [Q_SET_VAR] = "INSERT INTO vars(user_id, name, value) VALUES(?1, ?2, ?3)"
                  " ON CONFLICT(user_id, name) DO UPDATE SET value = excluded.value",
    [Q_DEL_VAR] = "DELETE FROM vars WHERE user_id = ?1 AND name = ?2",
    [Q_ADD_RECORD] = "INSERT INTO records(user_id, form, json, created)"
                     " VALUES(?1, ?2, ?3, " NOW ")",
    [Q_ALL_USERS] = "SELECT user_id, chat_id, state, lang, first_name, username"
                    " FROM users ORDER BY user_id",
    [Q_DEL_VARS] = "DELETE FROM vars WHERE user_id = ?1",
    [Q_DEL_RECORDS] = "DELETE FROM records WHERE user_id = ?1",
    [Q_DEL_USER] = "DELETE FROM users WHERE user_id = ?1",
    [Q_EXPORT_USER] = "SELECT user_id, chat_id, lang, first_name, username, state, form,"
                      " field, active, created, updated FROM users WHERE user_id = ?1",
    [Q_EXPORT_RECORDS] = "SELECT id, form, json, created FROM records"
                         " WHERE user_id = ?1 ORDER BY id",
    [Q_EXISTS] = "SELECT 1 FROM users WHERE user_id = ?1",
    [Q_COUNT] = "SELECT count(*) FROM users",
    [Q_GET_META] = "SELECT value FROM meta WHERE key = ?1",
    [Q_SET_META] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
                   " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [Q_MARK_HANDLED] = "INSERT OR IGNORE INTO handled(update_id, at) VALUES(?1, ?2)",
    /* Telegram keeps an update for 24 hours; two days covers any redelivery */
    [Q_PRUNE_HANDLED] = "DELETE FROM handled WHERE at < ?1 - 172800",
    [Q_SAVEPOINT] = "SAVEPOINT nested",
    [Q_RELEASE] = "RELEASE nested",
    [Q_ROLLBACK_TO] = "ROLLBACK TO nested",
    /* new only when neither waiting, handled nor dead: exact ids, never "<= max" */
    [Q_INBOX_PUT] = "INSERT OR IGNORE INTO inbox(update_id, chat_id, json, at)"
                    " SELECT ?1, ?2, ?3, ?4"
                    " WHERE NOT EXISTS (SELECT 1 FROM handled WHERE update_id = ?1)"
                    " AND NOT EXISTS (SELECT 1 FROM dead_letter WHERE update_id = ?1)",
    [Q_INBOX_DONE] = "DELETE FROM inbox WHERE update_id = ?1",
    [Q_INBOX_LOAD] = "SELECT update_id, chat_id, json FROM inbox ORDER BY update_id",
    [Q_DEAD_LETTER] = "INSERT OR IGNORE INTO dead_letter(update_id, chat_id, json, reason, at)"
                      " VALUES(?1, ?2, ?3, ?4, ?5)",
    /* ?4: the id, from store_outbox_add; taken already: no row, no error */
    [Q_OUTBOX_ADD] = "INSERT INTO outbox(id, chat_id, method, params, attempts, not_before)"
                     " VALUES(?4, ?1, ?2, ?3, 0, 0) ON CONFLICT(id) DO NOTHING",
    [Q_OUTBOX_MAX] = "SELECT coalesce(max(id), 0) FROM outbox",
    [Q_OUTBOX_DEL] = "DELETE FROM outbox WHERE id = ?1",
    [Q_OUTBOX_UPDATE] = "UPDATE outbox SET chat_id = ?2, params = COALESCE(?3, params),"
                        " attempts = ?4, not_before = ?5 WHERE id = ?1",
    [Q_OUTBOX_DROP_CHAT] = "DELETE FROM outbox WHERE chat_id = ?1",
    [Q_OUTBOX_LOAD] = "SELECT id, chat_id, method, params, attempts, not_before"
                      " FROM outbox ORDER BY id",
    [Q_SET_ACTIVE] = "UPDATE users SET active = ?2, updated = " NOW " WHERE chat_id = ?1",
    [Q_HIST_ADD] = "INSERT INTO history(user_id, role, text, at, kind)"
                   " VALUES(?1, ?2, ?3, ?5, ?4)",
    /* keep the newest ?2 rows of the user, and the newest ?3 'ai' rows
     * (an id below a missing offset row compares NULL: kept) */
    [Q_HIST_PRUNE] = "DELETE FROM history WHERE user_id = ?1 AND id <="
                     " (SELECT id FROM history WHERE user_id = ?1 ORDER BY id DESC"
                     " LIMIT 1 OFFSET ?2)"
                     " AND (kind <> 'ai' OR id <= (SELECT id FROM history"
                     " WHERE user_id = ?1 AND kind = 'ai' ORDER BY id DESC LIMIT 1 OFFSET ?3))",
    [Q_HIST_LIST] = "SELECT role, text, at FROM (SELECT id, role, text, at FROM history"
                    " WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id",
    [Q_HIST_TURNS] = "SELECT role, text, at FROM (SELECT id, role, text, at FROM history"
                     " WHERE user_id = ?1 AND kind = 'ai' ORDER BY id DESC LIMIT ?2)"
                     " ORDER BY id",
    [Q_EXPORT_HIST] = "SELECT role, kind, text, at FROM history WHERE user_id = ?1 ORDER BY id",
    [Q_HIST_CLOSE_AI] = "UPDATE history SET kind = 'ai_closed' WHERE user_id = ?1 AND kind = 'ai'",
    [Q_HIST_DEL] = "DELETE FROM history WHERE user_id = ?1",
    [Q_LIST_RECORDS] = "SELECT id, form, json, created FROM records"
                       " WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
};

#define STORE_TRIM_SLOTS 1024 /* users remembered by store_history_trim_due */
#define STORE_TRIM_EVERY 8    /* rows a user adds between trims */

struct store {
    sqlite3 *db;
    /* Rows added per user since their last trim (store_history_trim_due);
     * a slot taken by another user means "trim now". */
    struct { int64_t user; int added; } trim_due[STORE_TRIM_SLOTS];
    /* The clock of the hot statements, bound from here: SQLite's strftime
     * costs more than the rest of such an insert. Formatted once a second. */
    time_t now_s;
    char now_iso[24];   /* YYYY-MM-DDTHH:MM:SSZ, as the NOW macro writes */
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

/* The wall clock, in seconds and as NOW's text. */
static time_t clock_now(store *st)
{
    time_t t = time(NULL);
    if (t != st->now_s) {
        struct tm tm;
        st->now_s = t;
        if (!gmtime_r(&t, &tm) ||
            !strftime(st->now_iso, sizeof st->now_iso, "%Y-%m-%dT%H:%M:%SZ", &tm))
            st->now_iso[0] = '\0';
    }
    return t;
}

/* Remembers vars (NULL: all absent) as user_id's stored variables. */
static void snap_take(store *st, int64_t user_id, char *const *vars)
{
    int n = st->m->n_vars;
    st->snap_valid = false;
    if (n <= 0)
        return;
    if (!st->snap_off && !(st->snap_off = malloc((size_t)n * sizeof *st->snap_off)))
        return;
    st->snap_len = 0;
    for (int i = 0; i < n; i++) {
        const char *v = vars ? vars[i] : NULL;
        if (!v) {
            st->snap_off[i] = SIZE_MAX;
            continue;
        }
        size_t l = strlen(v) + 1;
        if (st->snap_len + l > st->snap_cap) {
            size_t cap = st->snap_cap ? st->snap_cap : 256;
            while (cap < st->snap_len + l)
                cap *= 2;
            char *nb = realloc(st->snap_buf, cap);
            if (!nb)
                return; /* no snapshot: the save writes every variable */
            st->snap_buf = nb;
            st->snap_cap = cap;
        }
        memcpy(st->snap_buf + st->snap_len, v, l);
        st->snap_off[i] = st->snap_len;
        st->snap_len += l;
    }
    st->snap_user = user_id;
    st->snap_valid = true;
}

/* Whether variable i of user_id is stored with exactly value v (NULL =
 * absent), as far as the snapshot knows; false when it does not know. */
static bool snap_same(const store *st, int64_t user_id, int i, const char *v)
{
    if (!st->snap_valid || st->snap_user != user_id)
        return false;
    size_t off = st->snap_off[i];
    if (off == SIZE_MAX || !v)
        return off == SIZE_MAX && !v;
    return strcmp(st->snap_buf + off, v) == 0;
}

static int fail(store *st, const char *what)
{
    log_error("store", "%s: %s", what, sqlite3_errmsg(st->db));
    return -1;
}

/* Reset and clear a kept statement before use. */
static sqlite3_stmt *stmt(store *st, int q)
{
    sqlite3_stmt *s = st->q[q];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* Run a statement that returns no rows. */
static int exec_done(store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail(st, what);
    return 0;
}

static void bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static char *col_dup(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? strdup((const char *)t) : NULL;
}

/* SQLite's defaults serialize every call and keep allocation statistics
 * behind a global mutex; a store is used by one thread at a time, and
 * nothing reads the statistics. This must run before SQLite initializes
 * (the first open anywhere); later it is refused, harmlessly. */
static void configure_sqlite(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int outbox_seed(store *st);

store *store_open(const char *path, const bm_machine *m, char *err, size_t errlen)
{
    configure_sqlite();
    store *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->m = m;
    /* NOMUTEX: one connection, one thread at a time (store.h) */
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path,
                 st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto bad;
    }
    sqlite3_busy_timeout(st->db, 5000);
    char *msg = NULL;
    /* WAL: readers never block the writer; NORMAL sync is durable across
     * application crashes, which is what WAL needs. The page cache is
     * 512 KiB, not SQLite's 2 MB: a handled update touches a few pages
     * near the tails of its tables, and a page the cache dropped is read
     * back from the OS's cache (the menu benchmark: the same instructions,
     * 7% more preads, 1.1 MB less private memory). */
    if (sqlite3_exec(st->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     " PRAGMA foreign_keys=ON; PRAGMA cache_size=-" STORE_CACHE_KIB ";",
                     NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        goto bad;
    }
    if (sqlite3_exec(st->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: schema: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        goto bad;
    }
    /* a schema 2 database: history without kind (CREATE IF NOT EXISTS kept it) */
    sqlite3_stmt *probe = NULL;
    bool has_kind = sqlite3_prepare_v2(st->db, "SELECT kind FROM history LIMIT 0", -1, &probe,
                                       NULL) == SQLITE_OK;
    sqlite3_finalize(probe);
    if ((!has_kind && sqlite3_exec(st->db, upgrade3_sql, NULL, NULL, &msg) != SQLITE_OK) ||
        sqlite3_exec(st->db, drop_llm_history_sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: schema 3: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        goto bad;
    }
    if (!has_kind)
        log_info("store", "%s: upgraded to schema 3 (history.kind)", path);
    /* a schema 3 database: outbox and history declared AUTOINCREMENT */
    bool autoinc = false;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM sqlite_master WHERE name IN ('outbox',"
                           " 'history') AND sql LIKE '%AUTOINCREMENT%'", -1, &probe,
                           NULL) == SQLITE_OK)
        autoinc = sqlite3_step(probe) == SQLITE_ROW;
    sqlite3_finalize(probe);
    if (autoinc) {
        if (sqlite3_exec(st->db, upgrade4_sql, NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "%s: schema 4: %s", path, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            goto bad;
        }
        log_info("store", "%s: upgraded to schema 4 (outbox and history ids without "
                 "AUTOINCREMENT)", path);
    }
    for (int i = 0; i < Q_COUNT_ALL; i++) {
        if (sqlite3_prepare_v3(st->db, queries[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &st->q[i], NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: prepare: %s", path, sqlite3_errmsg(st->db));
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            goto bad;
        }
    }
    if (outbox_seed(st)) {
        snprintf(err, errlen, "%s: cannot read the outbox", path);
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        goto bad;
    }
    int found = 0;
    char *ver = store_get_meta(st, "schema_version", &found);
    if (found < 0) {
        snprintf(err, errlen, "%s: cannot read schema version", path);
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        goto bad;
    }
    if (ver && atoi(ver) > STORE_SCHEMA_VERSION) {
        snprintf(err, errlen, "%s: schema version %s is newer than this build (%d)",
                 path, ver, STORE_SCHEMA_VERSION);
        free(ver);
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        goto bad;
    }
    free(ver);
    char vbuf[16];
    snprintf(vbuf, sizeof vbuf, "%d", STORE_SCHEMA_VERSION);
    if (store_set_meta(st, "schema_version", vbuf) ||
        sqlite3_exec(st->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot write schema version", path);
        sqlite3_free(msg);
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        goto bad;
    }
    return st;
bad:
    store_close(st);
    return NULL;
}

void store_close(store *st)
{
    if (!st)
        return;
    for (int i = 0; i < Q_COUNT_ALL; i++)
        sqlite3_finalize(st->q[i]);
    sqlite3_close(st->db);
    free(st->snap_buf);
    free(st->snap_off);
    free(st);
}

/* Nesting: the outermost begin opens the transaction, inner ones a
 * savepoint, so a batch of updates commits once while each update's
 * failure rolls back only its own changes. */
int store_begin(store *st)
{
    if (st->depth > 0 && sqlite3_get_autocommit(st->db))
        st->depth = 0; /* SQLite rolled the transaction back itself */
    int rc = exec_done(st, stmt(st, st->depth ? Q_SAVEPOINT : Q_BEGIN),
                       st->depth ? "savepoint" : "begin");
    if (rc == 0)
        st->depth++;
    return rc;
}

int store_commit(store *st)
{
    if (st->depth > 1) {
        st->depth--;
        return exec_done(st, stmt(st, Q_RELEASE), "release savepoint");
    }
    st->depth = 0;
    return exec_done(st, stmt(st, Q_COMMIT), "commit");
}

int store_rollback(store *st)
{
    st->snap_valid = false; /* what it read may be undone */
    if (sqlite3_get_autocommit(st->db)) {
        st->depth = 0;
        return 0; /* nothing open (SQLite may have rolled back itself) */
    }
    if (st->depth > 1) {
        st->depth--;
        if (exec_done(st, stmt(st, Q_ROLLBACK_TO), "rollback to savepoint"))
            return -1;
        return exec_done(st, stmt(st, Q_RELEASE), "release savepoint");
    }
    st->depth = 0;
    return exec_done(st, stmt(st, Q_ROLLBACK), "rollback");
}

int store_set_durable(store *st, int full)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                     NULL, NULL, &msg) != SQLITE_OK) {
        log_error("store", "synchronous: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int store_in_transaction(const store *st)
{
    return !sqlite3_get_autocommit(st->db);
}

struct sqlite3 *store_sqlite(store *st)
{
    return st->db;
}

char *store_get_meta(store *st, const char *key, int *found)
{
    sqlite3_stmt *s = stmt(st, Q_GET_META);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    char *v = NULL;
    int f = 0;
    if (rc == SQLITE_ROW) {
        v = col_dup(s, 0);
        f = v ? 1 : -1;
    } else if (rc != SQLITE_DONE) {
        fail(st, "get meta");
        f = -1;
    }
    sqlite3_reset(s);
    if (found)
        *found = f;
    return v;
}

int store_set_meta(store *st, const char *key, const char *value)
{
    sqlite3_stmt *s = stmt(st, Q_SET_META);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    return exec_done(st, s, "set meta");
}

static int lang_index(const bm_machine *m, const char *code)
{
    if (code)
        for (int i = 0; i < m->n_langs; i++)
            if (!strcmp(m->langs[i], code))
                return i;
    return m->default_lang;
}

static int field_by_name(const bm_machine *m, int form, const char *name)
{
    if (form < 0 || !name)
        return BM_NONE;
    const bm_form *F = &m->forms[form];
    for (int i = 0; i < F->n_fields; i++)
        if (!strcmp(m->fields[F->first_field + i].name, name))
            return i;
    return BM_NONE;
}

int store_load_session(store *st, int64_t user_id, bm_session *out)
{
    const bm_machine *m = st->m;
    sqlite3_stmt *s = stmt(st, Q_LOAD_USER);
    sqlite3_bind_int64(s, 1, user_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s);
        snap_take(st, user_id, NULL); /* no user row: no vars rows (foreign key) */
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        return fail(st, "load user");
    }
    bm_session ss;
    if (bm_session_init(m, &ss, NULL)) {
        sqlite3_reset(s);
        return -1;
    }
    ss.user_id = user_id;
    ss.chat_id = sqlite3_column_int64(s, 0);
    ss.lang = lang_index(m, (const char *)sqlite3_column_text(s, 1));
    int state = bm_state_by_name(m, (const char *)sqlite3_column_text(s, 2));
    ss.state = state >= 0 ? state : m->start_state;
    int form = bm_form_by_name(m, (const char *)sqlite3_column_text(s, 3));
    int field = field_by_name(m, form, (const char *)sqlite3_column_text(s, 4));
    if (form >= 0 && field >= 0) {
        ss.form = form;
        ss.field = field;
    }
    ss.is_new = false;
    sqlite3_reset(s);

    s = stmt(st, Q_LOAD_VARS);
    sqlite3_bind_int64(s, 1, user_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int v = bm_var_by_name(m, (const char *)sqlite3_column_text(s, 0));
        if (v < 0)
            continue;
        char *val = col_dup(s, 1);
        if (!val) {
            rc = SQLITE_NOMEM;
            break;
        }
        free(ss.vars[v]);
        ss.vars[v] = val;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        bm_session_free(m, &ss);
        return fail(st, "load vars");
    }
    snap_take(st, user_id, ss.vars);
    *out = ss;
    return 1;
}

int store_save_session(store *st, const bm_session *ss, const bm_user *u)
{
    const bm_machine *m = st->m;
    if (ss->state < 0 || ss->state >= m->n_states) {
        log_error("store", "save: user %lld has no valid state", (long long)ss->user_id);
        return -1;
    }
    const char *form = NULL, *field = NULL;
    if (ss->form >= 0 && ss->form < m->n_forms && ss->field >= 0 &&
        ss->field < m->forms[ss->form].n_fields) {
        form = m->forms[ss->form].name;
        field = m->fields[m->forms[ss->form].first_field + ss->field].name;
    }
    int lang = ss->lang >= 0 && ss->lang < m->n_langs ? ss->lang : m->default_lang;
    sqlite3_stmt *s = stmt(st, Q_SAVE_USER);
    sqlite3_bind_int64(s, 1, ss->user_id);
    sqlite3_bind_int64(s, 2, ss->chat_id);
    sqlite3_bind_text(s, 3, m->langs[lang], -1, SQLITE_STATIC);
    bind_text_or_null(s, 4, u ? u->first_name : NULL);
    bind_text_or_null(s, 5, u ? u->username : NULL);
    sqlite3_bind_text(s, 6, m->states[ss->state].name, -1, SQLITE_STATIC);
    bind_text_or_null(s, 7, form);
    bind_text_or_null(s, 8, field);
    clock_now(st);
    sqlite3_bind_text(s, 9, st->now_iso, -1, SQLITE_STATIC);
    if (exec_done(st, s, "save user"))
        return -1;
    for (int i = 0; i < m->n_vars; i++) {
        const char *v = ss->vars ? ss->vars[i] : NULL;
        if (snap_same(st, ss->user_id, i, v))
            continue; /* stored exactly so already */
        s = stmt(st, v ? Q_SET_VAR : Q_DEL_VAR);
        sqlite3_bind_int64(s, 1, ss->user_id);
        sqlite3_bind_text(s, 2, m->vars[i].name, -1, SQLITE_STATIC);
        if (v)
            sqlite3_bind_text(s, 3, v, -1, SQLITE_STATIC);
        if (exec_done(st, s, "save var")) {
            st->snap_valid = false;
            return -1;
        }
    }
    st->snap_valid = false;
    return 0;
}

int store_add_record(store *st, int64_t user_id, int form, const char *json)
{
    if (form < 0 || form >= st->m->n_forms)
        return -1;
    sqlite3_stmt *s = stmt(st, Q_ADD_RECORD);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_text(s, 2, st->m->forms[form].name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, json, -1, SQLITE_STATIC);
    return exec_done(st, s, "add record");
}

void store_users_free(store_user *v, int n)
{
    for (int i = 0; i < n; i++) {
        free(v[i].state);
        free(v[i].lang);
        free(v[i].first_name);
        free(v[i].username);
    }
    free(v);
}

static bool is_state(const bm_machine *m, const char *name)
{
    for (int i = 0; i < m->n_states; i++)
        if (!strcmp(m->states[i].name, name))
            return true;
    return false;
}

int store_list_stale(store *st, store_user **out, int *n)
{
    *out = NULL;
    *n = 0;
    int cap = 0, rc;
    sqlite3_stmt *s = stmt(st, Q_ALL_USERS);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(s, 2);
        if (state && is_state(st->m, state))
            continue;
        if (*n == cap) {
            int nc = cap ? cap * 2 : 16;
            store_user *nv = realloc(*out, (size_t)nc * sizeof *nv);
            if (!nv) {
                rc = SQLITE_NOMEM;
                break;
            }
            *out = nv;
            cap = nc;
        }
        store_user *u = &(*out)[(*n)++];
        memset(u, 0, sizeof *u);
        u->user_id = sqlite3_column_int64(s, 0);
        u->chat_id = sqlite3_column_int64(s, 1);
        u->state = strdup(state ? state : "");
        u->lang = col_dup(s, 3);
        u->first_name = col_dup(s, 4);
        u->username = col_dup(s, 5);
        if (!u->state) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        store_users_free(*out, *n);
        *out = NULL;
        *n = 0;
        return fail(st, "list users");
    }
    return 0;
}

int store_delete_user(store *st, int64_t user_id)
{
    static const int qs[] = {Q_DEL_VARS, Q_DEL_RECORDS, Q_HIST_DEL, Q_DEL_USER};
    st->snap_valid = false;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        sqlite3_stmt *s = stmt(st, qs[i]);
        sqlite3_bind_int64(s, 1, user_id);
        if (exec_done(st, s, "delete user"))
            return -1;
    }
    return 0;
}

/* Column i as a JSON value: numbers as numbers, text as strings, NULL as null. */
static cJSON *col_json(sqlite3_stmt *s, int i)
{
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
        return cJSON_CreateNumber((double)sqlite3_column_int64(s, i));
    case SQLITE_NULL:
        return cJSON_CreateNull();
    default:
        return cJSON_CreateString((const char *)sqlite3_column_text(s, i));
    }
}

int store_json_rows(store *st, const char *select_sql, int64_t user_id, cJSON *arr)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, select_sql, -1, &s, NULL) != SQLITE_OK)
        return fail(st, "export rows");
    sqlite3_bind_int64(s, 1, user_id);
    int rc, n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            rc = SQLITE_NOMEM;
            break;
        }
        int nc = sqlite3_column_count(s);
        for (int i = 0; i < nc; i++)
            cJSON_AddItemToObject(o, sqlite3_column_name(s, i), col_json(s, i));
        n++;
    }
    if (rc != SQLITE_DONE) {
        fail(st, "export rows");
        n = -1;
    }
    sqlite3_finalize(s);
    return n;
}

int store_export_into(store *st, int64_t user_id, cJSON *root)
{
    cJSON *user = NULL;
    int rc;
    sqlite3_stmt *s = stmt(st, Q_EXPORT_USER);
    sqlite3_bind_int64(s, 1, user_id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        user = cJSON_CreateObject();
        int nc = sqlite3_column_count(s);
        for (int i = 0; user && i < nc; i++)
            cJSON_AddItemToObject(user, sqlite3_column_name(s, i), col_json(s, i));
    } else if (rc == SQLITE_DONE) {
        user = cJSON_CreateNull();
    }
    sqlite3_reset(s);
    if (!user || !cJSON_AddItemToObject(root, "user", user)) {
        cJSON_Delete(user);
        return fail(st, "export user");
    }

    cJSON *vars = cJSON_AddObjectToObject(root, "variables");
    if (!vars)
        return -1;
    s = stmt(st, Q_LOAD_VARS);
    sqlite3_bind_int64(s, 1, user_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        cJSON_AddItemToObject(vars, (const char *)sqlite3_column_text(s, 0),
                              cJSON_CreateString((const char *)sqlite3_column_text(s, 1)));
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail(st, "export vars");

    cJSON *recs = cJSON_AddArrayToObject(root, "records");
    if (!recs)
        return -1;
    s = stmt(st, Q_EXPORT_RECORDS);
    sqlite3_bind_int64(s, 1, user_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *r = cJSON_CreateObject();
        if (!r)
            break;
        cJSON_AddItemToObject(r, "id", col_json(s, 0));
        cJSON_AddItemToObject(r, "form", col_json(s, 1));
        cJSON_AddItemToObject(r, "created", col_json(s, 3));
        const char *js = (const char *)sqlite3_column_text(s, 2);
        cJSON *data = js ? cJSON_Parse(js) : NULL;
        cJSON_AddItemToObject(r, "data", data ? data : cJSON_CreateString(js ? js : ""));
        cJSON_AddItemToArray(recs, r);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail(st, "export records");

    cJSON *hist = cJSON_AddArrayToObject(root, "history");
    if (!hist)
        return -1;
    s = stmt(st, Q_EXPORT_HIST);
    sqlite3_bind_int64(s, 1, user_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *h = cJSON_CreateObject();
        if (!h || !cJSON_AddItemToArray(hist, h)) {
            cJSON_Delete(h);
            rc = SQLITE_NOMEM;
            break;
        }
        for (int i = 0; i < 4; i++)
            cJSON_AddItemToObject(h, sqlite3_column_name(s, i), col_json(s, i));
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail(st, "export history");
    return 0;
}

char *store_export_user(store *st, int64_t user_id)
{
    cJSON *root = cJSON_CreateObject();
    char *out = NULL;
    if (root && store_export_into(st, user_id, root) == 0) {
        char *js = cJSON_Print(root);
        if (js) {
            out = strdup(js);
            cJSON_free(js);
        }
    }
    cJSON_Delete(root);
    return out;
}

int store_user_exists(store *st, int64_t user_id)
{
    sqlite3_stmt *s = stmt(st, Q_EXISTS);
    sqlite3_bind_int64(s, 1, user_id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return fail(st, "user exists");
}

/* The one non-negative integer query q returns; -1 (logged as `what`) when
 * it fails or returns none. */
static int64_t query_count(store *st, int q, const char *what)
{
    sqlite3_stmt *s = stmt(st, q);
    int rc = sqlite3_step(s);
    int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_reset(s);
    if (n < 0)
        return fail(st, what);
    return n;
}

int store_count_users(store *st)
{
    return (int)query_count(st, Q_COUNT, "count users");
}

int store_mark_handled(store *st, int64_t update_id)
{
    sqlite3_stmt *s = stmt(st, Q_MARK_HANDLED);
    sqlite3_bind_int64(s, 1, update_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)clock_now(st));
    if (exec_done(st, s, "mark update handled"))
        return -1;
    int fresh = sqlite3_changes(st->db) == 1;
    /* prune now and then, inside the same transaction */
    if (fresh && update_id % 1024 == 0) {
        s = stmt(st, Q_PRUNE_HANDLED);
        sqlite3_bind_int64(s, 1, (sqlite3_int64)clock_now(st));
        if (exec_done(st, s, "prune handled updates"))
            return -1;
    }
    return fresh;
}

/* ---- inbox, dead letters, outbox (schema 2) ------------------------------ */

int store_inbox_put(store *st, int64_t update_id, int64_t chat_id, const char *json)
{
    sqlite3_stmt *s = stmt(st, Q_INBOX_PUT);
    sqlite3_bind_int64(s, 1, update_id);
    sqlite3_bind_int64(s, 2, chat_id);
    sqlite3_bind_text(s, 3, json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)clock_now(st));
    if (exec_done(st, s, "inbox put"))
        return -1;
    return sqlite3_changes(st->db) == 1;
}

int store_inbox_done(store *st, int64_t update_id)
{
    sqlite3_stmt *s = stmt(st, Q_INBOX_DONE);
    sqlite3_bind_int64(s, 1, update_id);
    return exec_done(st, s, "inbox done");
}

int store_inbox_load(store *st, store_inbox_fn fn, void *ud)
{
    sqlite3_stmt *s = stmt(st, Q_INBOX_LOAD);
    int rc, n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *js = (const char *)sqlite3_column_text(s, 2);
        if (fn && fn(ud, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), js ? js : "")) {
            sqlite3_reset(s);
            return -1;
        }
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail(st, "inbox load");
    return n;
}

int store_dead_letter(store *st, int64_t update_id, int64_t chat_id, const char *json,
                      const char *reason)
{
    sqlite3_stmt *s = stmt(st, Q_DEAD_LETTER);
    sqlite3_bind_int64(s, 1, update_id);
    sqlite3_bind_int64(s, 2, chat_id);
    sqlite3_bind_text(s, 3, json ? json : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, reason ? reason : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)clock_now(st));
    if (exec_done(st, s, "dead letter"))
        return -1;
    int fresh = sqlite3_changes(st->db) == 1;
    if (store_inbox_done(st, update_id))
        return -1;
    return fresh;
}

/* st->outbox_last from the table: the newest id in it (0: empty). */
static int outbox_seed(store *st)
{
    int64_t max = query_count(st, Q_OUTBOX_MAX, "outbox max id");
    if (max < 0)
        return -1;
    if (max > st->outbox_last)
        st->outbox_last = max;
    return 0;
}

int store_outbox_add(store *st, int64_t chat_id, const char *method, const char *params,
                     int64_t *id)
{
    sqlite3_stmt *s = stmt(st, Q_OUTBOX_ADD);
    sqlite3_bind_int64(s, 1, chat_id);
    sqlite3_bind_text(s, 2, method, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, params ? params : "{}", -1, SQLITE_STATIC);
    /* The id is the one after the newest this store gave, not SQLite's
     * max(id) + 1: a newest row deleted while the outq still holds its id
     * (to delete it again, to match an answer) must not come back as a new
     * call's id. A gap (a row rolled back) is harmless. The id is taken
     * only when another connection added rows: then after its max. */
    for (int tries = 0; tries < 2; tries++) {
        sqlite3_bind_int64(s, 4, st->outbox_last + 1);
        if (exec_done(st, s, "outbox add"))
            return -1;
        if (sqlite3_changes(st->db) == 1) {
            *id = ++st->outbox_last;
            return 0;
        }
        if (outbox_seed(st))
            return -1;
    }
    log_error("store", "outbox add: no free id after %lld", (long long)st->outbox_last);
    return -1;
}

int store_outbox_delete(store *st, int64_t id)
{
    sqlite3_stmt *s = stmt(st, Q_OUTBOX_DEL);
    sqlite3_bind_int64(s, 1, id);
    return exec_done(st, s, "outbox delete");
}

int store_outbox_update(store *st, int64_t id, int64_t chat_id, const char *params,
                        int attempts, int64_t not_before)
{
    sqlite3_stmt *s = stmt(st, Q_OUTBOX_UPDATE);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, chat_id);
    bind_text_or_null(s, 3, params);
    sqlite3_bind_int(s, 4, attempts);
    sqlite3_bind_int64(s, 5, not_before);
    return exec_done(st, s, "outbox update");
}

int store_outbox_drop_chat(store *st, int64_t chat_id)
{
    sqlite3_stmt *s = stmt(st, Q_OUTBOX_DROP_CHAT);
    sqlite3_bind_int64(s, 1, chat_id);
    if (exec_done(st, s, "outbox drop chat"))
        return -1;
    return sqlite3_changes(st->db);
}

int store_outbox_load(store *st, store_outbox_fn fn, void *ud)
{
    sqlite3_stmt *s = stmt(st, Q_OUTBOX_LOAD);
    int rc, n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_outbox_row r = {
            .id = sqlite3_column_int64(s, 0),
            .chat_id = sqlite3_column_int64(s, 1),
            .method = (const char *)sqlite3_column_text(s, 2),
            .params = (const char *)sqlite3_column_text(s, 3),
            .attempts = sqlite3_column_int(s, 4),
            .not_before = sqlite3_column_int64(s, 5),
        };
        if (!r.method)
            r.method = "";
        if (!r.params)
            r.params = "{}";
        if (fn && fn(ud, &r) != 0) {
            sqlite3_reset(s);
            return -1;
        }
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail(st, "outbox load");
    return n;
}

int store_set_active(store *st, int64_t chat_id, int active)
{
    sqlite3_stmt *s = stmt(st, Q_SET_ACTIVE);
    sqlite3_bind_int64(s, 1, chat_id);
    sqlite3_bind_int(s, 2, active);
    if (exec_done(st, s, "set active"))
        return -1;
    return sqlite3_changes(st->db);
}

/* ---- history: the recent conversation ------------------------------------ */

static const char *const hist_kinds[] = {
    [STORE_HIST_MENU] = "menu", [STORE_HIST_AI] = "ai", [STORE_HIST_HANDOFF] = "handoff",
};

int store_history_add(store *st, int64_t user_id, const char *role, store_hist_kind kind,
                      const char *text)
{
    if ((unsigned)kind >= sizeof hist_kinds / sizeof hist_kinds[0])
        kind = STORE_HIST_MENU;
    if (!text || !*text)
        return 0;
    char *cut = NULL;
    size_t n = strlen(text);
    if (n > STORE_HISTORY_TEXT_MAX) {
        /* cut on a UTF-8 boundary: a continuation byte is 10xxxxxx */
        n = STORE_HISTORY_TEXT_MAX;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
        cut = malloc(n + 1);
        if (!cut)
            return -1;
        memcpy(cut, text, n);
        cut[n] = '\0';
    }
    sqlite3_stmt *s = stmt(st, Q_HIST_ADD);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_text(s, 2, role, -1, SQLITE_STATIC);
    /* STATIC: stepped right away, and every use binds all parameters again */
    sqlite3_bind_text(s, 3, cut ? cut : text, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, hist_kinds[kind], -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)clock_now(st));
    int rc = exec_done(st, s, "history add");
    free(cut);
    return rc ? -1 : 0;
}

int store_history_close_ai(store *st, int64_t user_id)
{
    sqlite3_stmt *s = stmt(st, Q_HIST_CLOSE_AI);
    sqlite3_bind_int64(s, 1, user_id);
    return exec_done(st, s, "history close ai") ? -1 : 0;
}

int store_history_trim_due(store *st, int64_t user_id, int added)
{
    if (added <= 0)
        return 0;
    uint64_t h = (uint64_t)user_id * 0x9E3779B97F4A7C15u;
    size_t i = (size_t)(h >> 40) % STORE_TRIM_SLOTS;
    if (st->trim_due[i].user == user_id && st->trim_due[i].added + added < STORE_TRIM_EVERY) {
        st->trim_due[i].added += added;
        return 0;
    }
    st->trim_due[i].user = user_id;
    st->trim_due[i].added = 0;
    return store_history_trim(st, user_id);
}

int store_history_trim(store *st, int64_t user_id)
{
    sqlite3_stmt *s = stmt(st, Q_HIST_PRUNE);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int(s, 2, STORE_HISTORY_MAX);
    sqlite3_bind_int(s, 3, STORE_HISTORY_AI_KEEP);
    return exec_done(st, s, "history prune");
}

static int history_rows(store *st, int q, int64_t user_id, int max, store_history_fn fn,
                        void *ud)
{
    sqlite3_stmt *s = stmt(st, q);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int(s, 2, max);
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *role = (const char *)sqlite3_column_text(s, 0);
        const char *text = (const char *)sqlite3_column_text(s, 1);
        n++;
        if (fn && fn(ud, role ? role : "", text ? text : "", sqlite3_column_int64(s, 2))) {
            sqlite3_reset(s);
            return -1;
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail(st, "history list");
    return n;
}

int store_history_list(store *st, int64_t user_id, int max, store_history_fn fn, void *ud)
{
    return history_rows(st, Q_HIST_LIST, user_id, max, fn, ud);
}

int store_history_turns(store *st, int64_t user_id, int max, store_history_fn fn, void *ud)
{
    return history_rows(st, Q_HIST_TURNS, user_id, max, fn, ud);
}

int store_list_records(store *st, int64_t user_id, int max, store_record_fn fn, void *ud)
{
    sqlite3_stmt *s = stmt(st, Q_LIST_RECORDS);
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_int(s, 2, max);
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *form = (const char *)sqlite3_column_text(s, 1);
        const char *json = (const char *)sqlite3_column_text(s, 2);
        const char *created = (const char *)sqlite3_column_text(s, 3);
        n++;
        if (fn && fn(ud, sqlite3_column_int64(s, 0), form ? form : "", json ? json : "{}",
                     created ? created : "")) {
            sqlite3_reset(s);
            return -1;
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail(st, "records list");
    return n;
}

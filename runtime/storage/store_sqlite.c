/*
 * store_sqlite.c — what only SQLite understands (see store_int.h): the
 * connection's pragmas, the schema of every table in the bot's database,
 * and the upgrades of older databases. The statements of store.c and the
 * store_*.c files are portable SQL; a PostgreSQL driver replaces this file
 * and binds its own statement handles.
 */
#include <inttypes.h>
#include <stdio.h>

#include "base/log.h"
#include "storage/store_int.h"

#define STORE_CACHE_KIB "512" /* the page cache (PRAGMA cache_size), see store__sqlite_open */

const char store__sqlite_begin[] = "BEGIN IMMEDIATE";

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
    "  at INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL DEFAULT 0);"
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


/* Schema 4 -> 5: dead_letter gains user_id (so a user's dead letters are
 * erased and exported with their data), filled for the rows already there
 * the way store_dead_letter fills it. */
static const char *const upgrade5_sql =
    "ALTER TABLE dead_letter ADD COLUMN user_id INTEGER NOT NULL DEFAULT 0;"
    "UPDATE dead_letter SET user_id = " STORE_DEAD_USER_SQL("json", "chat_id") ";";
static const char *const dead_letter_index_sql =
    "CREATE INDEX IF NOT EXISTS dead_letter_user ON dead_letter(user_id);"
    "CREATE INDEX IF NOT EXISTS dead_letter_at ON dead_letter(at);";

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

int store__sqlite_open(store *st, const char *path, char *err, size_t errlen)
{
    configure_sqlite();
    /* NOMUTEX: one connection, one thread at a time (store.h) */
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path,
                 st->db ? sqlite3_errmsg(st->db) : "out of memory");
        return -1;
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
                     NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int store__sqlite_synchronous(store *st, int full)
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

/* Runs sql (several statements); on failure the reason goes to err after
 * `what`. 0 or -1. */
static int exec_sql(store *st, const char *sql, const char *what, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "%s: %s", what, msg ? msg : sqlite3_errmsg(st->db));
    sqlite3_free(msg);
    return -1;
}

/* 1 when the query finds a row, 0 when not, -1 when it does not prepare. */
static int probe(store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        return -1;
    }
    int found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return found;
}

int store__sqlite_schema(store *st, const char *path, char *err, size_t errlen)
{
    char what[64];
    snprintf(what, sizeof what, "%.40s: schema", path);
    if (exec_sql(st, schema_sql, what, err, errlen))
        return -1;
    /* a schema 2 database: history without kind (CREATE IF NOT EXISTS kept it) */
    bool has_kind = probe(st, "SELECT kind FROM history LIMIT 0") >= 0;
    snprintf(what, sizeof what, "%.40s: schema 3", path);
    if ((!has_kind && exec_sql(st, upgrade3_sql, what, err, errlen)) ||
        exec_sql(st, drop_llm_history_sql, what, err, errlen))
        return -1;
    if (!has_kind)
        log_info("store", "%s: upgraded to schema 3 (history.kind)", path);
    /* a schema 3 database: outbox and history declared AUTOINCREMENT */
    if (probe(st, "SELECT 1 FROM sqlite_master WHERE name IN ('outbox', 'history')"
                  " AND sql LIKE '%AUTOINCREMENT%'") == 1) {
        snprintf(what, sizeof what, "%.40s: schema 4", path);
        if (exec_sql(st, upgrade4_sql, what, err, errlen))
            return -1;
        log_info("store", "%s: upgraded to schema 4 (outbox and history ids without "
                 "AUTOINCREMENT)", path);
    }
    int dead_user = probe(st, "SELECT 1 FROM pragma_table_info('dead_letter')"
                              " WHERE name = 'user_id'");
    snprintf(what, sizeof what, "%.40s: schema 5", path);
    if (dead_user < 0) {
        snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(st->db));
        return -1;
    }
    if (!dead_user) {
        if (exec_sql(st, upgrade5_sql, what, err, errlen))
            return -1;
        log_info("store", "%s: upgraded to schema 5 (dead_letter.user_id)", path);
    }
    return exec_sql(st, dead_letter_index_sql, what, err, errlen);
}

/* ---- the feature modules' tables ------------------------------------------ */

/* handoffs: at most one open and one 'creating' row per user (partial
 * unique indexes; store_handoff.c's mark upserts on the second). */
static const char *const handoff_ddl =
    "CREATE TABLE IF NOT EXISTS managers("
    "  user_id INTEGER PRIMARY KEY, name TEXT NOT NULL, added INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS handoffs("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  user_id INTEGER NOT NULL, chat_id INTEGER NOT NULL, thread_id INTEGER NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'open',"
    "  opened INTEGER NOT NULL, closed INTEGER, closed_by INTEGER, rating INTEGER,"
    "  tries INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX IF NOT EXISTS handoffs_open ON handoffs(user_id)"
    "  WHERE status = 'open';"
    "CREATE INDEX IF NOT EXISTS handoffs_thread ON handoffs(thread_id);"
    "CREATE UNIQUE INDEX IF NOT EXISTS handoffs_creating ON handoffs(user_id)"
    "  WHERE status = 'creating';";

int store__sqlite_handoff_schema(store *st, char *err, size_t errlen)
{
    if (exec_sql(st, handoff_ddl, "handoff tables", err, errlen))
        return -1;
    /* databases from before the 'creating' rows get the column counting
     * their createForumTopic attempts */
    int have = probe(st, "SELECT 1 FROM pragma_table_info('handoffs') WHERE name = 'tries'");
    if (have < 0) {
        snprintf(err, errlen, "handoff tables: %s", sqlite3_errmsg(st->db));
        return -1;
    }
    if (have)
        return 0;
    return exec_sql(st, "ALTER TABLE handoffs ADD COLUMN tries INTEGER NOT NULL DEFAULT 0",
                    "handoff tables", err, errlen);
}

/* A named topic belongs to one group: a thread id means nothing in another
 * chat. Databases from before the chat_id column keep their topics, as the
 * current group's (the one they were made in, unless it changed meanwhile). */
static int migrate_lead_topics(store *st, int64_t group, char *err, size_t errlen)
{
    int cols = probe(st, "SELECT 1 FROM pragma_table_info('lead_topics')");
    int has_chat = probe(st, "SELECT 1 FROM pragma_table_info('lead_topics')"
                             " WHERE name = 'chat_id'");
    if (cols < 0 || has_chat < 0) {
        snprintf(err, errlen, "lead tables: %s", sqlite3_errmsg(st->db));
        return -1;
    }
    if (cols == 0 || has_chat)
        return 0; /* no table yet, or already with chat_id */
    char sql[512];
    snprintf(sql, sizeof sql,
             "BEGIN;"
             "CREATE TABLE lead_topics_new(chat_id INTEGER NOT NULL, name TEXT NOT NULL,"
             " thread_id INTEGER NOT NULL, PRIMARY KEY(chat_id, name));"
             "INSERT INTO lead_topics_new SELECT %" PRId64 ", name, thread_id FROM lead_topics;"
             "DROP TABLE lead_topics;"
             "ALTER TABLE lead_topics_new RENAME TO lead_topics;"
             "COMMIT;", group);
    if (exec_sql(st, sql, "lead tables", err, errlen)) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    log_info("lead", "lead_topics: named topics now belong to a group (%" PRId64 ")", group);
    return 0;
}

int store__sqlite_lead_schema(store *st, int64_t group, char *err, size_t errlen)
{
    /* leads.created: bound by store_lead_add; the default serves rows of
     * older builds only */
    static const char ddl[] =
        "CREATE TABLE IF NOT EXISTS leads(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,"
        " form TEXT NOT NULL, text TEXT NOT NULL, thread_id INTEGER, posted INTEGER NOT NULL"
        " DEFAULT 0, created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')));"
        "CREATE TABLE IF NOT EXISTS lead_topics(chat_id INTEGER NOT NULL, name TEXT NOT NULL,"
        " thread_id INTEGER NOT NULL, PRIMARY KEY(chat_id, name));";
    if (migrate_lead_topics(st, group, err, errlen))
        return -1;
    return exec_sql(st, ddl, "lead tables", err, errlen);
}

int store__sqlite_feedback_schema(store *st, char *err, size_t errlen)
{
    static const char ddl[] =
        "CREATE TABLE IF NOT EXISTS ai_answers(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,"
        " chat_id INTEGER NOT NULL, at INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS votes(answer_id INTEGER PRIMARY KEY,"
        " user_id INTEGER NOT NULL, chat_id INTEGER NOT NULL, message_id INTEGER NOT NULL,"
        " vote TEXT NOT NULL, at INTEGER NOT NULL);";
    return exec_sql(st, ddl, "feedback tables", err, errlen);
}

int store__sqlite_session_schema(store *st, char *err, size_t errlen)
{
    static const char ddl[] =
        "CREATE TABLE IF NOT EXISTS sessions(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,"
        " chat_id INTEGER NOT NULL, title TEXT NOT NULL, opened INTEGER NOT NULL,"
        " at INTEGER NOT NULL, closed INTEGER, turns INTEGER NOT NULL,"
        " summary TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id, closed);"
        /* the idle sweep reads open sessions only */
        "CREATE INDEX IF NOT EXISTS sessions_open ON sessions(at) WHERE closed IS NULL;"
        "CREATE TABLE IF NOT EXISTS session_turns(id INTEGER PRIMARY KEY,"
        " session_id INTEGER NOT NULL, user_id INTEGER NOT NULL, role TEXT NOT NULL,"
        " text TEXT NOT NULL, at INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS session_turns_session ON session_turns(session_id, id);"
        "CREATE INDEX IF NOT EXISTS session_turns_user ON session_turns(user_id);";
    return exec_sql(st, ddl, "session tables", err, errlen);
}

int store__sqlite_tool_calls_schema(store *st, char *err, size_t errlen)
{
    static const char ddl[] =
        "CREATE TABLE IF NOT EXISTS tool_calls(id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,"
        " chat_id INTEGER NOT NULL, at INTEGER NOT NULL, name TEXT NOT NULL,"
        " arguments TEXT NOT NULL, ok INTEGER NOT NULL, status INTEGER NOT NULL,"
        " result TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS tool_calls_user ON tool_calls(user_id);";
    return exec_sql(st, ddl, "tool_calls table", err, errlen);
}

int store__sqlite_usage_schema(store *st, char *err, size_t errlen)
{
    static const char ddl[] =
        "CREATE TABLE IF NOT EXISTS llm_usage("
        "user_id INTEGER NOT NULL, day TEXT NOT NULL, tokens INTEGER NOT NULL,"
        "PRIMARY KEY(user_id, day)) WITHOUT ROWID";
    return exec_sql(st, ddl, "usage table", err, errlen);
}

int store__sqlite_vectors_schema(store *st, char *err, size_t errlen)
{
    static const char ddl[] =
        "CREATE TABLE IF NOT EXISTS embed_cache("
        "model TEXT NOT NULL, hash TEXT NOT NULL, dims INTEGER NOT NULL, vec BLOB NOT NULL,"
        "PRIMARY KEY(model, hash)) WITHOUT ROWID";
    return exec_sql(st, ddl, "vector cache table", err, errlen);
}

int store__sqlite_memory_schema(store *st, char *err, size_t errlen)
{
    static const char ddl[] =
        "CREATE TABLE IF NOT EXISTS memory_items(id INTEGER PRIMARY KEY,"
        " user_id INTEGER NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,"
        " terms TEXT NOT NULL, session_id INTEGER NOT NULL DEFAULT 0, at INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS memory_user ON memory_items(user_id, id);"
        "CREATE TABLE IF NOT EXISTS memory_vectors(item_id INTEGER PRIMARY KEY"
        " REFERENCES memory_items(id) ON DELETE CASCADE, user_id INTEGER NOT NULL,"
        " model TEXT NOT NULL, dims INTEGER NOT NULL, vec BLOB NOT NULL, at INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS memory_vectors_user ON memory_vectors(user_id, model);";
    return exec_sql(st, ddl, "memory tables", err, errlen);
}

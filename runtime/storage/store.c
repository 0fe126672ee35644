/*
 * store.c — see store.h.
 */
#include "storage/store.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "storage/store_int.h"

#define STORE_SCHEMA_VERSION 4

static const char *const queries[Q_COUNT_ALL] = {
    [Q_BEGIN] = store__sqlite_begin,
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
                     " VALUES(?1, ?2, ?3, ?4)",
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
    [Q_MARK_HANDLED] = "INSERT INTO handled(update_id, at) VALUES(?1, ?2)"
                       " ON CONFLICT(update_id) DO NOTHING",
    /* Telegram keeps an update for 24 hours; two days covers any redelivery */
    [Q_PRUNE_HANDLED] = "DELETE FROM handled WHERE at < ?1 - 172800",
    [Q_SAVEPOINT] = "SAVEPOINT nested",
    [Q_RELEASE] = "RELEASE nested",
    [Q_ROLLBACK_TO] = "ROLLBACK TO nested",
    /* new only when neither waiting, handled nor dead: exact ids, never "<= max" */
    [Q_INBOX_PUT] = "INSERT INTO inbox(update_id, chat_id, json, at)"
                    " SELECT ?1, ?2, ?3, ?4"
                    " WHERE NOT EXISTS (SELECT 1 FROM handled WHERE update_id = ?1)"
                    " AND NOT EXISTS (SELECT 1 FROM dead_letter WHERE update_id = ?1)"
                    " ON CONFLICT(update_id) DO NOTHING",
    [Q_INBOX_DONE] = "DELETE FROM inbox WHERE update_id = ?1",
    [Q_INBOX_LOAD] = "SELECT update_id, chat_id, json FROM inbox ORDER BY update_id",
    /* the user: the sender named in the update (it may be malformed: read
     * only when it is valid JSON), else a private chat's id, else 0 */
    [Q_DEAD_LETTER] = "INSERT INTO dead_letter(update_id, chat_id, json, reason, at, user_id)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, " STORE_DEAD_USER_SQL("?3", "?2") ")"
                      " ON CONFLICT(update_id) DO NOTHING",
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
    [Q_SET_ACTIVE] = "UPDATE users SET active = ?2, updated = ?3 WHERE chat_id = ?1",
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
    [Q_DEAD_DEL] = "DELETE FROM dead_letter WHERE user_id = ?1",
    [Q_DEAD_EXPORT] = "SELECT update_id, chat_id, reason, at, json FROM dead_letter"
                      " WHERE user_id = ?1 ORDER BY update_id",
    [Q_DEAD_PRUNE] = "DELETE FROM dead_letter WHERE at < ?1",
};

time_t store__now(store *st)
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

int store__fail(store *st, const char *what)
{
    log_error("store", "%s: %s", what, sqlite3_errmsg(st->db));
    return -1;
}

sqlite3_stmt *store__reset(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

int store__run(store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store__fail(st, what);
    return sqlite3_changes(st->db);
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

int store__prepare_all(store *st, const store__sql *q, size_t n, const char *what, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (sqlite3_prepare_v3(st->db, q[i].sql, -1, SQLITE_PREPARE_PERSISTENT, q[i].stmt,
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(st->db));
            return -1;
        }
    }
    return 0;
}

void store__finalize_all(const store__sql *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_finalize(*q[i].stmt);
        *q[i].stmt = NULL;
    }
}

/* Reset and clear one of store.c's kept statements before use. */
static sqlite3_stmt *stmt(store *st, int q)
{
    return store__reset(st->q[q]);
}

/* Run a statement that returns no rows. 0 or -1. */
static int exec_done(store *st, sqlite3_stmt *s, const char *what)
{
    return store__run(st, s, what) < 0 ? -1 : 0;
}

static int outbox_seed(store *st);

store *store_open(const char *path, const bm_machine *m, char *err, size_t errlen)
{
    store *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->m = m;
    char *msg = NULL;
    if (store__sqlite_open(st, path, err, errlen))
        goto bad;
    if (sqlite3_exec(st->db, store__sqlite_begin, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        goto bad;
    }
    if (store__sqlite_schema(st, path, err, errlen)) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        goto bad;
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
    return store__sqlite_synchronous(st, full);
}

int store_in_transaction(const store *st)
{
    return !sqlite3_get_autocommit(st->db);
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
        store__fail(st, "get meta");
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
        return store__fail(st, "load user");
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
        return store__fail(st, "load vars");
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
    store__now(st);
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
    store__now(st);
    sqlite3_bind_text(s, 4, st->now_iso, -1, SQLITE_STATIC);
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
        return store__fail(st, "list users");
    }
    return 0;
}

int store_delete_user(store *st, int64_t user_id)
{
    static const int qs[] = {Q_DEL_VARS, Q_DEL_RECORDS, Q_HIST_DEL, Q_DEAD_DEL, Q_DEL_USER};
    st->snap_valid = false;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        sqlite3_stmt *s = stmt(st, qs[i]);
        sqlite3_bind_int64(s, 1, user_id);
        if (exec_done(st, s, "delete user"))
            return -1;
    }
    return 0;
}

/* The columns that hold a time as unix seconds (history.at, votes.at,
 * handoffs.opened, managers.added, ...); the others keep theirs as ISO-8601
 * text already (users.created, records.created, leads.created). */
static bool is_time_col(const char *name)
{
    static const char *const names[] = {"at", "opened", "closed", "added"};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i]))
            return true;
    return false;
}

/* Column i as a JSON value: numbers as numbers, text as strings, NULL as
 * null; a time as ISO-8601 UTC text, so an export speaks one format. */
static cJSON *col_json(sqlite3_stmt *s, int i)
{
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
        if (is_time_col(sqlite3_column_name(s, i))) {
            time_t t = (time_t)sqlite3_column_int64(s, i);
            struct tm tm;
            char iso[32];
            if (gmtime_r(&t, &tm) && strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm))
                return cJSON_CreateString(iso);
        }
        return cJSON_CreateNumber((double)sqlite3_column_int64(s, i));
    case SQLITE_NULL:
        return cJSON_CreateNull();
    default:
        return cJSON_CreateString((const char *)sqlite3_column_text(s, i));
    }
}

int store__json_rows(store *st, sqlite3_stmt *s, cJSON *arr)
{
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
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store__fail(st, "export rows");
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
        return store__fail(st, "export user");
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
        return store__fail(st, "export vars");

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
        return store__fail(st, "export records");

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
        return store__fail(st, "export history");

    /* updates of theirs the bot gave up on, as received */
    cJSON *dead = cJSON_AddArrayToObject(root, "dead_letters");
    if (!dead)
        return -1;
    s = stmt(st, Q_DEAD_EXPORT);
    sqlite3_bind_int64(s, 1, user_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *d = cJSON_CreateObject();
        if (!d || !cJSON_AddItemToArray(dead, d)) {
            cJSON_Delete(d);
            rc = SQLITE_NOMEM;
            break;
        }
        for (int i = 0; i < 4; i++)
            cJSON_AddItemToObject(d, sqlite3_column_name(s, i), col_json(s, i));
        const char *js = (const char *)sqlite3_column_text(s, 4);
        cJSON *u = js ? cJSON_Parse(js) : NULL;
        cJSON_AddItemToObject(d, "update", u ? u : cJSON_CreateString(js ? js : ""));
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store__fail(st, "export dead letters");
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
    return store__fail(st, "user exists");
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
        return store__fail(st, what);
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
    sqlite3_bind_int64(s, 2, (sqlite3_int64)store__now(st));
    if (exec_done(st, s, "mark update handled"))
        return -1;
    int fresh = sqlite3_changes(st->db) == 1;
    /* prune now and then, inside the same transaction */
    if (fresh && update_id % 1024 == 0) {
        s = stmt(st, Q_PRUNE_HANDLED);
        sqlite3_bind_int64(s, 1, (sqlite3_int64)store__now(st));
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
    sqlite3_bind_int64(s, 4, (sqlite3_int64)store__now(st));
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
        return store__fail(st, "inbox load");
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
    sqlite3_bind_int64(s, 5, (sqlite3_int64)store__now(st));
    if (exec_done(st, s, "dead letter"))
        return -1;
    int fresh = sqlite3_changes(st->db) == 1;
    if (store_inbox_done(st, update_id))
        return -1;
    return fresh;
}

int store_dead_letter_prune(store *st, long max_age_s)
{
    sqlite3_stmt *s = stmt(st, Q_DEAD_PRUNE);
    sqlite3_bind_int64(s, 1, (sqlite3_int64)store__now(st) - max_age_s);
    if (exec_done(st, s, "prune dead letters"))
        return -1;
    return sqlite3_changes(st->db);
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
        return store__fail(st, "outbox load");
    return n;
}

int store_set_active(store *st, int64_t chat_id, int active)
{
    sqlite3_stmt *s = stmt(st, Q_SET_ACTIVE);
    sqlite3_bind_int64(s, 1, chat_id);
    sqlite3_bind_int(s, 2, active);
    store__now(st);
    sqlite3_bind_text(s, 3, st->now_iso, -1, SQLITE_STATIC);
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
    sqlite3_bind_int64(s, 5, (sqlite3_int64)store__now(st));
    int rc = exec_done(st, s, "history add");
    free(cut);
    return rc ? -1 : 0;
}

int store_history_close_ai(store *st, int64_t user_id)
{
    sqlite3_stmt *s = stmt(st, Q_HIST_CLOSE_AI);
    sqlite3_bind_int64(s, 1, user_id);
    return exec_done(st, s, "history close ai");
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
        return store__fail(st, "history list");
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
        return store__fail(st, "records list");
    return n;
}

/*
 * fts.c — see fts.h.
 */
#include "storage/fts.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/text.h"

#define FTS_QUERY_MAX 8192 /* bytes of one MATCH expression */

struct fts {
    sqlite3 *db;
    sqlite3_stmt *ins, *search, *term;
};

void fts_free(fts *f)
{
    if (!f)
        return;
    sqlite3_finalize(f->ins);
    sqlite3_finalize(f->search);
    sqlite3_finalize(f->term);
    sqlite3_close(f->db);
    free(f);
}

fts *fts_open(char *err, size_t errlen)
{
    fts *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(":memory:", &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)) {
        snprintf(err, errlen, "%s", f->db ? sqlite3_errmsg(f->db) : "no memory");
        fts_free(f);
        return NULL;
    }
    if (sqlite3_exec(f->db,
                     "CREATE VIRTUAL TABLE chunk USING fts5(title, body, lang UNINDEXED,"
                     " tokenize = 'unicode61 remove_diacritics 2')",
                     NULL, NULL, NULL) ||
        sqlite3_prepare_v2(f->db, "INSERT INTO chunk(rowid, title, body, lang) VALUES (?,?,?,?)",
                           -1, &f->ins, NULL) ||
        sqlite3_prepare_v2(f->db,
                           "SELECT rowid, bm25(chunk, 3.0, 1.0) FROM chunk WHERE chunk MATCH ?1"
                           " AND (?2 IS NULL OR lang IS NULL OR lang = ?2)"
                           " ORDER BY bm25(chunk, 3.0, 1.0) LIMIT ?3",
                           -1, &f->search, NULL) ||
        sqlite3_prepare_v2(f->db, "SELECT rowid FROM chunk WHERE chunk MATCH ?", -1, &f->term,
                           NULL)) {
        snprintf(err, errlen, "%s (is FTS5 compiled in?)", sqlite3_errmsg(f->db));
        fts_free(f);
        return NULL;
    }
    return f;
}

const char *fts_errmsg(fts *f)
{
    return sqlite3_errmsg(f->db);
}

int fts_begin(fts *f)
{
    return sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int fts_commit(fts *f)
{
    return sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int fts_add(fts *f, int64_t id, const char *title, size_t title_len, const char *body,
            const char *lang)
{
    sqlite3_stmt *s = f->ins;
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, title, (int)title_len, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, body, -1, SQLITE_TRANSIENT);
    if (lang)
        sqlite3_bind_text(s, 4, lang, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, 4);
    return sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
}

/* t as an FTS5 query: "word" or "word"* (a quote inside doubled). */
static int add_term(text_buf *q, const fts_term *t)
{
    int rc = text_buf_addc(q, '"');
    for (const char *p = t->word; *p && !rc; p++)
        rc = *p == '"' ? text_buf_adds(q, "\"\"") : text_buf_addc(q, *p);
    return rc || text_buf_adds(q, t->prefix ? "\"*" : "\"");
}

int fts_each(fts *f, const fts_term *t, fts_id_fn fn, void *ud)
{
    text_buf q;
    text_buf_init(&q, FTS_QUERY_MAX);
    if (add_term(&q, t)) {
        text_buf_free(&q);
        return -1;
    }
    sqlite3_stmt *s = f->term;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, q.p, -1, SQLITE_STATIC);
    int rc, n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        n++;
        if (fn(ud, sqlite3_column_int64(s, 0))) {
            n = -1;
            break;
        }
    }
    sqlite3_reset(s);
    text_buf_free(&q);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? n : -1;
}

int fts_search(fts *f, const fts_term *terms, int n, const char *lang, int max, fts_hit_fn fn,
               void *ud)
{
    text_buf q;
    text_buf_init(&q, FTS_QUERY_MAX);
    for (int i = 0; i < n; i++) {
        if ((i && text_buf_adds(&q, " OR ")) || add_term(&q, &terms[i])) {
            text_buf_free(&q);
            return -1;
        }
    }
    sqlite3_stmt *s = f->search;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, q.p ? q.p : "", -1, SQLITE_STATIC);
    if (lang)
        sqlite3_bind_text(s, 2, lang, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 2);
    sqlite3_bind_int(s, 3, max);
    int rc, got = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        got++;
        if (fn(ud, sqlite3_column_int64(s, 0), -sqlite3_column_double(s, 1))) {
            got = -1;
            break;
        }
    }
    sqlite3_reset(s);
    text_buf_free(&q);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? got : -1;
}

/*
 * fts.c — see fts.h.
 */
#include "storage/fts.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>



struct fts {
    sqlite3 *db;
    sqlite3_stmt *ins, *text, *vocab, *postings;
};

void fts_free(fts *f)
{
    if (!f)
        return;
    sqlite3_finalize(f->ins);
    sqlite3_finalize(f->text);
    sqlite3_finalize(f->vocab);
    sqlite3_finalize(f->postings);
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
    /* The text comes analysed (lowercase, folded, stemmed): the tokenizer
     * only splits it at spaces, and must fold nothing more. */
    if (sqlite3_exec(f->db,
                     "CREATE VIRTUAL TABLE chunk USING fts5(title, body, lang UNINDEXED,"
                     " tokenize = 'unicode61 remove_diacritics 0');"
                     "CREATE VIRTUAL TABLE vocab USING fts5vocab(chunk, 'row');"
                     "CREATE VIRTUAL TABLE occurrence USING fts5vocab(chunk, 'instance')",
                     NULL, NULL, NULL) ||
        sqlite3_prepare_v2(f->db, "INSERT INTO chunk(rowid, title, body, lang) VALUES (?,?,?,?)",
                           -1, &f->ins, NULL) ||
        sqlite3_prepare_v2(f->db, "SELECT title, body FROM chunk WHERE rowid = ?", -1, &f->text,
                           NULL) ||
        sqlite3_prepare_v2(f->db, "SELECT term, doc FROM vocab", -1, &f->vocab, NULL) ||
        sqlite3_prepare_v2(f->db, "SELECT doc, col FROM occurrence WHERE term = ?", -1,
                           &f->postings, NULL)) {
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

int fts_add(fts *f, int64_t id, const char *title, const char *body, const char *lang)
{
    sqlite3_stmt *s = f->ins;
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, body, -1, SQLITE_TRANSIENT);
    if (lang)
        sqlite3_bind_text(s, 4, lang, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, 4);
    return sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
}

int fts_vocab(fts *f, fts_vocab_fn fn, void *ud)
{
    sqlite3_stmt *s = f->vocab;
    sqlite3_reset(s);
    int rc, stopped = 0;
    while (!stopped && (rc = sqlite3_step(s)) == SQLITE_ROW)
        stopped = fn(ud, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1));
    sqlite3_reset(s);
    return stopped || (rc != SQLITE_DONE && rc != SQLITE_ROW) ? -1 : 0;
}

int fts_postings(fts *f, const char *term, fts_posting_fn fn, void *ud)
{
    sqlite3_stmt *s = f->postings;
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, term, -1, SQLITE_STATIC);
    int rc, n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(s, 1);
        n++;
        if (fn(ud, sqlite3_column_int64(s, 0), col && col[0] == 't' ? 0 : 1)) {
            n = -1;
            break;
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? n : -1;
}

int fts_text(fts *f, int64_t id, fts_text_fn fn, void *ud)
{
    sqlite3_stmt *s = f->text;
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s), out;
    if (rc == SQLITE_ROW)
        out = fn(ud, (const char *)sqlite3_column_text(s, 0),
                 (const char *)sqlite3_column_text(s, 1)) ? -1 : 1;
    else
        out = rc == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(s);
    return out;
}

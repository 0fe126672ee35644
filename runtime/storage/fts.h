/*
 * fts.h — a full-text index of short documents (a title, a body, a
 * language) whose text is already analysed: words are the retrieval
 * module's terms (ai/retr.h: folded, stemmed, stop words out), separated by
 * spaces. SQLite FTS5 in a private in-memory database, read through its
 * vocabulary and postings (fts5vocab): the retrieval module ranks. It
 * holds no data of the bot's database and is rebuilt at every start
 * (ai/kb.h says why), so it stays on SQLite whatever database the store
 * uses (ARCHITECTURE.md, "Storage boundary").
 *
 * One index, one thread. Functions returning int give 0 (or a count) on
 * success and -1 on an error unless said otherwise.
 */
#ifndef BOTC_FTS_H
#define BOTC_FTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct fts fts;

/* An empty index. NULL with the reason in err (FTS5 not compiled in, out
 * of memory). */
fts *fts_open(char *err, size_t errlen);
void fts_free(fts *f);
/* SQLite's message about the last error, owned by f. */
const char *fts_errmsg(fts *f);

/* Brackets a batch of fts_add (one transaction: building is fast). */
int fts_begin(fts *f);
int fts_commit(fts *f);
/* Adds document id (>= 1): analysed title and body, and lang (NULL = any
 * language). Strings are copied. */
int fts_add(fts *f, int64_t id, const char *title, const char *body, const char *lang);

/* Calls fn for every distinct term of the index with the number of
 * documents holding it; fn returns non-zero to stop (-1 returned). */
typedef int (*fts_vocab_fn)(void *ud, const char *term, int docs);
int fts_vocab(fts *f, fts_vocab_fn fn, void *ud);

/* Calls fn for every occurrence of term: the document and the column (0
 * title, 1 body), documents in ascending order. fn returns non-zero to
 * stop (-1 returned). The number of occurrences, -1 on error. */
typedef int (*fts_posting_fn)(void *ud, int64_t id, int col);
int fts_postings(fts *f, const char *term, fts_posting_fn fn, void *ud);

/* The analysed title and body of document id, passed to fn (valid during
 * the call). 1 found, 0 no such document, -1. */
typedef int (*fts_text_fn)(void *ud, const char *title, const char *body);
int fts_text(fts *f, int64_t id, fts_text_fn fn, void *ud);

#endif

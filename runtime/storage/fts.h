/*
 * fts.h — a full-text index of short documents (a title, a body, a
 * language) whose text is already analysed: words are the retrieval
 * module's terms (ai/retr.h: folded, stemmed, stop words out), separated by
 * spaces. Ranked by bm25 with the title weighing 3×. SQLite FTS5 in a
 * private in-memory database; it holds no data of the bot's database and
 * is rebuilt at every start (ai/kb.h says why), so it stays on SQLite
 * whatever database the store uses (ARCHITECTURE.md, "Storage boundary").
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

/* A query: n_groups groups, a document matches a group when it holds any
 * of the group's alternatives; an alternative is one term or several
 * separated by spaces (a phrase). A document matching any group is a hit. */
typedef struct fts_group {
    const char *const *alt;
    int n_alt;
} fts_group;

/* Calls fn for the best `max` hits of the query in language lang or none
 * (lang NULL: any), best first; rank is -bm25 (higher is better,
 * comparable within one search). fn returns non-zero to stop (-1
 * returned). The number of hits, -1 on error. */
typedef int (*fts_hit_fn)(void *ud, int64_t id, double rank);
int fts_search(fts *f, const fts_group *groups, int n_groups, const char *lang, int max,
               fts_hit_fn fn, void *ud);

/* The analysed title and body of document id, passed to fn (valid during
 * the call). 1 found, 0 no such document, -1. */
typedef int (*fts_text_fn)(void *ud, const char *title, const char *body);
int fts_text(fts *f, int64_t id, fts_text_fn fn, void *ud);

#endif

/*
 * fts.h — a full-text index of short documents (a title, a body, a
 * language), ranked by bm25 with the title weighing 3×: SQLite FTS5 in a
 * private in-memory database, tokenizer unicode61 with remove_diacritics 2
 * (case and diacritics folded). It holds no data of the bot's database and
 * is rebuilt at every start (kb.h says why), so it stays on SQLite whatever
 * database the store uses (ARCHITECTURE.md, "Storage boundary").
 *
 * One index, one thread. Functions returning int give 0 (or a count) on
 * success and -1 on an error unless said otherwise.
 */
#ifndef BOTC_FTS_H
#define BOTC_FTS_H

#include <stdbool.h>
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
/* Adds document id (>= 1): the first title_len bytes of title, body, and
 * lang (NULL = any language). Strings are copied. */
int fts_add(fts *f, int64_t id, const char *title, size_t title_len, const char *body,
            const char *lang);

/* One word of a query: lowercased letters and digits; prefix matches every
 * word starting with it. */
typedef struct fts_term {
    const char *word;
    bool prefix;
} fts_term;

/* Calls fn for every document containing t, in no particular order; fn
 * returns non-zero to stop (-1 returned). The number of documents, -1. */
typedef int (*fts_id_fn)(void *ud, int64_t id);
int fts_each(fts *f, const fts_term *t, fts_id_fn fn, void *ud);

/* Calls fn for the best `max` documents containing any of the n terms, in
 * language lang or none (lang NULL: any), best first; rank is -bm25
 * (higher is better, comparable within one search). fn returns non-zero to
 * stop (-1 returned). The number of documents, -1 on error. */
typedef int (*fts_hit_fn)(void *ud, int64_t id, double rank);
int fts_search(fts *f, const fts_term *terms, int n, const char *lang, int max, fts_hit_fn fn,
               void *ud);

#endif

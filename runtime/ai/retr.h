/*
 * retr.h — retrieval of passages for a question: text analysis, a BM25
 * index (storage/fts.h) and the score that says whether the best passage
 * answers at all. The knowledge base (ai/kb.h) uses it; long-term memory
 * is its next user.
 *
 * Analysis, the same for passages and questions. Words are runs of
 * letters and digits, lowercased and folded: Latin diacritics to the base
 * letter ("Škoda" → skoda, "Niš" → nis), "ё" to "е". Then stemmed by
 * Snowball (libstemmer): Cyrillic words with the Russian stemmer, Latin
 * ones with the English. Matching is by whole stems: "nis" never matches
 * "nissan", nor "tesla" a word that starts with it. Stop words (question
 * words, greetings, "how much", "сколько стоит") and numbers are left out
 * of index and questions alike: numbers say which, not what ("5",
 * "15.08.2027", "I'm 20").
 *
 * Vocabulary. A synonym group ("crash = accident", "amex = american
 * express", "машина = автомобиль = авто") makes a question's word that is
 * one of its members search for all of them; a member of several words is
 * searched as a phrase. RETR_BUILTIN_SYNONYMS lists common customer words;
 * the spec adds its own (retr_synonyms). A question word the index does
 * not know, of 5 letters or more, is a typo when it is one edit
 * (insertion, deletion, substitution, transposition) from a word of the
 * index — it searches for that word — or from a stop word: it is dropped
 * ("insurence", "сколко").
 *
 * Ranking and the threshold. Hits are ranked by bm25 (k1 2.0, b 0.75,
 * a heading's word counting 3×) with a synonym group as one term: first
 * over the postings of the question's rarest words (up to 2,000
 * documents: a common word costs much and ranks little), then again over
 * the 16 best with every word. Each hit also gets its coverage: the idf-weighted share of the question's
 * words it holds, where a word the index never saw weighs the most (a
 * question about a Tesla's range is not answered by the fleet). Unlike
 * bm25, coverage is comparable across questions: a hit answers when its
 * coverage reaches RETR_MIN_COVERAGE, calibrated on
 * tests/retrieval/questions.tsv; hits that answer come first, by rank.
 *
 * Memory: a retr owns copies of everything given to it. One retr is used
 * by one thread.
 */
#ifndef BOTC_RETR_H
#define BOTC_RETR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RETR_MIN_COVERAGE 0.55 /* below: the passage does not answer it */
#define RETR_MAX_TERMS 16      /* words of a question that are searched */
#define RETR_MAX_ID 10000000   /* passage ids */

typedef struct retr retr;

/* An empty index with the built-in synonyms. NULL with the reason in err. */
retr *retr_open(char *err, size_t errlen);
void retr_free(retr *r);

/* Adds a synonym group: members separated by '=' ("crash = accident").
 * 0; 1 when fewer than two members hold a word that can be searched (stop
 * words and numbers only); -1 on out-of-memory. Call before retr_add. */
int retr_synonyms(retr *r, const char *group);

/* Brackets a batch of retr_add (one transaction). retr_commit also builds
 * the vocabulary that questions are checked against. 0, -1. */
int retr_begin(retr *r);
/* Passage id (1..RETR_MAX_ID; ids index arrays: number passages from 1):
 * its heading (may be ""), body and language (NULL = any; up to 8
 * languages). 0, -1 (retr_errmsg says why). */
int retr_add(retr *r, int64_t id, const char *title, const char *body, const char *lang);
int retr_commit(retr *r);
/* The last error of the index, owned by r. */
const char *retr_errmsg(retr *r);

typedef struct retr_hit {
    int64_t id;
    double rank;      /* bm25: higher is better; compare within one search */
    double coverage;  /* 0..1, see above */
} retr_hit;

/* The best passages for question q, best first, at most max, in language
 * lang or none (lang NULL: any). The number of hits (0 when no word of q
 * is in the index), -1 on an error. */
int retr_search(retr *r, const char *q, const char *lang, retr_hit *hits, int max);

/* ---- a few passages kept elsewhere ----------------------------------------
 * Long-term memory (actions/memory.h) keeps each user's items in the bot's
 * database, analysed once when kept, and ranks only the asking user's
 * items for a question: a hundred documents, read by one query that names
 * the user. retr_rank ranks them as retr_search would (bm25, the idf
 * from these documents, the synonyms given to r; no typo correction, as
 * r's index may hold nothing), without an index. */

/* text analysed as passages are (stems separated by spaces), malloc'd;
 * NULL on out-of-memory. */
char *retr_analyse(retr *r, const char *text);

/* Ranks docs[0..n) (retr_analyse output) for question q: the ones holding
 * at least one of its words, best first, at most max; hit.id is the index
 * into docs. The number of hits. */
int retr_rank(retr *r, const char *q, const char *const *docs, int n, retr_hit *hits, int max);

/* The number of q's words that are searched (stop words and numbers
 * are not). */
int retr_terms(retr *r, const char *q);

/* False when q has no word with a letter: only numbers, dates, times,
 * punctuation or emoji. */
bool retr_has_words(const char *q);

#endif

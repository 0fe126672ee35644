/*
 * kb.h — the bot's knowledge: files split into chunks, a full-text index,
 * retrieval for a question, the grounded system prompt, the extractive
 * answerer of offline mode, and the "contact manager" marker.
 *
 * Chunks. A knowledge file is plain text; lines starting with '#' are
 * headings. A chunk is one heading's section: the heading (without the
 * '#'s) on the first line, then its paragraphs. A section longer than
 * KB_CHUNK_MAX characters is cut at paragraph breaks (a paragraph longer
 * than that at sentence ends) into several chunks, each repeating the
 * heading and starting with the previous chunk's last paragraph (the
 * overlap), so a fact on a boundary is found whole in one chunk. Writers
 * aim for sections of ~500–1000 characters: one topic each, which is also
 * what an extractive answer shows.
 *
 * Index at start, not at generation. The files are embedded in the
 * generated C (reviewable text, a self-contained binary); kb_open builds an
 * SQLite FTS5 index of them in a private in-memory database when the bot
 * starts (storage/fts.h). A prebuilt index would have to be an opaque blob in generated/
 * tied to the SQLite version and tokenizer, and it saves nothing that
 * matters: the rental bot's ~25 KB index in a few milliseconds. The index
 * never needs migrating: it is rebuilt from the text on every start.
 *
 * Retrieval. Tokenizer unicode61 with remove_diacritics 2 (case and
 * diacritics folded: "Škoda" finds "skoda"). A question is cut into words;
 * stop words (en, ru: question words, "how much", "сколько стоит") are
 * dropped; the rest become prefix queries of a crude stem — Russian words
 * lose up to two letters of ending ("депозита" → депози*, so депозит,
 * депозиту, депозитом match), English words a plural/-ing/-ed ending —
 * joined with OR and ranked by bm25 (headings weigh 3×). Besides its bm25
 * rank every hit gets a coverage: the idf-weighted share of the question's
 * words the chunk contains (a word the knowledge never mentions weighs the
 * most). Coverage, unlike bm25, is comparable across questions, so the
 * "is this answered at all" threshold (KB_MIN_COVERAGE) is set on it.
 *
 * Memory: a kb owns copies of everything; hits point into it and stay
 * valid until kb_free. One kb is used by one thread.
 */
#ifndef BOTC_KB_H
#define BOTC_KB_H

#include <stdbool.h>
#include <stddef.h>

#include "base/text.h"

#define KB_CHUNK_MAX 1000      /* characters per chunk, heading included */
#define KB_MIN_COVERAGE 0.40   /* below: the knowledge does not answer it */
#define KB_MAX_TERMS 16        /* words of a question that are searched */
#define KB_MARKER "[[CONTACT_MANAGER]]"

typedef struct kb_doc {
    const char *name;   /* e.g. "company_context.ru.txt" */
    const char *lang;   /* language code of the text, NULL = any */
    const char *text;
    size_t len;
} kb_doc;

typedef struct kb kb;

/* Chunk and index n documents. NULL on failure with the reason in err. */
kb *kb_open(const kb_doc *docs, int n, char *err, size_t errlen);
void kb_free(kb *k);

int kb_chunk_count(const kb *k);
const char *kb_chunk_text(const kb *k, int i); /* owned by k */

typedef struct kb_hit {
    int chunk;          /* index, for kb_chunk_text */
    const char *text;   /* the chunk (owned by the kb) */
    const char *source; /* the document's name */
    const char *lang;   /* the document's language or NULL */
    double rank;        /* -bm25: higher is better; compare within one search */
    double coverage;    /* 0..1, see above */
} kb_hit;

/* The best chunks for `question`, best first, at most max. lang (may be
 * NULL) restricts the search to chunks in that language or in none.
 * Returns the number of hits (0 when no word matches), -1 on an error. */
int kb_search(kb *k, const char *question, const char *lang, kb_hit *hits, int max);

/* Offline answer: the best-covered chunk in the user's language (any
 * language when that finds nothing), plus the runner-up when it is nearly
 * as good. Returns 1 with a malloc'd *answer, 0 when nothing reaches
 * KB_MIN_COVERAGE (offer a human), -1 on an error. */
int kb_extract(kb *k, const char *question, const char *lang, char **answer);

/* The system prompt of a grounded answer: the persona (may be NULL), the
 * spec's policy (may be NULL), the rules — answer only from the context
 * when `strict`, in the user's language (`lang`, a code), reply exactly
 * KB_MARKER when the context lacks the answer — and the hits numbered as
 * the context, capped at max_context characters. malloc'd; NULL on OOM. */
char *kb_system_prompt(const char *persona, const char *policy, bool strict, const char *lang,
                       const kb_hit *hits, int n, size_t max_context);

/* Cut `text` into chunks as kb_open does (exposed for tests). *out is a
 * malloc'd array of malloc'd strings (free with text_parts_free). Returns
 * 0, -1 on out-of-memory. */
int kb_split(const char *text, size_t len, char ***out, int *n);

/* Watches a streamed answer for KB_MARKER, which may arrive cut across
 * deltas. Feed every delta; what may be shown now is appended to `show`
 * (a tail that could be the start of the marker is held back). Once the
 * marker is complete, `found` is set and nothing more is shown. */
typedef struct kb_marker {
    char hold[sizeof KB_MARKER];
    size_t nhold;
    bool found;
} kb_marker;

void kb_marker_init(kb_marker *m);
/* Returns 0, -1 on out-of-memory. */
int kb_marker_feed(kb_marker *m, const char *s, size_t n, text_buf *show);
/* The answer ended: release a held tail that was not the marker. */
int kb_marker_end(kb_marker *m, text_buf *show);

#endif

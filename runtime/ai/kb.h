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
 * Sections. A chunk is always part of a section: text before the first
 * heading, and, when the file has "##" headings, the text under its "#"
 * title (the preamble: notes for the writer, instructions for the model)
 * is never indexed, so it is never shown to a customer.
 *
 * Retrieval is ai/retr.h's: stems, synonyms, typos, bm25, coverage. The
 * offline answer is the best-ranked chunk when its coverage reaches
 * RETR_MIN_COVERAGE. When an embeddings server is configured the chunks
 * also get vectors (ai/kbvec.h) and the model's context is found by
 * hybrid retrieval (kb_search_hybrid); the offline answer stays lexical.
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
#define KB_MAX_HITS 16         /* hits of one kb_search */
#define KB_MARKER "[[CONTACT_MANAGER]]"

typedef struct kb_doc {
    const char *name;   /* e.g. "company_context.ru.txt" */
    const char *lang;   /* language code of the text, NULL = any */
    const char *text;
    size_t len;
} kb_doc;

typedef struct kb kb;

/* Chunk and index n documents, with n_syn synonym groups of the spec
 * ("crash = accident", retr_synonyms) besides the built-in ones. NULL on
 * failure with the reason in err. */
kb *kb_open(const kb_doc *docs, int n, const char *const *synonyms, int n_syn, char *err,
            size_t errlen);
void kb_free(kb *k);

int kb_chunk_count(const kb *k);
const char *kb_chunk_text(const kb *k, int i); /* owned by k */

typedef struct kb_hit {
    int chunk;          /* index, for kb_chunk_text */
    const char *text;   /* the chunk (owned by the kb) */
    const char *source; /* the document's name */
    const char *lang;   /* the document's language or NULL */
    double rank;        /* bm25, or the fused score of kb_search_hybrid: higher
                         * is better; compare within one search */
    double coverage;    /* 0..1, ai/retr.h; 0 when only the vectors found it */
    double cosine;      /* kb_search_hybrid: to the question's vector, 0 when
                         * the vectors did not rank it */
} kb_hit;

/* The best chunks for `question`, best first, at most max (up to
 * KB_MAX_HITS). lang (may be NULL) restricts the search to chunks in that
 * language or in none. Returns the number of hits (0 when no word
 * matches), -1 on an error. */
int kb_search(kb *k, const char *question, const char *lang, kb_hit *hits, int max);

/* Sets the embedding of a chunk (dims floats, copied): the first sets the
 * size every other must have. 0; -1 on a bad chunk, another size, a zero
 * vector or out-of-memory. */
int kb_vector(kb *k, int chunk, const float *v, int dims);
/* The chunks that have a vector, and their size (0 before any). */
int kb_vector_count(const kb *k);
int kb_vector_dims(const kb *k);

/* Hybrid retrieval: kb_search's bm25 ranking and the chunks nearest to the
 * question's vector qv (cosine, over the chunks that have one, the same
 * languages kept), each up to KB_MAX_HITS, fused by reciprocal rank
 * (ai/vec.h, k 60). A chunk only the vectors found has coverage 0: it is
 * context for the model, never an offline answer (kb_answers). Without
 * vectors, or qv NULL or of another size, it is kb_search. */
int kb_search_hybrid(kb *k, const char *question, const float *qv, int dims, const char *lang,
                     kb_hit *hits, int max);

/* Whether the best hit of a search answers the question (its coverage
 * reaches RETR_MIN_COVERAGE). */
bool kb_answers(const kb_hit *best);

/* The number of the question's words that are searched. */
int kb_terms(kb *k, const char *question);

/* False for inputs that are only numbers, dates, times or punctuation:
 * there is nothing to look up, the user is asked what they mean. */
bool kb_is_question(const char *question);

/* Offline answer: the best-ranked chunk in the user's language (any
 * language when that does not answer) when it answers, plus the runner-up
 * when it answers as fully and ranks close. Returns 1 with a malloc'd
 * *answer, 0 when nothing answers or question is no question (offer a
 * human), -1 on an error. */
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

/*
 * kbvec.h — the knowledge's vectors: each chunk's embedding computed once
 * and cached in the bot's database by (model, content hash)
 * (storage/store_vectors.h), so a restart asks the embeddings server only
 * for chunks that are new or changed.
 *
 * kbvec_open loads the cached vectors into the kb at once and asks the
 * server for the rest on the event loop (ai/embed.h), 64 chunks per call,
 * one call after the other, each call's vectors stored as it ends: nothing
 * blocks, and until they arrive retrieval simply has fewer vectors
 * (kb_search_hybrid ranks what has one; with none it is lexical). A failed
 * call stops the filling; the next start asks for what is still missing.
 *
 * The hash is 128 bits of two FNV-1a passes over the chunk's text: the
 * text is the spec's own, not an adversary's, so a fast non-cryptographic
 * hash is enough to tell a changed chunk.
 */
#ifndef BOTC_KBVEC_H
#define BOTC_KBVEC_H

#include <stddef.h>

#include "ai/embed.h"
#include "ai/kb.h"
#include "storage/store_vectors.h"

#define KBVEC_HASH_LEN 32 /* hex digits */

typedef struct kbvec kbvec;

/* The embeddings of the chunks that were missing have arrived and are
 * stored (ok 1), or a call failed (ok 0, why says it; logged; the vectors
 * of the calls before it are kept and stored). */
typedef void (*kbvec_done_fn)(void *ud, int ok, const char *why);

/* Fills k's vectors for ec's model: from sv, then from ec for the chunks
 * sv lacks. k, sv and ec are borrowed and must outlive the handle. done
 * (may be NULL) runs once from the loop when chunks were missing. NULL
 * with the reason in err (a database error, out of memory, the call could
 * not start). */
kbvec *kbvec_open(kb *k, store_vectors *sv, embed_client *ec, kbvec_done_fn done, void *ud,
                  char *err, size_t errlen);
/* Abandons a call in flight (its vectors are not stored). */
void kbvec_free(kbvec *v);
/* The chunks asked of the server (0: the cache had them all). */
int kbvec_missing(const kbvec *v);

/* The content hash of text, KBVEC_HASH_LEN hex digits and a NUL. */
void kbvec_hash(const char *text, char out[KBVEC_HASH_LEN + 1]);

#endif

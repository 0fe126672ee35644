/*
 * store_vectors.h — the embed_cache table: the embedding of a text by a
 * model, kept so that a text is sent to the embeddings server once
 * (ai/kbvec.h), in the bot's database.
 *   embed_cache(model, hash, dims, vec, PK(model, hash))
 * hash names the text's content (the caller's hash: a changed text has a
 * new key, and the old row is simply never read again); vec is dims
 * float32 in the host's representation (every host botc supports is
 * little-endian IEEE 754).
 *
 * Statements run in whatever transaction the store has open. One handle,
 * one thread; functions return 0 on success and -1 on a database error
 * (logged) unless said otherwise.
 */
#ifndef BOTC_STORE_VECTORS_H
#define BOTC_STORE_VECTORS_H

#include <stddef.h>

#include "storage/store.h"

typedef struct store_vectors store_vectors;

/* Creates the table when missing and prepares the statements on st's
 * database (st must outlive the handle). NULL with the reason in err. */
store_vectors *store_vectors_open(store *st, char *err, size_t errlen);
void store_vectors_free(store_vectors *v);

/* The vector of (model, hash) into out (room for max floats): its dims;
 * 0 when there is no row or it has more than max dims; -1 on error. */
int store_vectors_get(store_vectors *v, const char *model, const char *hash, float *out, int max);
/* Stores (or replaces) the vector of (model, hash): dims floats. */
int store_vectors_put(store_vectors *v, const char *model, const char *hash, const float *vec,
                      int dims);
/* The number of rows, -1 on error. */
long store_vectors_count(store_vectors *v);

#endif

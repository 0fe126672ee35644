/*
 * vec.h — dense vectors of passages (embeddings, ai/embed.h): a matrix of
 * float32 rows, the rows nearest to a question's vector by cosine, and
 * reciprocal rank fusion of two rankings (hybrid retrieval: bm25 and
 * vectors, ai/kb.h).
 *
 * Rows are normalised when set, so the cosine is a dot product. The scan
 * is exact and linear: a bot's knowledge is hundreds to thousands of
 * chunks (well under a millisecond); 100,000 rows of 256 dims cost ~12 ms
 * a query, bound by memory (make bench-retrieval). Past that, an
 * approximate index would pay for its upkeep.
 *
 * Memory: an index owns its rows. One index, one thread.
 */
#ifndef BOTC_VEC_H
#define BOTC_VEC_H

#include <stdbool.h>

#define VEC_MAX_DIMS 8192 /* the largest embedding models give 3,072–4,096 */
#define VEC_RRF_K 60      /* reciprocal rank fusion's constant (Cormack et al. 2009) */
#define VEC_FUSE_MAX 64   /* ids of one ranking that vec_fuse reads */

typedef struct vec_index vec_index;

/* n rows of dims floats, none set yet. NULL on out-of-memory or dims not
 * 1..VEC_MAX_DIMS. */
vec_index *vec_new(int n, int dims);
void vec_free(vec_index *x);
int vec_dims(const vec_index *x);
int vec_rows(const vec_index *x);
/* The number of rows set. */
int vec_count(const vec_index *x);

/* Sets row to v (dims floats, copied and normalised). 0; -1 when row is
 * out of range or v is zero or not finite (the row stays as it was). */
int vec_set(vec_index *x, int row, const float *v);
bool vec_has(const vec_index *x, int row);

typedef struct vec_hit {
    int row;
    float cosine; /* -1..1 */
} vec_hit;

/* Keeps a row in a search (e.g. the chunks of one language). */
typedef bool (*vec_keep_fn)(void *ud, int row);

/* The set rows nearest to q (dims floats, need not be normalised), best
 * first, at most max, those keep (NULL: all) accepts. The number of hits;
 * 0 when q is zero. */
int vec_top(const vec_index *x, const float *q, vec_keep_fn keep, void *ud, vec_hit *hits,
            int max);

typedef struct vec_fused {
    int id;
    double score;       /* sum of 1 / (VEC_RRF_K + rank), ranks from 1 */
    int rank_a, rank_b; /* ranks in a and b, 0 where absent */
} vec_fused;

/* Reciprocal rank fusion of two rankings of ids (best first; an id at
 * most once in each; the first VEC_FUSE_MAX of each are read): every id
 * of either, by score, ties by a's order then b's. At most max into out;
 * the number written. */
int vec_fuse(const int *a, int na, const int *b, int nb, vec_fused *out, int max);

#endif

/*
 * store_vectors.c — see store_vectors.h.
 */
#include "storage/store_vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store_int.h"

struct store_vectors {
    store *st;
    sqlite3_stmt *get, *put, *count;
};

#define VECTORS_SQL(v) { \
    {&(v)->get, "SELECT dims, vec FROM embed_cache WHERE model = ?1 AND hash = ?2"}, \
    {&(v)->put, "INSERT OR REPLACE INTO embed_cache(model, hash, dims, vec) VALUES(?1, ?2, ?3, ?4)"}, \
    {&(v)->count, "SELECT count(*) FROM embed_cache"}, \
}

store_vectors *store_vectors_open(store *st, char *err, size_t errlen)
{
    store_vectors *v = calloc(1, sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    v->st = st;
    const store__sql q[] = VECTORS_SQL(v);
    if (store__sqlite_vectors_schema(st, err, errlen) ||
        store__prepare_all(st, q, sizeof q / sizeof q[0], "vector cache", err, errlen)) {
        store_vectors_free(v);
        return NULL;
    }
    return v;
}

void store_vectors_free(store_vectors *v)
{
    if (!v)
        return;
    const store__sql q[] = VECTORS_SQL(v);
    store__finalize_all(q, sizeof q / sizeof q[0]);
    free(v);
}

int store_vectors_get(store_vectors *v, const char *model, const char *hash, float *out, int max)
{
    sqlite3_stmt *s = store__reset(v->get);
    sqlite3_bind_text(s, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int dims = 0;
    if (rc == SQLITE_ROW) {
        int d = sqlite3_column_int(s, 0);
        const void *blob = sqlite3_column_blob(s, 1);
        int bytes = sqlite3_column_bytes(s, 1);
        /* a row whose blob does not hold its dims is treated as absent:
         * it is re-embedded and replaced */
        if (d > 0 && d <= max && blob && (size_t)bytes == (size_t)d * sizeof(float)) {
            memcpy(out, blob, (size_t)bytes);
            dims = d;
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store__fail(v->st, "vector get");
    return dims;
}

int store_vectors_put(store_vectors *v, const char *model, const char *hash, const float *vec,
                      int dims)
{
    if (dims <= 0)
        return -1;
    sqlite3_stmt *s = store__reset(v->put);
    sqlite3_bind_text(s, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, dims);
    sqlite3_bind_blob(s, 4, vec, dims * (int)sizeof(float), SQLITE_STATIC);
    return store__run(v->st, s, "vector put") < 0 ? -1 : 0;
}

long store_vectors_count(store_vectors *v)
{
    sqlite3_stmt *s = store__reset(v->count);
    int rc = sqlite3_step(s);
    long n = rc == SQLITE_ROW ? (long)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return store__fail(v->st, "vector count");
    return n;
}

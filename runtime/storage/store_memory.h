/*
 * store_memory.h — long-term memory items (actions/memory.h says what they
 * are for), in the bot's database:
 *   memory_items(id PK, user_id, kind, text, terms, session_id, at)
 *   memory_vectors(item_id PK → memory_items ON DELETE CASCADE, user_id, model, dims, vec)
 * kind is "summary" (a closed session's summary) or "fact" (what the user
 * asked to keep); terms is the text analysed for retrieval (ai/retr.h:
 * stems separated by spaces), kept beside it so that a question ranks the
 * user's items without analysing them again; session_id is 0 for none;
 * at is unix seconds. An item's vector is its embedding by `model` (hybrid
 * recall), dims float32 in host order; it goes with its item. Every read
 * names the user in its WHERE clause: one user's items are never read for
 * another.
 *
 * Statements run in whatever transaction the store has open. One handle,
 * one thread; functions return 0 on success and -1 on a database error
 * (logged) unless said otherwise.
 */
#ifndef BOTC_STORE_MEMORY_H
#define BOTC_STORE_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

typedef struct store_memory store_memory;

/* Creates the table when missing and prepares the statements on st's
 * database (st must outlive the handle). NULL with the reason in err. */
store_memory *store_memory_open(store *st, char *err, size_t errlen);
void store_memory_free(store_memory *m);

/* Adds an item of user_id (strings borrowed); *id gets its id. */
int store_memory_add(store_memory *m, int64_t user_id, const char *kind, const char *text,
                     const char *terms, int64_t session_id, int64_t *id);
/* Deletes the user's items but the newest `keep`. The rows deleted, -1. */
int store_memory_trim(store_memory *m, int64_t user_id, int keep);

/* One item as read; strings valid during the call. fn returns non-zero to
 * stop (then -1 is returned). */
typedef int (*store_memory_fn)(void *ud, int64_t id, const char *kind, const char *text,
                               const char *terms, int64_t at);
/* Calls fn for the user's items, newest first, at most `limit`. The number
 * of items, -1. */
int store_memory_each(store_memory *m, int64_t user_id, int limit, store_memory_fn fn, void *ud);
/* The text of the user's item id into fn (kind, text; terms ""): 1 found,
 * 0 no such item of this user, -1. */
int store_memory_get(store_memory *m, int64_t user_id, int64_t id, store_memory_fn fn, void *ud);
/* Deletes the user's item id: 1 deleted, 0 no such item of this user, -1. */
int store_memory_forget(store_memory *m, int64_t user_id, int64_t id);
/* Deletes the user's summary items of session_id and their vectors (a
 * session closed again: its new summary replaces the old). The items
 * deleted, -1. */
int store_memory_forget_summary(store_memory *m, int64_t user_id, int64_t session_id);
/* The number of the user's items, -1. */
long store_memory_count(store_memory *m, int64_t user_id);
/* Deletes all the user's items and vectors. The items deleted, -1. */
int store_memory_delete_user(store_memory *m, int64_t user_id);
/* Appends the user's items to arr ({"id", "kind", "text", "session_id",
 * "at"}) and their vectors' descriptions to vecs ({"item_id", "model",
 * "dims", "at"}: the floats themselves are the model's, not the user's
 * words), in id order. */
struct cJSON;
int store_memory_export(store_memory *m, int64_t user_id, struct cJSON *arr, struct cJSON *vecs);

/* Stores (or replaces) the vector of the user's item item_id: dims floats
 * by model. */
int store_memory_put_vec(store_memory *m, int64_t user_id, int64_t item_id, const char *model,
                         const float *vec, int dims);
/* Calls fn for each of the user's vectors by model (vec valid during the
 * call; fn returns non-zero to stop, then -1). The number, -1. */
typedef int (*store_memory_vec_fn)(void *ud, int64_t item_id, const float *vec, int dims);
int store_memory_vecs(store_memory *m, int64_t user_id, const char *model, store_memory_vec_fn fn,
                      void *ud);
/* Items of any user with no vector by model and an id above after_id, in
 * id order, at most limit, to fn (text valid during the call; non-zero
 * stops, then -1). For the embedding of what was kept without a vector
 * (ai/memvec.h), never for recall. The number, -1. */
typedef int (*store_memory_text_fn)(void *ud, int64_t id, int64_t user_id, const char *text);
int store_memory_unembedded(store_memory *m, const char *model, int64_t after_id, int limit,
                            store_memory_text_fn fn, void *ud);
/* 1 when the user has a vector by model, 0 when not, -1. */
int store_memory_has_vecs(store_memory *m, int64_t user_id, const char *model);

#endif

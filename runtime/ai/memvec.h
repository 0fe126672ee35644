/*
 * memvec.h — the vectors of long-term memory items kept without one
 * (actions/memory.h): session summaries kept by runtime code, facts kept
 * offline or before an embeddings server was configured, or whose own
 * embedding failed. Asked of the embeddings server on the event loop,
 * MEMVEC_CALL_MAX items a call, one call after the other, each call's
 * vectors stored as it ends (storage/store_memory.h) — the way kbvec fills
 * the knowledge's.
 *
 * memvec_pump is cheap when there is nothing to do (the transport calls it
 * every turn): it reads the database only after memvec_dirty (an item was
 * kept) or at the first pump, and then only ids above the last one it
 * embedded. A failed call is retried MEMVEC_RETRY_MS later.
 *
 * One handle, one thread (the loop's).
 */
#ifndef BOTC_MEMVEC_H
#define BOTC_MEMVEC_H

#include <stddef.h>

#include "ai/embed.h"
#include "storage/store_memory.h"

#define MEMVEC_CALL_MAX 32     /* items a call */
#define MEMVEC_RETRY_MS 60000  /* after a failed call */

typedef struct memvec memvec;

/* sm and ec are borrowed and must outlive the handle; the vectors are
 * stored by ec's model. NULL on out-of-memory. */
memvec *memvec_new(store_memory *sm, embed_client *ec);
/* Abandons a call in flight (its vectors are not stored). */
void memvec_free(memvec *v);
/* New items may lack a vector. */
void memvec_dirty(memvec *v);
/* Starts a call when there are items to embed and none is in flight. */
void memvec_pump(memvec *v);
/* Items embedded so far. */
long memvec_embedded(const memvec *v);

#endif

/*
 * history.h — each user's recent exchange with the model, so a follow-up
 * question ("and for a week?") reaches the model with its context.
 *
 * Table (created when missing): llm_history(id PK, user_id, role, content,
 * at). Kept small on purpose: at most HIST_KEEP messages per user (older
 * ones deleted on every add), each cut to HIST_CONTENT_MAX bytes at a
 * character boundary. The handle borrows the store's connection, so rows
 * commit with the answer's transaction.
 */
#ifndef BOTC_HISTORY_H
#define BOTC_HISTORY_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "store.h"

#define HIST_KEEP 8
#define HIST_CONTENT_MAX 2000

typedef struct hist hist;

hist *hist_open(store *st, char *err, size_t errlen);
void hist_free(hist *h);

/* Appends one message ("user" / "assistant"). 0 or -1. */
int hist_add(hist *h, int64_t user_id, const char *role, const char *content);
/* Appends the user's last `max` messages, oldest first, to arr as
 * {"role", "content"} objects. Returns how many, -1 on error. */
int hist_recent(hist *h, int64_t user_id, int max, cJSON *arr);
/* Forgets the user (delete_data). 0 or -1. */
int hist_delete(hist *h, int64_t user_id);

#endif

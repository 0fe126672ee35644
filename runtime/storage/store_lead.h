/*
 * store_lead.h — the lead tables (lead.h says what they are for), in the
 * bot's database:
 *   leads(id PK, user_id, form, text, thread_id, posted, created)
 *         thread_id NULL: no topic yet; posted 0/1; created ISO UTC
 *   lead_topics(chat_id, name, thread_id, PK(chat_id, name))
 *
 * Statements run in whatever transaction the store has open. One handle,
 * one thread; functions return 0 on success and -1 on a database error
 * (logged) unless said otherwise.
 */
#ifndef BOTC_STORE_LEAD_H
#define BOTC_STORE_LEAD_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

typedef struct store_lead store_lead;

/* Creates the tables when missing (the topics of an older lead_topics,
 * without chat_id, become those of `group`) and prepares the statements
 * on st's database (st must outlive the handle). NULL with the reason in
 * err. */
store_lead *store_lead_open(store *st, int64_t group, char *err, size_t errlen);
void store_lead_free(store_lead *t);

/* Inserts a lead, not posted, created now. Strings copied. */
int store_lead_add(store_lead *t, int64_t user_id, const char *form, const char *text);

typedef struct store_lead_row {
    int64_t id, user_id;
    char *form, *text; /* malloc'd: the caller frees them */
    int64_t thread_id; /* 0 when NULL */
} store_lead_row;
/* The oldest lead not posted into *out: 1 found, 0 none, -1 on error or
 * out of memory. */
int store_lead_next(store_lead *t, store_lead_row *out);
/* Leads not posted, -1 on error. */
int store_lead_pending(store_lead *t);
/* Marks lead id posted, to thread_id (-1: without a topic). */
int store_lead_posted(store_lead *t, int64_t id, int64_t thread_id);
/* Sets lead id's thread_id. */
int store_lead_set_thread(store_lead *t, int64_t id, int64_t thread_id);
/* Sets lead id's thread_id back to NULL when it is `mark`. */
int store_lead_unmark(store_lead *t, int64_t id, int64_t mark);

/* Named topic `name` of chat_id into *thread_id: 1 found, 0 none, -1. */
int store_lead_topic_get(store_lead *t, int64_t chat_id, const char *name, int64_t *thread_id);
/* Inserts or replaces named topic `name` of chat_id. */
int store_lead_topic_put(store_lead *t, int64_t chat_id, const char *name, int64_t thread_id);
/* Deletes named topic `name` of chat_id when its thread_id is `mark`. */
int store_lead_topic_unmark(store_lead *t, int64_t chat_id, const char *name, int64_t mark);

/* Deletes the user's leads, posted or not. */
int store_lead_forget(store_lead *t, int64_t user_id);
/* Appends the user's leads ({"id", "form", "text", "thread_id", "posted",
 * "created"}, in id order) to the array arr. */
struct cJSON;
int store_lead_export(store_lead *t, int64_t user_id, struct cJSON *arr);

#endif

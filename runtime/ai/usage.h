/*
 * usage.h — LLM tokens used, per user per day, in the bot's database.
 *
 * Table (created by usage_open when missing):
 *   llm_usage(user_id, day, tokens, PK(user_id, day))
 * day is the local date "YYYY-MM-DD" in the spec's time zone (the caller
 * computes it with token_limits.h's lim_day, the one way to a local day), so a
 * day's total resets at that zone's midnight. Rows older than 40 days are
 * pruned by usage_add.
 *
 * The table and its statements are storage/store_usage.c's: they run in
 * whatever transaction the store has open. One handle, one thread.
 */
#ifndef BOTC_USAGE_H
#define BOTC_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

typedef struct usage usage;

/* Prepare the table and statements on st's database (st must outlive the
 * handle). NULL on failure with the reason in err. */
usage *usage_open(store *st, char *err, size_t errlen);
void usage_free(usage *u);

/* Add tokens to user_id's total for day. Returns 0, -1 on a database error. */
int usage_add(usage *u, int64_t user_id, const char *day, int64_t tokens);
/* The user's total for day (0 when none), -1 on a database error. */
int64_t usage_today(usage *u, int64_t user_id, const char *day);

/* Erase the user's rows (delete_data). 0 or -1. */
int usage_delete_user(usage *u, int64_t user_id);
/* Adds "llm_usage": [{"day", "tokens"}...] (the user's) to root
 * (export_data). 0 or -1. */
struct cJSON;
int usage_export_user(usage *u, int64_t user_id, struct cJSON *root);

#endif

/*
 * store_usage.h — the llm_usage table: LLM tokens per user per day (usage.h
 * says which day), in the bot's database.
 *   llm_usage(user_id, day, tokens, PK(user_id, day))   day "YYYY-MM-DD"
 *
 * Statements run in whatever transaction the store has open. One handle,
 * one thread; functions return 0 on success and -1 on a database error
 * (logged) unless said otherwise.
 */
#ifndef BOTC_STORE_USAGE_H
#define BOTC_STORE_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

typedef struct store_usage store_usage;

/* Creates the table when missing and prepares the statements on st's
 * database (st must outlive the handle). NULL with the reason in err. */
store_usage *store_usage_open(store *st, char *err, size_t errlen);
void store_usage_free(store_usage *u);

/* Adds tokens to user_id's row for day (created at 0). */
int store_usage_add(store_usage *u, int64_t user_id, const char *day, int64_t tokens);
/* Deletes the rows of days more than `days` days before today (UTC). */
int store_usage_prune(store_usage *u, int days);
/* The user's tokens for day, 0 when there is no row, -1 on error. */
int64_t store_usage_get(store_usage *u, int64_t user_id, const char *day);
/* Deletes every row of the user. */
int store_usage_delete_user(store_usage *u, int64_t user_id);
/* Appends the user's rows to the array arr as {"day", "tokens"} objects,
 * oldest first. The number of rows, -1 on error. */
struct cJSON;
int store_usage_export(store_usage *u, int64_t user_id, struct cJSON *arr);

#endif

/*
 * store_tool_calls.h — the tool calls made for users' questions (the
 * spec's tools, ai/tool.h), in the bot's database:
 *   tool_calls(id PK, user_id, chat_id, at, name, arguments, ok, status, result)
 * at: unix seconds; arguments: the model's JSON text; result: what the
 * model was given (capped by ai/tool.h). They are the user's data:
 * export_data and delete_data cover them (actions/tools.c).
 *
 * Statements run in whatever transaction the store has open. Functions
 * return 0 on success and -1 on a database error (logged).
 */
#ifndef BOTC_STORE_TOOL_CALLS_H
#define BOTC_STORE_TOOL_CALLS_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

typedef struct store_tool_calls store_tool_calls;

/* Creates the table when missing and prepares the statements on st's
 * database (st must outlive the handle). NULL with the reason in err. */
store_tool_calls *store_tool_calls_open(store *st, char *err, size_t errlen);
void store_tool_calls_free(store_tool_calls *t);

/* Records one call, now. Strings borrowed. */
int store_tool_calls_add(store_tool_calls *t, int64_t user_id, int64_t chat_id, const char *name,
                         const char *arguments, int ok, long status, const char *result);
/* Deletes the user's calls. */
int store_tool_calls_delete_user(store_tool_calls *t, int64_t user_id);
/* Appends the user's calls to arr ({"id", "chat_id", "at", "name",
 * "arguments", "ok", "status", "result"}), in id order. */
struct cJSON;
int store_tool_calls_export(store_tool_calls *t, int64_t user_id, struct cJSON *arr);
/* The user's calls (for tests and the operator). -1 on error. */
int store_tool_calls_count(store_tool_calls *t, int64_t user_id);

#endif

/*
 * store_feedback.h — the feedback tables (feedback.h says what they are
 * for), in the bot's database:
 *   ai_answers(id PK, user_id, chat_id, at)            at: unix seconds
 *   votes(answer_id PK, user_id, chat_id, message_id, vote, at)
 *
 * Statements run in whatever transaction the store has open. One handle,
 * one thread; functions return 0 on success and -1 on a database error
 * (logged) unless said otherwise.
 */
#ifndef BOTC_STORE_FEEDBACK_H
#define BOTC_STORE_FEEDBACK_H

#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

typedef struct store_feedback store_feedback;

/* Creates the tables when missing and prepares the statements on st's
 * database (st must outlive the handle). NULL with the reason in err. */
store_feedback *store_feedback_open(store *st, char *err, size_t errlen);
void store_feedback_free(store_feedback *f);

/* Records an AI answer for user_id in chat_id, now; *id gets its id. */
int store_feedback_add_answer(store_feedback *f, int64_t user_id, int64_t chat_id, int64_t *id);
/* Deletes the answers older than keep_s seconds. */
int store_feedback_prune(store_feedback *f, int64_t keep_s);
/* Whom answer id was for, into *user_id: 1 found, 0 no such answer, -1. */
int store_feedback_owner(store_feedback *f, int64_t id, int64_t *user_id);
/* Stores vote (a static string, "helped" or "operator") on answer_id
 * unless the answer has one: 1 stored, 0 it had a vote (kept), -1. */
int store_feedback_vote(store_feedback *f, int64_t answer_id, int64_t user_id, int64_t chat_id,
                        int64_t message_id, const char *vote);
/* Deletes the user's answers and votes. */
int store_feedback_delete_user(store_feedback *f, int64_t user_id);
/* Appends the user's rows to answers ({"id", "chat_id", "at"}) and votes
 * ({"answer_id", "chat_id", "message_id", "vote", "at"}), in id order. */
struct cJSON;
int store_feedback_export(store_feedback *f, int64_t user_id, struct cJSON *answers,
                          struct cJSON *votes);

#endif

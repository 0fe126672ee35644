/*
 * session.h — AI sessions: what the model sees of a conversation, and what
 * is kept of it once it ends.
 *
 * A session is the model's context: the `llm` action sends the open
 * session's turns, nothing older. A question with no session open opens
 * one by itself (its title is the question); `session_start` opens a
 * fresh one, `session_end` closes it, `session_list` lists the user's
 * sessions with buttons that continue one. A session closes with a summary:
 * the model's (a quiet BOT_IO_LLM request: no drafts) when it is
 * configured, else an extractive one (the session's questions,
 * sys_session_digest). A session with no turn for the spec's
 * `llm: session_idle_minutes` closes itself the same way: the transport's
 * sweep (act_session_idle_due / act_session_idle_close), or, where no sweep
 * runs (the terminal), the user's next question (extractive summary).
 * Storage: storage/store_session.h.
 */
#ifndef BOTC_ACTIONS_SESSION_H
#define BOTC_ACTIONS_SESSION_H

#include <stdint.h>

#include "dialogue/action.h"

/* The open session's newest `max` turns for the model's request (fn as in
 * store_session_turns: role "user" or "assistant"). How many, 0 when none
 * is open, -1 on error. */
int act_session_turns(bot_act *c, int max, int (*fn)(void *ud, const char *role, const char *text),
                      void *ud);
/* Before a question: a session idle past the spec's limit closes now (the
 * extractive summary: the sweep did not get to it). 0 or -1. */
int act_session_expire(bot_act *c);
/* A question and the model's answer, into the open session (opened now
 * when none is: the implicit session). 0 or -1. */
int act_session_record(bot_act *c, const char *question, const char *answer);
/* The same for user_id in chat_id outside an action (the conversation
 * tests' scripted model), in the store's open transaction. 0 or -1. */
int act_session_record_user(bot *b, int64_t user_id, int64_t chat_id, const char *question,
                            const char *answer);

/* ---- the idle sweep (delivery/tgbot.c) ------------------------------------ */

/* A session due to close. */
typedef struct act_idle {
    int64_t user_id, id, at; /* at: its last turn, as seen */
} act_idle;

/* Up to max sessions idle past the spec's limit at `now` (unix seconds)
 * into out. How many (0 when the spec sets no limit), -1 on error. Runs
 * in the store's open transaction or its own statement. */
int act_session_idle_due(bot *b, int64_t now, act_idle *out, int max);
/* The model's request for k's summary: a malloc'd JSON array of
 * {role, content}, NULL when the session has no turns or on out-of-memory. */
char *act_session_summary_request(bot *b, const act_idle *k);
/* Closes k with `summary` (the model's; NULL or "": the extractive one)
 * in a transaction of its own, unless a turn came meanwhile; `tokens` the
 * summary's request used (0: none) count against the user's daily limit.
 * 1 closed, 0 not (a turn came, or it is gone), -1 on error. */
int act_session_idle_close(bot *b, const act_idle *k, const char *summary, long tokens);
/* The tokens a summary's request used: the server's usage, else its bytes
 * (asked, the request; answer) / 4. */
long act_session_summary_tokens(long prompt_tokens, long completion_tokens, size_t asked,
                                size_t answer);

#endif

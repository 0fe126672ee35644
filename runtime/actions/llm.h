/*
 * llm.h — the `llm` action family's handle for the transport: the
 * knowledge index, whose chunk vectors the transport that owns the event
 * loop fills (ai/kbvec.h) for hybrid retrieval.
 */
#ifndef BOTC_ACTIONS_LLM_H
#define BOTC_ACTIONS_LLM_H

#include <stdint.h>

#include "ai/kb.h"
#include "dialogue/bot.h"

/* The spec's knowledge, NULL without any. Borrowed; lives as long as b. */
kb *act_llm_kb(bot *b);

/* Counts `tokens` (> 0; else nothing) of a model request user_id caused
 * outside the llm action — a session's summary — against their daily
 * limit, in the store's open transaction. 0 or -1. */
int act_llm_count(bot *b, int64_t user_id, long tokens);
/* Whether user_id's daily tokens allow another model request: 1 yes (also
 * without a limit, and on a database error, as the llm action does), 0
 * the limit is reached. */
int act_llm_allowed(bot *b, int64_t user_id);

#endif

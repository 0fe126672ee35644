/*
 * llm.h — the `llm` action family's handle for the transport: the
 * knowledge index, whose chunk vectors the transport that owns the event
 * loop fills (ai/kbvec.h) for hybrid retrieval.
 */
#ifndef BOTC_ACTIONS_LLM_H
#define BOTC_ACTIONS_LLM_H

#include "ai/kb.h"
#include "dialogue/bot.h"

/* The spec's knowledge, NULL without any. Borrowed; lives as long as b. */
kb *act_llm_kb(bot *b);

#endif

/*
 * tools.h — the spec's tools for the `llm` action (spec/REFERENCE.md,
 * "Tools"), and the part behind them: which tools this run offers the
 * model (those whose ${ENV} variables are set), who is asking (filled by
 * the runtime, never by the model), and the calls made, stored as the
 * user's data (storage/store_tool_calls.h; export_data and delete_data
 * cover them).
 */
#ifndef BOTC_ACTIONS_TOOLS_H
#define BOTC_ACTIONS_TOOLS_H

#include "dialogue/action.h"

/* The tools offered for c's question: deferred.h's u.llm.tools (malloc'd
 * JSON), NULL when the spec offers none in this run. *err set to 1 on
 * out-of-memory (NULL then too). */
char *act_tools_offer(bot_act *c, int *err);

/* Stores the calls made for c's answer (bot_io_res.tool_log, may be NULL). */
int act_tools_record(bot_act *c, const char *tool_log);

#endif

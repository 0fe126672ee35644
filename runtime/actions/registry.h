/*
 * registry.h — the parts the bot opens, listed once, and their indices.
 *
 * X(ENUM, row): bot_parts[] (registry.c) in this order, BOT_PART_<ENUM> the
 * index for bot_part_state. Order matters: parts open in it (a part may
 * use an earlier one's state), their take and pre_step hooks are asked in
 * it, and they close in reverse. The actions' table derives from
 * dialogue/action_list.h.
 */
#ifndef BOTC_REGISTRY_H
#define BOTC_REGISTRY_H

#define BOT_PARTS(X) \
    X(HANDOFF, part_handoff)   /* human operators: the managers' group, topics */ \
    X(FEEDBACK, part_feedback) /* "👍 Helped" / "Call an operator" under AI answers */ \
    X(LEADS, part_leads)       /* completed forms posted to the managers */ \
    X(LLM, part_llm)           /* the knowledge index, the model, daily token limits */ \
    X(TOOLS, part_tools)       /* the spec's tools offered to the model, their calls stored */ \
    X(HTTP_GET, part_http_get) /* BOT_HTTP_GET_URL */ \
    X(SESSION, part_session)   /* AI sessions: the model's context, summaries, the idle sweep */ \
    X(MEMORY, part_memory)     /* long-term memory: facts and session summaries, recalled */

#define BOT_PART_ENUM_(E, row) BOT_PART_##E,
enum { BOT_PARTS(BOT_PART_ENUM_) BOT_PART_COUNT };
#undef BOT_PART_ENUM_

#endif

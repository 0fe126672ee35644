/*
 * action_list.h — the actions a spec can name, listed once.
 *
 * X(ENUM, spec_name, row): machine.h derives enum bm_action (BM_ACT_<ENUM>)
 * from it; botc (codegen/check.c, lower.c, emit_c.c) the names a spec may
 * write (`action: llm`) and the enum names it emits; the runtime its
 * dispatch table (actions/registry.c: `row` is the bot_action, see
 * dialogue/action.h, that the action's module exports). A new action is
 * one module under runtime/actions/ and one line here; spec/REFERENCE.md
 * documents it for spec authors (tests/unit/test_lists.c checks that it
 * does). `act_unavailable` is the row of an action a spec may name that
 * this build cannot perform: the user gets sys_unavailable.
 */
#ifndef BOTC_ACTION_LIST_H
#define BOTC_ACTION_LIST_H

#define BM_ACTIONS(X) \
    X(LLM, llm, act_llm)                     /* answer the user's text (the model, else the knowledge) */ \
    X(HANDOFF, handoff, act_handoff)         /* hand the chat to a human operator */ \
    X(TRANSCRIBE, transcribe, act_unavailable) /* transcribe a voice note, then treat it as text */ \
    X(EXPORT_DATA, export_data, act_export_data) /* send the user everything stored about them */ \
    X(DELETE_DATA, delete_data, act_delete_data) /* erase everything stored about the user */ \
    X(SESSION_START, session_start, act_session_start) /* open a new AI session */ \
    X(SESSION_END, session_end, act_session_end) /* close the current AI session */ \
    X(SESSION_LIST, session_list, act_session_list) /* list the user's AI sessions */ \
    X(HTTP_GET, http_get, act_http_get)      /* answer with GET $BOT_HTTP_GET_URL?text=... */ \
    X(REMEMBER, remember, act_remember)      /* keep "remember that ..." in long-term memory */ \
    X(MEMORY_LIST, memory_list, act_memory_list) /* list the memory items, a forget button each */ \
    X(MEMORY_FORGET, memory_forget, act_memory_forget) /* forget every memory item, once confirmed */

#endif

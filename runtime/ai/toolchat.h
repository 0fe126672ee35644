/*
 * toolchat.h — a model's answer with the spec's tools (ai/tool.h): the
 * model is asked (llm_chat_tools), the calls it answers with are run in the
 * event loop (tool_batch), and it is asked again with their answers, until
 * it answers in text. At most the tools' "max_calls" calls, and
 * TOOLCHAT_ROUNDS answers with calls; then the model is asked with
 * tool_choice "none". Without tools it is one plain llm call.
 *
 * The transports' half: delivery/draft.c streams the answer into a chat,
 * front/console.c into the terminal. Tool limits come from the
 * environment: TOOL_TIMEOUT_MS (10000) and TOOL_MAX_BODY (65536).
 */
#ifndef BOTC_TOOLCHAT_H
#define BOTC_TOOLCHAT_H

#include <stddef.h>

#include "ai/llm.h"
#include "net/loop.h"

#define TOOLCHAT_ROUNDS 3

/* The outcome. Everything borrowed for the callback. */
typedef struct toolchat_result {
    llm_status status;      /* the last model call's (LLM_ERR_NOMEM when a
                             * round could not start) */
    const char *text;       /* the final answer (whole when LLM_OK), never NULL */
    size_t len;
    const char *error;      /* why, when not LLM_OK; else "" */
    long http_status;
    long prompt_tokens, completion_tokens; /* every round's, -1 when none reported */
    int attempts;           /* the last call's */
    int first_token_ms;     /* the last call's */
    const char *tool_log;   /* the calls made, a JSON array of {name,
                             * arguments, ok, status, result}; NULL if none */
} toolchat_result;

typedef struct toolchat_hooks {
    llm_delta_fn on_delta;  /* the answer so far (of this round) */
    void (*on_done)(void *ud, const toolchat_result *r); /* exactly once, unless cancelled */
    void (*on_round)(void *ud); /* may be NULL: a new round starts, its text from "" */
    void (*on_tools)(void *ud); /* may be NULL: tool requests are running */
    void (*on_tick)(void *ud);  /* may be NULL: every loop turn while the model is
                                 * asked (llm_set_tick) */
    void *ud;
} toolchat_hooks;

typedef struct toolchat toolchat;

/* Starts the answer to messages (a JSON array of chat messages, text) with
 * tools (deferred.h's u.llm.tools text, NULL = none). c and lp borrowed,
 * h copied. NULL when it could not start (bad messages, out of memory, the
 * transfer refused): no hook runs. */
toolchat *toolchat_start(llm_client *c, loop *lp, const char *model, const char *messages,
                         const char *tools, const toolchat_hooks *h);
/* No hook runs after this; the model call and tool requests still in
 * flight are abandoned. */
void toolchat_cancel(toolchat *t);

#endif

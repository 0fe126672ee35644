/*
 * draft.h — a model's answer streamed into a chat while it is generated.
 *
 * The transport's half of the llm action (actions/llm.c builds the request:
 * a BOT_IO_LLM bot_io_req, dialogue/deferred.h): the request goes to the
 * model through ai/toolchat.c (llm.c, and the calls of the spec's tools it
 * makes, with "typing" while they run) on the event loop; as text arrives a private chat sees it grow through
 * sendMessageDraft (Bot API 9.5), a group sees "typing" (sendChatAction,
 * renewed every 4.5 s). While the model has not answered its first token
 * every chat sees "typing", renewed every 4.5 s on the loop's ticks. Both are volatile outbox calls (outq_push_volatile):
 * under the same flood limits as every call, coalesced to the newest, and
 * dropped on any failure — never resent, never in the way of the final
 * message, which the re-run input commits to the durable outbox.
 *
 * Throttle: the first text goes out at once (the user sees the answer
 * start), later drafts at most every DRAFT_MIN_MS and only when the text
 * grew by DRAFT_MIN_CHARS bytes or more (or 1 s passed). The contact
 * manager marker never shows (kb_marker). An answer longer than one
 * message (4096 UTF-16 units) ends its drafts with the first message as the
 * final answer will cut it (text_split); the rest shows only in the final
 * messages, so no draft is ever over Telegram's limit.
 */
#ifndef BOTC_DRAFT_H
#define BOTC_DRAFT_H

#include "dialogue/deferred.h"
#include "net/loop.h"
#include "telegram/outq.h"

#define DRAFT_MIN_MS 300
#define DRAFT_MIN_CHARS 24

typedef struct draft_ctx draft_ctx;

/* lp and q borrowed (must outlive it). The model client is made from the
 * environment (llm_options_from_env) on the first draft_start. */
draft_ctx *draft_new(loop *lp, outq *q);
/* Answers every job still running with ok = 0 ("cancelled"), then frees. */
void draft_free(draft_ctx *d);

/* res borrowed for the call: ok = 1 with the whole text in body/len when
 * the answer completed; else error says why (body may hold a partial
 * answer). */
typedef void (*draft_done_fn)(void *ud, const bot_io_res *res);

/* Starts streaming req (a BOT_IO_LLM request: req->u.llm).
 * Returns 0 (fn runs exactly once, later), -1 when it cannot start (no
 * OPENAI_API_BASE, bad messages, out of memory; fn never runs),
 * DRAFT_CIRCUIT_OPEN when the model client's circuit breaker is open
 * (ai/llm.h: the model failed again and again and is being probed; fn
 * never runs: the question gets its apology at once). */
#define DRAFT_CIRCUIT_OPEN (-2)
int draft_start(draft_ctx *d, const bot_io_req *req, draft_done_fn fn, void *ud);

/* Jobs streaming now. */
int draft_running(const draft_ctx *d);

#endif

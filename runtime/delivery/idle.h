/*
 * idle.h — the sweep that closes AI sessions idle past the spec's
 * `llm: session_idle_minutes` (actions/session.h), run from the event
 * loop's turn (delivery/tgbot.c). Each due session gets the model's summary
 * (a quiet chat completion on the loop: nothing is shown to the user) or,
 * without a model, when it fails or when the user's daily tokens are
 * spent, the extractive one, and closes in a
 * transaction of its own — unless the user wrote meanwhile.
 */
#ifndef BOTC_DELIVERY_IDLE_H
#define BOTC_DELIVERY_IDLE_H

#include "dialogue/bot.h"
#include "net/loop.h"

typedef struct idle_sweep idle_sweep;

/* b and lp borrowed (must outlive it). NULL when the spec sets no idle
 * limit (nothing to sweep) or on out-of-memory. */
idle_sweep *idle_sweep_new(bot *b, loop *lp);
/* Summaries still being written are cancelled; their sessions stay open
 * and are swept again after the next start. */
void idle_sweep_free(idle_sweep *w);
/* Looks for due sessions at most every IDLE_SWEEP_MS; call it between
 * transactions. */
void idle_sweep_run(idle_sweep *w);

#endif

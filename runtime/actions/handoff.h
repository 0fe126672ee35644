/*
 * handoff.h — the handoff action family's helpers for other actions: the
 * "call an operator" button they offer when they cannot help.
 */
#ifndef BOTC_ACTIONS_HANDOFF_H
#define BOTC_ACTIONS_HANDOFF_H

#include "dialogue/action.h"

/* Callback data of the operator button (a prefix no spec button can have:
 * botc names callback data "<state>.<n>"). */
#define ACT_CB_OPERATOR "bm:operator"

/* Says sys text t with the inline operator button under it; without the
 * button when the spec has no `handoff` action anywhere (no operators to
 * call). 0 or -1. */
int act_offer_operator(bot_act *c, bm_sys_text t);

/* The step of an operator request that is not a spec button (the offer
 * above, feedback's "Call an operator"): the press answered, then the
 * handoff action, as if a spec button with `action: handoff` had been
 * pressed. Appends to fx; 0 or -1. */
int act_operator_step(const bm_machine *m, bm_session *s, const bm_input *in, bm_effects *fx);

#endif

/*
 * feedback.h — the feedback part: "👍 Helped" / "Call an operator" under
 * the model's and the knowledge's answers (people/feedback.c stores them).
 */
#ifndef BOTC_ACTIONS_FEEDBACK_H
#define BOTC_ACTIONS_FEEDBACK_H

#include "dialogue/action.h"

/* Puts the feedback buttons under the action's last message (out from
 * c->first on) when it is an answer: not one with buttons of its own (the
 * operator offers), not sys_unavailable. 0 or -1. */
int act_feedback_attach(bot_act *c);

#endif

/*
 * emit_dot.h — a picture of a checked spec as Graphviz DOT.
 *
 * States are boxes labelled with their name and the first line of what they
 * say (default language; the start state has a double border); buttons
 * (reply black, inline blue), `/commands`, `~/patterns/`, "text" triggers,
 * contact, voice and `anything else` label the edges; global commands leave
 * from one "from any state" node; each form is a cluster of its questions
 * (done: from the last, /cancel from the first, a "↩" node when the form
 * returns to where it started); actions are dashed edges to one node each,
 * LLM (purple ellipse) and operator handoff (orange hexagon) distinct from
 * the rest; unreachable states (red) and dead ends (yellow) are highlighted,
 * as check.c decided (ir_state.reachable / dead_end).
 */
#ifndef BOTC_EMIT_DOT_H
#define BOTC_EMIT_DOT_H

#include <stdio.h>

#include "ir.h"

/* Write the graph of `s` (after check_spec) to `out`. Returns 0, or -1 on a
 * write error. Deterministic: the same spec gives the same bytes. */
int emit_dot(const ir_spec *s, FILE *out);

#endif

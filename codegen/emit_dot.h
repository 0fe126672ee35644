/*
 * emit_dot.h — a picture of a checked spec as Graphviz DOT.
 *
 * States are boxes labelled with their name and the first line of what they
 * say (default language); buttons, commands and patterns label the edges;
 * each form is a cluster of its fields; LLM and operator-handoff exits lead to
 * two distinct shapes; unreachable states and dead ends are highlighted.
 */
#ifndef BOTC_EMIT_DOT_H
#define BOTC_EMIT_DOT_H

#include <stdio.h>

#include "ir.h"

/* Write the graph of `s` (after check_spec) to `out`. Returns 0, or -1 on a
 * write error. Deterministic: the same spec gives the same bytes. */
int emit_dot(const ir_spec *s, FILE *out);

#endif

/*
 * emit_re.h — render a lowered machine's text triggers as re2c source
 * (<bot>.re), compiled with `re2c -W -Werror --utf8` into the two matchers
 * machine.h describes:
 *
 *   int <bot>_match_text(int state, const char *s);
 *   int <bot>_match_regex(int id, const char *s);
 *
 * One re2c block per state that has text triggers, in priority order (on:
 * command, reply button labels in every language, on: text, on: pattern);
 * when it finds nothing, the block of global commands runs (also the one
 * match_text(BM_NONE, s) uses). Keeping the global commands in a block of
 * their own gives the same priority while sparing re2c "unreachable rule"
 * warnings where a state's own trigger already covers a command's text.
 * Every rule matches the whole input up to its NUL terminator, so re2c's
 * longest-match rule reduces to "first rule wins". One block per form
 * `regex:` validator, the regex id being its index.
 *
 * Returns a NUL-terminated string in the arena; deterministic.
 */
#ifndef BOTC_EMIT_RE_H
#define BOTC_EMIT_RE_H

#include "arena.h"
#include "lower.h"

const char *emit_re(arena *a, const low_machine *m);

#endif

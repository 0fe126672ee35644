/*
 * check.h — validate an IR and resolve its names.
 *
 * Fills every *_idx (and textref.idx, action_id, var_idx), marks texts
 * used and states reachable, appends the implied variables to spec->vars
 * (after the declared ones: first "form.field" for every form field, then
 * every `set:` key not declared), and reports every error and warning into
 * the list: unknown names (with did-you-mean), duplicates, Telegram's limits
 * (command names, 64-byte callback data, 4096-character texts, 256-character
 * command descriptions), missing translations, invalid regexes, buttons that
 * do nothing, form fields without a validator; and warnings: unreachable
 * states and states with no way out (ir_state.reachable / dead_end), button
 * labels that repeat in one keyboard, texts that can exceed 4096 characters
 * once their placeholders hold their longest values (a variable's `max:`,
 * else derived from its initial value and every `set:`; Telegram's limits
 * for built-ins; a form field's by its validator), and `set:` of an
 * undeclared variable that looks like a typo of a declared one.
 */
#ifndef BOTC_CHECK_H
#define BOTC_CHECK_H

#include "arena.h"
#include "diag.h"
#include "ir.h"

/* Returns the number of errors this pass reported. */
int check_spec(arena *a, diag_list *d, ir_spec *s);

#endif

/*
 * emit_jsgf.h — the speech grammars of a bot with `voice:`: per state and
 * per form field, the English phrases a user may say there (the state's
 * reply buttons and the bot's commands; the field's choices and /cancel)
 * as JSGF for the offline recogniser (runtime/ai/asr.h), each phrase
 * beside the text it stands for. Emitted into the bot's .c file as
 * bm_voice tables, deterministic (spec order, duplicates dropped).
 */
#ifndef BOTC_EMIT_JSGF_H
#define BOTC_EMIT_JSGF_H

#include "arena.h"
#include "lower.h"
#include "strbuf.h"

/* The words of a label as spoken: ASCII letters and apostrophes, lower
 * case, single spaces ("🚗 Cars & prices!" -> "cars prices"; "/start_session"
 * -> "start session"). NULL when it holds nothing speakable, a digit (the
 * dictionary spells no numerals) or a {placeholder}. In a. */
const char *jsgf_words(arena *a, const char *label);

/* Appends the voice tables (`static const bm_voice voice`) for m to sb;
 * nothing when m has no `voice:`. */
void emit_jsgf(strbuf *sb, arena *a, const low_machine *m);

#endif

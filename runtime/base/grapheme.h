/*
 * grapheme.h — extended grapheme clusters (Unicode UAX #29): what a reader
 * sees as one character, e.g. a ZWJ family emoji, a flag (a pair of
 * regional indicators), an emoji with a skin tone or a variation selector,
 * a letter with combining marks, CR LF, a Hangul syllable of jamo.
 *
 * Text is cut only between clusters (base/text.h text_split, base/markdown.h
 * md_split), so no message ends in half a flag. Rules GB3–GB13 and GB999 are
 * implemented; GB9c (Indic conjuncts, Unicode 15.1) is not: a conjunct may
 * be cut after its virama, which still never splits a UTF-8 sequence.
 * Invalid UTF-8 bytes are clusters of their own.
 */
#ifndef BOTC_GRAPHEME_H
#define BOTC_GRAPHEME_H

#include <stddef.h>
#include <stdint.h>

/* Byte length of the grapheme cluster that starts s[0..n); 0 when n == 0. */
size_t gc_next(const char *s, size_t n);

/* Byte length of the longest prefix of s[0..n) made of whole clusters whose
 * UTF-16 length is at most max_units. When even the first cluster is longer
 * than max_units (a pathological run of combining marks), the prefix ends at
 * the last whole code point that fits instead, so a caller always moves on
 * when max_units >= 2. */
size_t gc_prefix16(const char *s, size_t n, size_t max_units);

#endif

/*
 * text.h — strings for messages: a capped growable buffer, {placeholder}
 * expansion, UTF-8 validation, Telegram's UTF-16 length, and cutting text
 * without ever splitting a UTF-8 sequence.
 *
 * Telegram counts message length in UTF-16 code units (a character outside
 * the BMP, e.g. most emoji, counts 2), so limits here are in those units
 * where they concern Telegram.
 */
#ifndef BOTC_TEXT_H
#define BOTC_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEXT_TG_MAX 4096 /* Telegram's message text limit, UTF-16 units */

/* A growable NUL-terminated buffer that never grows beyond `max` bytes of
 * content: appends past the cap are cut at a UTF-8 boundary and set
 * `overflow`. The buffer owns p. */
typedef struct text_buf {
    char *p;
    size_t len, cap, max;
    bool overflow;
} text_buf;

void text_buf_init(text_buf *b, size_t max);
/* Append n bytes. Returns 0, or -1 on out-of-memory (buffer unchanged). */
int text_buf_add(text_buf *b, const char *s, size_t n);
int text_buf_adds(text_buf *b, const char *s);
int text_buf_addc(text_buf *b, char c);
/* Hand the content to the caller (malloc'd, NUL-terminated; "" when
 * empty) and reset the buffer. NULL on out-of-memory. */
char *text_buf_take(text_buf *b);
void text_buf_free(text_buf *b);

/* Returns the value of placeholder `name` (len bytes, not NUL-terminated),
 * or NULL when unknown. */
typedef const char *(*text_lookup_fn)(void *ud, const char *name, size_t len);

/* Expand `{name}` placeholders in tmpl (name: letters, digits, '_', '.').
 * `{{` and `}}` write single braces; an unknown placeholder is copied as
 * written. The result is capped at max bytes. Returns a malloc'd string the
 * caller frees, or NULL on out-of-memory. */
char *text_expand(const char *tmpl, text_lookup_fn lookup, void *ud, size_t max);

bool text_utf8_valid(const char *s, size_t n);
/* The code point at s[0..n) (n >= 1), its byte length in *len; an invalid
 * sequence gives its first byte as itself (*len 1), so a scan always moves
 * on. */
uint32_t text_utf8_get(const char *s, size_t n, size_t *len);
/* Writes code point cp (at most 0x10FFFF, not a surrogate: the caller's
 * check) as UTF-8 into out[0..4). Returns how many bytes: 1 to 4. */
size_t text_utf8_put(uint32_t cp, char *out);

/* Whether a and b are the same text but for letter case: ASCII, Latin-1,
 * Latin Extended-A (č, š, ž, đ) and Cyrillic letters compare caselessly
 * ("ЭКОНОМ" = "эконом"); any other character, or invalid UTF-8, only
 * byte for byte. */
bool text_equal_fold(const char *a, const char *b);

/* Length in UTF-16 code units (what Telegram counts). Invalid bytes count 1. */
size_t text_utf16_len(const char *s, size_t n);

/* Byte length of the longest prefix of s[0..n) that is at most max_bytes
 * long and ends on a UTF-8 sequence boundary. */
size_t text_utf8_prefix(const char *s, size_t n, size_t max_bytes);

/* Byte length of the longest prefix of s[0..n) whose UTF-16 length is at
 * most max_units, ending on a sequence boundary. */
size_t text_utf16_prefix(const char *s, size_t n, size_t max_units);

/* A malloc'd copy of s cut to at most max_units UTF-16 units, between
 * grapheme clusters (a flag or a ZWJ emoji is kept whole or left out); when
 * cut, the copy ends with "…" (counted within max_units). NULL on
 * out-of-memory. */
char *text_truncate(const char *s, size_t max_units);

/* Split s into non-empty parts of at most max_units UTF-16 units each,
 * cutting at a paragraph break, else a line break, else a space, else at
 * the last whole grapheme cluster (base/grapheme.h: a ZWJ family, a flag
 * or a letter with its accents stays in one part). The separator at a cut is dropped. *parts is a
 * malloc'd array of malloc'd strings (free with text_parts_free). An empty
 * s gives zero parts. Returns 0, or -1 on out-of-memory. */
int text_split(const char *s, size_t max_units, char ***parts, int *n_parts);
void text_parts_free(char **parts, int n_parts);

#endif

/*
 * strbuf.h — a growable text buffer in the generator's arena.
 *
 * The emitters build whole files in one of these before anything touches
 * the disk ("render text last"). Memory comes from the arena given at
 * sb_new and is released with it; old blocks are simply abandoned when the
 * buffer grows (the generator is short-lived). The text is always
 * NUL-terminated.
 */
#ifndef BOTC_STRBUF_H
#define BOTC_STRBUF_H

#include <stddef.h>

#include "arena.h"

typedef struct strbuf {
    arena *a;
    char *s;       /* NUL-terminated, owned by the arena */
    size_t len;
    size_t cap;
    unsigned line; /* 1 + number of '\n' written so far (for #line) */
} strbuf;

void sb_init(strbuf *sb, arena *a);
void sb_putn(strbuf *sb, const char *s, size_t n);
void sb_puts(strbuf *sb, const char *s);
void sb_putc(strbuf *sb, char c);
void sb_printf(strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The text so far (arena memory, valid until the next write). */
const char *sb_str(const strbuf *sb);

/* C rendering helpers shared by the emitters. */

/* `s` as one or more adjacent C string literals ("a\n" "b"), split after
 * each newline so long texts diff line by line. `indent` prefixes the
 * continuation lines. UTF-8 stays raw; control bytes, invalid UTF-8 and
 * `?` after `?` (trigraphs) are escaped; octal escapes are always three
 * digits, so no escape can swallow the character after it. */
void sb_put_cstr(strbuf *sb, const char *s, const char *indent);

/* `s` made safe inside a C comment: no comment openers/closers, newlines
 * shown as \n, at most `max` bytes (cut on a UTF-8 boundary, "..." added). */
void sb_put_comment(strbuf *sb, const char *s, size_t max);

#endif

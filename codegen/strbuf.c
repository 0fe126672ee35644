/*
 * strbuf.c — growable text buffer over the arena (see strbuf.h).
 */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sb_init(strbuf *sb, arena *a)
{
    sb->a = a;
    sb->cap = 256;
    sb->s = arena_alloc(a, sb->cap);
    sb->len = 0;
    sb->line = 1;
}

static void sb_reserve(strbuf *sb, size_t extra)
{
    if (sb->len + extra + 1 <= sb->cap)
        return;
    size_t cap = sb->cap * 2;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    char *s = arena_alloc(sb->a, cap);
    memcpy(s, sb->s, sb->len + 1);
    sb->s = s;
    sb->cap = cap;
}

void sb_putn(strbuf *sb, const char *s, size_t n)
{
    sb_reserve(sb, n);
    memcpy(sb->s + sb->len, s, n);
    sb->len += n;
    sb->s[sb->len] = '\0';
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n')
            sb->line++;
}

void sb_puts(strbuf *sb, const char *s)
{
    sb_putn(sb, s, strlen(s));
}

void sb_putc(strbuf *sb, char c)
{
    sb_putn(sb, &c, 1);
}

void sb_printf(strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    sb_reserve(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    size_t start = sb->len;
    sb->len += (size_t)n;
    for (size_t i = start; i < sb->len; i++)
        if (sb->s[i] == '\n')
            sb->line++;
}

const char *sb_str(const strbuf *sb)
{
    return sb->s;
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static int sb_utf8_len(const unsigned char *s)
{
    int n;
    unsigned min;
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        min = 0x80;
        c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        min = 0x800;
        c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    return n;
}

void sb_put_cstr(strbuf *sb, const char *str, const char *indent)
{
    const unsigned char *s = (const unsigned char *)str;
    sb_putc(sb, '"');
    while (*s) {
        unsigned char c = *s;
        if (c == '\n') {
            sb_puts(sb, "\\n\"");
            s++;
            if (*s) {
                sb_putc(sb, '\n');
                sb_puts(sb, indent);
                sb_putc(sb, '"');
            } else {
                return;
            }
            continue;
        }
        if (c == '"' || c == '\\') {
            sb_putc(sb, '\\');
            sb_putc(sb, (char)c);
        } else if (c == '\t') {
            sb_puts(sb, "\\t");
        } else if (c == '\r') {
            sb_puts(sb, "\\r");
        } else if (c == '?' && s[1] == '?') {
            sb_puts(sb, "?\\?");
            s += 2;
            continue;
        } else if (c < 0x20 || c == 0x7F) {
            sb_printf(sb, "\\%03o", c);
        } else if (c >= 0x80) {
            int n = sb_utf8_len(s);
            if (n == 0) {
                sb_printf(sb, "\\%03o", c);
            } else {
                sb_putn(sb, (const char *)s, (size_t)n);
                s += n;
                continue;
            }
        } else {
            sb_putc(sb, (char)c);
        }
        s++;
    }
    sb_putc(sb, '"');
}

void sb_put_comment(strbuf *sb, const char *str, size_t max)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t used = 0;
    while (*s) {
        int n = sb_utf8_len(s);
        if (used >= max) {
            sb_puts(sb, "...");
            return;
        }
        if (n == 0) {
            sb_putc(sb, '?');
            s++;
            used++;
            continue;
        }
        if (n > 1) {
            sb_putn(sb, (const char *)s, (size_t)n);
        } else if (*s == '\n') {
            sb_puts(sb, "\\n");
        } else if (*s < 0x20 || *s == 0x7F) {
            sb_putc(sb, ' ');
        } else if ((*s == '*' && s[1] == '/') || (*s == '/' && s[1] == '*') ||
                   (*s == '?' && s[1] == '?')) {
            sb_putc(sb, (char)*s);
            sb_putc(sb, ' ');
        } else if (*s == '\\' && s[1] == '\0') {
            sb_puts(sb, "\\ "); /* a trailing backslash would splice lines */
        } else {
            sb_putc(sb, (char)*s);
        }
        s += n;
        used += (size_t)n;
    }
}

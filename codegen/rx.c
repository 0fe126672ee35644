/*
 * rx.c — translate the spec's regex dialect into re2c syntax (rx.h).
 *
 * A recursive-descent parser over the pattern's bytes that writes re2c text
 * as it goes; no tree is kept because every construct maps one-to-one:
 *
 *   literal runs   → "..." strings (non-ASCII as \uXXXX / \UXXXXXXXX, so the
 *                    output does not depend on re2c's --input-encoding)
 *   classes        → [...] over code points (--utf8 turns them into byte
 *                    automata); negated classes never match NUL, the sentinel
 *   .              → [^\x00\n]   (like PCRE without /s: not a newline)
 *   \d \w \s       → [0-9] [a-zA-Z0-9_] [ \t\n\r]  (ASCII, as documented)
 *   quantifiers    → the same syntax in re2c
 *
 * RX_TRIGGER folds ASCII and Cyrillic letters: a letter becomes a two-member
 * class, a class gains the other case of every letter in it. Each top-level
 * alternative is wrapped in [^\x00]* on the side it is not anchored.
 */
#include "rx.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

#define RX_MAX_DEPTH 64
#define RX_MAX_REPEAT 1000
#define RX_ANY_CHAR "[^\\x00\\n]"
#define RX_ANY_TEXT "[^\\x00]*"

typedef struct rx_parser {
    arena *a;
    const char *pat;
    size_t pos;
    rx_mode mode;
    rx_error *err;
    int failed;
} rx_parser;

typedef struct rx_range {
    uint32_t lo, hi;
} rx_range;

typedef struct rx_class {
    rx_range *v;
    int n, cap;
    int negated;
} rx_class;

static void rx_fail(rx_parser *p, size_t offset, const char *hint,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void rx_fail(rx_parser *p, size_t offset, const char *hint,
                    const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    p->err->offset = offset;
    p->err->hint = hint;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
    va_end(ap);
}

/* Decode one UTF-8 code point at pat[*pos]; advances *pos. Returns
 * UINT32_MAX on a malformed sequence. */
static uint32_t rx_utf8(const char *pat, size_t *pos)
{
    const unsigned char *s = (const unsigned char *)pat + *pos;
    uint32_t c = s[0];
    int n;
    if (c < 0x80) {
        *pos += 1;
        return c;
    } else if ((c & 0xE0) == 0xC0) {
        n = 1;
        c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 2;
        c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 3;
        c &= 0x07;
    } else {
        return UINT32_MAX;
    }
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return UINT32_MAX;
        c = (c << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
    if (c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return UINT32_MAX;
    *pos += (size_t)n + 1;
    return c;
}

/* The other case of a letter (ASCII, Cyrillic incl. ё/Ё and the rest of
 * U+0400..U+045F), or the code point itself. */
static uint32_t rx_fold(uint32_t c)
{
    if (c >= 'a' && c <= 'z')
        return c - 32;
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c >= 0x430 && c <= 0x44F)
        return c - 0x20;
    if (c >= 0x410 && c <= 0x42F)
        return c + 0x20;
    if (c >= 0x450 && c <= 0x45F)
        return c - 0x50;
    if (c >= 0x400 && c <= 0x40F)
        return c + 0x50;
    return c;
}

/* One code point as re2c text, usable inside "..." (in_class = 0) or [...]
 * (in_class = 1). */
static void rx_put_cp(strbuf *sb, uint32_t c, int in_class)
{
    if (c >= 0x80) {
        if (c <= 0xFFFF)
            sb_printf(sb, "\\u%04X", (unsigned)c);
        else
            sb_printf(sb, "\\U%08X", (unsigned)c);
        return;
    }
    int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '_' || c == ' ';
    if (!in_class && c > 0x20 && c < 0x7F)
        plain = 1;
    if (!in_class && (c == '"' || c == '\\'))
        sb_putc(sb, '\\');
    if (plain)
        sb_putc(sb, (char)c);
    else
        sb_printf(sb, "\\x%02X", (unsigned)c);
}

/* ---- classes ------------------------------------------------------------ */

static void cls_add(rx_parser *p, rx_class *c, uint32_t lo, uint32_t hi)
{
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 8;
        rx_range *v = ARENA_ARRAY(p->a, rx_range, cap);
        if (c->n)
            memcpy(v, c->v, sizeof *v * (size_t)c->n);
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n].lo = lo;
    c->v[c->n].hi = hi;
    c->n++;
}

static int cls_cmp(const void *x, const void *y)
{
    const rx_range *a = x, *b = y;
    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return a->hi < b->hi ? -1 : a->hi > b->hi;
}

/* Add the other case of every letter in the class (trigger mode). */
static void cls_fold(rx_parser *p, rx_class *c)
{
    static const struct { uint32_t lo, hi; int32_t delta; } spans[] = {
        {'a', 'z', -32}, {'A', 'Z', 32}, {0x430, 0x44F, -0x20},
        {0x410, 0x42F, 0x20}, {0x450, 0x45F, -0x50}, {0x400, 0x40F, 0x50},
    };
    int n = c->n;
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof spans / sizeof spans[0]; k++) {
            uint32_t lo = c->v[i].lo > spans[k].lo ? c->v[i].lo : spans[k].lo;
            uint32_t hi = c->v[i].hi < spans[k].hi ? c->v[i].hi : spans[k].hi;
            if (lo <= hi)
                cls_add(p, c, (uint32_t)((int32_t)lo + spans[k].delta),
                        (uint32_t)((int32_t)hi + spans[k].delta));
        }
    }
}

/* Sort, merge and render. A negated class also excludes NUL. */
static void cls_render(rx_parser *p, rx_class *c, strbuf *sb)
{
    if (p->mode == RX_TRIGGER)
        cls_fold(p, c);
    qsort(c->v, (size_t)c->n, sizeof *c->v, cls_cmp);
    int m = 0;
    for (int i = 0; i < c->n; i++) {
        if (m > 0 && c->v[i].lo <= c->v[m - 1].hi + 1) {
            if (c->v[i].hi > c->v[m - 1].hi)
                c->v[m - 1].hi = c->v[i].hi;
        } else {
            c->v[m++] = c->v[i];
        }
    }
    c->n = m;
    sb_puts(sb, c->negated ? "[^" : "[");
    for (int i = 0; i < c->n; i++) {
        rx_put_cp(sb, c->v[i].lo, 1);
        if (c->v[i].hi != c->v[i].lo) {
            if (c->v[i].hi > c->v[i].lo + 1)
                sb_putc(sb, '-');
            rx_put_cp(sb, c->v[i].hi, 1);
        }
    }
    if (c->negated && (c->n == 0 || c->v[0].lo > 0))
        sb_puts(sb, "\\x00");
    sb_putc(sb, ']');
}

static void cls_add_shorthand(rx_parser *p, rx_class *c, char k)
{
    switch (k) {
    case 'd':
        cls_add(p, c, '0', '9');
        break;
    case 'w':
        cls_add(p, c, 'a', 'z');
        cls_add(p, c, 'A', 'Z');
        cls_add(p, c, '0', '9');
        cls_add(p, c, '_', '_');
        break;
    default: /* 's' */
        cls_add(p, c, ' ', ' ');
        cls_add(p, c, '\t', '\n');
        cls_add(p, c, '\r', '\r');
        break;
    }
}

/* ---- escapes ------------------------------------------------------------ */

enum { ESC_CHAR, ESC_CLASS, ESC_FAIL };

/* Parse an escape at p->pos (the backslash). Sets *cp for a single
 * character, *shorthand for \d \w \s (upper case = negated). */
static int rx_escape(rx_parser *p, int in_class, uint32_t *cp, char *shorthand)
{
    size_t at = p->pos;
    p->pos++; /* the backslash */
    unsigned char e = (unsigned char)p->pat[p->pos];
    if (e == '\0') {
        rx_fail(p, at, "write \\\\ for a literal backslash",
                "pattern ends with a lone '\\'");
        return ESC_FAIL;
    }
    if (e >= 0x80) {
        uint32_t c = rx_utf8(p->pat, &p->pos);
        if (c == UINT32_MAX) {
            rx_fail(p, p->pos, NULL, "invalid UTF-8 in pattern");
            return ESC_FAIL;
        }
        *cp = c;
        return ESC_CHAR;
    }
    p->pos++;
    switch (e) {
    case 'd': case 'w': case 's':
    case 'D': case 'W': case 'S':
        if (in_class && (e == 'D' || e == 'W' || e == 'S')) {
            rx_fail(p, at, "list the characters you want, e.g. [^0-9a-z]",
                    "'\\%c' is not supported inside [...]", e);
            return ESC_FAIL;
        }
        *shorthand = (char)e;
        return ESC_CLASS;
    case 'n': *cp = '\n'; return ESC_CHAR;
    case 't': *cp = '\t'; return ESC_CHAR;
    case 'r': *cp = '\r'; return ESC_CHAR;
    case 'f': *cp = '\f'; return ESC_CHAR;
    case 'v': *cp = '\v'; return ESC_CHAR;
    case 'x': {
        const char *h = p->pat + p->pos;
        char *end;
        char buf[3] = {h[0], h[0] ? h[1] : '\0', '\0'};
        unsigned long v = strtoul(buf, &end, 16);
        if (end != buf + 2 || buf[0] == '+' || buf[0] == '-' || buf[0] == ' ') {
            rx_fail(p, at, "write \\x followed by two hex digits, e.g. \\x41",
                    "malformed '\\x' escape");
            return ESC_FAIL;
        }
        if (v == 0) {
            rx_fail(p, at, NULL, "NUL cannot appear in a pattern");
            return ESC_FAIL;
        }
        p->pos += 2;
        *cp = (uint32_t)v;
        return ESC_CHAR;
    }
    case '1': case '2': case '3': case '4': case '5':
    case '6': case '7': case '8': case '9': case 'k':
        rx_fail(p, at, "a DFA cannot remember what a group matched; spell the "
                "alternatives out", "back-references are not supported");
        return ESC_FAIL;
    case 'b': case 'B':
        rx_fail(p, at, "match the surrounding characters instead, e.g. \\s or ^/$",
                "word boundaries ('\\%c') are not supported", e);
        return ESC_FAIL;
    case 'A': case 'z': case 'Z': case 'G':
        rx_fail(p, at, "use ^ at the start and $ at the end",
                "anchor '\\%c' is not supported", e);
        return ESC_FAIL;
    case 'p': case 'P':
        rx_fail(p, at, "list the ranges, e.g. [a-zA-Zа-яА-ЯёЁ]",
                "Unicode properties ('\\%c') are not supported", e);
        return ESC_FAIL;
    default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
            rx_fail(p, at, "escape only punctuation, e.g. \\. \\( \\\\",
                    "unknown escape '\\%c'", e);
            return ESC_FAIL;
        }
        *cp = e;
        return ESC_CHAR;
    }
}

/* class -> '[' '^'? ']'? items ']' */
static void rx_class_atom(rx_parser *p, strbuf *out)
{
    size_t open = p->pos;
    rx_class c = {0};
    p->pos++;
    if (p->pat[p->pos] == '^') {
        c.negated = 1;
        p->pos++;
    }
    int first = 1;
    for (;;) {
        char ch = p->pat[p->pos];
        if (ch == '\0') {
            rx_fail(p, open, "close the class with ']' (write \\] for a literal one)",
                    "unbalanced '['");
            return;
        }
        if (ch == ']' && !first) {
            p->pos++;
            break;
        }
        if (ch == '[' && p->pat[p->pos + 1] == ':') {
            rx_fail(p, p->pos, "list the ranges, e.g. [a-z] for [:lower:]",
                    "POSIX character classes are not supported");
            return;
        }
        first = 0;
        uint32_t lo;
        size_t at = p->pos;
        if (ch == '\\') {
            char sh = 0;
            int r = rx_escape(p, 1, &lo, &sh);
            if (r == ESC_FAIL)
                return;
            if (r == ESC_CLASS) {
                cls_add_shorthand(p, &c, sh);
                continue;
            }
        } else {
            lo = rx_utf8(p->pat, &p->pos);
            if (lo == UINT32_MAX) {
                rx_fail(p, at, NULL, "invalid UTF-8 in pattern");
                return;
            }
        }
        uint32_t hi = lo;
        if (p->pat[p->pos] == '-' && p->pat[p->pos + 1] != ']' && p->pat[p->pos + 1] != '\0') {
            p->pos++;
            size_t hat = p->pos;
            if (p->pat[p->pos] == '\\') {
                char sh = 0;
                int r = rx_escape(p, 1, &hi, &sh);
                if (r == ESC_FAIL)
                    return;
                if (r == ESC_CLASS) {
                    rx_fail(p, hat, NULL, "a range cannot end in '\\%c'", sh);
                    return;
                }
            } else {
                hi = rx_utf8(p->pat, &p->pos);
                if (hi == UINT32_MAX) {
                    rx_fail(p, hat, NULL, "invalid UTF-8 in pattern");
                    return;
                }
            }
            if (hi < lo) {
                rx_fail(p, at, "write the lower end first, e.g. [a-z]",
                        "range out of order in [...]");
                return;
            }
        }
        cls_add(p, &c, lo, hi);
    }
    cls_render(p, &c, out);
}

/* ---- concatenation, alternation ----------------------------------------- */

static void rx_alt(rx_parser *p, strbuf *out, int depth);

/* Parse {n}, {n,}, {n,m} at p->pos. Returns 1 and fills the bounds, 0 when
 * the text there is not a repetition (pos unchanged). */
static int rx_braces(rx_parser *p, long *n, long *m)
{
    const char *s = p->pat + p->pos;
    if (*s != '{' || s[1] < '0' || s[1] > '9')
        return 0;
    char *end;
    *n = strtol(s + 1, &end, 10);
    *m = *n;
    if (*end == ',') {
        end++;
        if (*end == '}') {
            *m = -1;
        } else if (*end >= '0' && *end <= '9') {
            *m = strtol(end, &end, 10);
        } else {
            return 0;
        }
    }
    if (*end != '}')
        return 0;
    p->pos = (size_t)(end + 1 - p->pat);
    return 1;
}

static int rx_is_quant(rx_parser *p)
{
    char ch = p->pat[p->pos];
    if (ch == '*' || ch == '+' || ch == '?')
        return 1;
    if (ch == '{') {
        size_t save = p->pos;
        long n, m;
        int r = rx_braces(p, &n, &m);
        p->pos = save;
        return r;
    }
    return 0;
}

/* Quantifiers after an atom: at most one, not lazy or possessive. */
static void rx_quant(rx_parser *p, strbuf *out)
{
    size_t at = p->pos;
    char ch = p->pat[p->pos];
    if (ch == '*' || ch == '+' || ch == '?') {
        sb_putc(out, ch);
        p->pos++;
    } else if (ch == '{') {
        long n, m;
        if (!rx_braces(p, &n, &m))
            return;
        if (n > RX_MAX_REPEAT || m > RX_MAX_REPEAT) {
            rx_fail(p, at, NULL, "repetition count over %d", RX_MAX_REPEAT);
            return;
        }
        if (m >= 0 && m < n) {
            rx_fail(p, at, "write the smaller bound first, e.g. {2,5}",
                    "repetition bounds out of order");
            return;
        }
        if (m < 0)
            sb_printf(out, "{%ld,}", n);
        else if (m == n)
            sb_printf(out, "{%ld}", n);
        else
            sb_printf(out, "{%ld,%ld}", n, m);
    } else {
        return;
    }
    ch = p->pat[p->pos];
    if (ch == '?')
        rx_fail(p, p->pos, "remove the '?': every match is a whole-text match here",
                "lazy quantifiers are not supported");
    else if (ch == '+')
        rx_fail(p, p->pos, "remove the second '+'",
                "possessive quantifiers are not supported");
    else if (rx_is_quant(p))
        rx_fail(p, p->pos, "group the repeated part first, e.g. (a+)*",
                "a quantifier cannot follow another quantifier");
}

/* Flush a pending literal run as a "..." string. */
static void rx_flush(strbuf *out, strbuf *run, int *items)
{
    if (run->len == 0)
        return;
    if ((*items)++)
        sb_putc(out, ' ');
    sb_putc(out, '"');
    sb_putn(out, run->s, run->len);
    sb_putc(out, '"');
    run->len = 0;
    run->s[0] = '\0';
}

/* concat -> ('^')? (atom quant?)* ('$')?   (anchors only at the top level) */
static void rx_concat(rx_parser *p, strbuf *out, int depth, int *anch_start,
                      int *anch_end)
{
    strbuf run;
    sb_init(&run, p->a);
    int items = 0;
    size_t begin = p->pos;
    for (;;) {
        if (p->failed)
            return;
        size_t at = p->pos;
        char ch = p->pat[p->pos];
        if (ch == '\0' || ch == '|' || (ch == ')' && depth > 0))
            break;
        if (ch == ')') {
            rx_fail(p, at, "remove it or add the matching '(' (\\) for a literal one)",
                    "unbalanced ')'");
            return;
        }
        if (ch == '^') {
            if (depth == 0 && at == begin && anch_start) {
                *anch_start = 1;
                p->pos++;
                continue;
            }
            rx_fail(p, at, "write \\^ for a literal caret",
                    "'^' is only supported at the start of the pattern");
            return;
        }
        if (ch == '$') {
            char nx = p->pat[at + 1];
            if (depth == 0 && (nx == '\0' || nx == '|') && anch_end) {
                *anch_end = 1;
                p->pos++;
                continue;
            }
            rx_fail(p, at, "write \\$ for a literal dollar",
                    "'$' is only supported at the end of the pattern");
            return;
        }
        if (rx_is_quant(p)) {
            rx_fail(p, at, "escape it (e.g. \\* or \\?) to match it literally",
                    "nothing to repeat before '%c'", ch);
            return;
        }
        strbuf atom;
        sb_init(&atom, p->a);
        uint32_t lit = UINT32_MAX; /* a single literal code point */
        if (ch == '(') {
            if (depth >= RX_MAX_DEPTH) {
                rx_fail(p, at, NULL, "groups nested too deeply");
                return;
            }
            p->pos++;
            if (p->pat[p->pos] == '?') {
                const char *q = p->pat + p->pos + 1;
                if (*q == ':') {
                    p->pos += 2;
                } else if (*q == '=' || *q == '!' ||
                           (*q == '<' && (q[1] == '=' || q[1] == '!'))) {
                    rx_fail(p, at, "match the context as part of the pattern instead",
                            "look-around assertions are not supported");
                    return;
                } else {
                    rx_fail(p, at, "use plain ( ) or (?: ) groups",
                            "'(?%c' groups are not supported", *q ? *q : ' ');
                    return;
                }
            }
            strbuf inner;
            sb_init(&inner, p->a);
            rx_alt(p, &inner, depth + 1);
            if (p->failed)
                return;
            if (p->pat[p->pos] != ')') {
                rx_fail(p, at, "add the matching ')'", "unbalanced '('");
                return;
            }
            p->pos++;
            sb_printf(&atom, "(%s)", inner.len ? inner.s : "\"\"");
        } else if (ch == '[') {
            rx_class_atom(p, &atom);
        } else if (ch == '.') {
            p->pos++;
            sb_puts(&atom, RX_ANY_CHAR);
        } else if (ch == '\\') {
            char sh = 0;
            int r = rx_escape(p, 0, &lit, &sh);
            if (r == ESC_FAIL)
                return;
            if (r == ESC_CLASS) {
                rx_class c = {0};
                c.negated = sh >= 'A' && sh <= 'Z';
                cls_add_shorthand(p, &c, (char)(sh | 0x20));
                cls_render(p, &c, &atom);
            }
        } else {
            lit = rx_utf8(p->pat, &p->pos);
            if (lit == UINT32_MAX) {
                rx_fail(p, at, NULL, "invalid UTF-8 in pattern");
                return;
            }
        }
        if (p->failed)
            return;
        int quant = rx_is_quant(p);
        if (lit != UINT32_MAX) {
            uint32_t other = p->mode == RX_TRIGGER ? rx_fold(lit) : lit;
            if (other == lit && !quant) {
                rx_put_cp(&run, lit, 0);
                continue;
            }
            if (other != lit) {
                sb_putc(&atom, '[');
                rx_put_cp(&atom, lit, 1);
                rx_put_cp(&atom, other, 1);
                sb_putc(&atom, ']');
            } else {
                sb_putc(&atom, '"');
                rx_put_cp(&atom, lit, 0);
                sb_putc(&atom, '"');
            }
        }
        rx_flush(out, &run, &items);
        if (quant)
            rx_quant(p, &atom);
        if (p->failed)
            return;
        if (items++)
            sb_putc(out, ' ');
        sb_putn(out, atom.s, atom.len);
    }
    rx_flush(out, &run, &items);
    if (items == 0)
        sb_puts(out, "\"\"");
}

/* alt -> concat ('|' concat)*   (nested groups; the top level is rx_top) */
static void rx_alt(rx_parser *p, strbuf *out, int depth)
{
    int n = 0;
    for (;;) {
        if (n++)
            sb_puts(out, " | ");
        rx_concat(p, out, depth, NULL, NULL);
        if (p->failed || p->pat[p->pos] != '|')
            return;
        p->pos++;
    }
}

/* top -> concat ('|' concat)*, each alternative with its own anchors */
static const char *rx_top(rx_parser *p)
{
    typedef struct { const char *s; int st, en; } alt;
    int n = 0, cap = 8, any_anchor = 0;
    alt *alts = ARENA_ARRAY(p->a, alt, cap);
    for (;;) {
        int s = 0, e = 0;
        strbuf one;
        sb_init(&one, p->a);
        rx_concat(p, &one, 0, &s, &e);
        if (p->failed)
            return NULL;
        if (n == cap) {
            alt *v = ARENA_ARRAY(p->a, alt, cap * 2);
            memcpy(v, alts, sizeof *v * (size_t)n);
            alts = v;
            cap *= 2;
        }
        alts[n].s = one.s;
        alts[n].st = s;
        alts[n].en = e;
        n++;
        any_anchor |= s | e;
        if (p->pat[p->pos] != '|')
            break;
        p->pos++;
    }
    strbuf out;
    sb_init(&out, p->a);
    int wrap = p->mode == RX_TRIGGER;
    if (wrap && !any_anchor)
        sb_puts(&out, RX_ANY_TEXT " ");
    if (n > 1)
        sb_putc(&out, '(');
    for (int i = 0; i < n; i++) {
        if (i)
            sb_puts(&out, " | ");
        /* anchored somewhere: each branch gets its own wrapper */
        if (wrap && any_anchor && !alts[i].st)
            sb_puts(&out, RX_ANY_TEXT " ");
        sb_puts(&out, alts[i].s);
        if (wrap && any_anchor && !alts[i].en)
            sb_puts(&out, " " RX_ANY_TEXT);
    }
    if (n > 1)
        sb_putc(&out, ')');
    if (wrap && !any_anchor)
        sb_puts(&out, " " RX_ANY_TEXT);
    return out.s;
}

const char *rx_to_re2c(arena *a, const char *pattern, rx_mode mode, rx_error *err)
{
    rx_parser p = {a, pattern, 0, mode, err, 0};
    memset(err, 0, sizeof *err);
    if (!pattern || !*pattern) {
        rx_fail(&p, 0, "write something to match, or use `any: true`",
                "empty pattern");
        return NULL;
    }
    const char *r = rx_top(&p);
    return p.failed ? NULL : r;
}

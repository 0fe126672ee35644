/*
 * text.c — see text.h.
 */
#include "base/text.h"

#include <stdlib.h>
#include <string.h>

#include "base/grapheme.h"

/* ---- capped buffer ----------------------------------------------------- */

void text_buf_init(text_buf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
    b->overflow = false;
}

int text_buf_add(text_buf *b, const char *s, size_t n)
{
    if (b->len + n > b->max) {
        n = text_utf8_prefix(s, n, b->max - b->len);
        b->overflow = true;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int text_buf_adds(text_buf *b, const char *s) { return text_buf_add(b, s, strlen(s)); }

int text_buf_addc(text_buf *b, char c) { return text_buf_add(b, &c, 1); }

char *text_buf_take(text_buf *b)
{
    char *p = b->p;
    if (!p) {
        p = malloc(1);
        if (p)
            p[0] = '\0';
    }
    b->p = NULL;
    b->len = b->cap = 0;
    b->overflow = false;
    return p;
}

void text_buf_free(text_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- placeholders ------------------------------------------------------ */

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.';
}

char *text_expand(const char *tmpl, text_lookup_fn lookup, void *ud, size_t max)
{
    text_buf b;
    text_buf_init(&b, max);
    const char *p = tmpl ? tmpl : "";
    while (*p) {
        const char *brace = strpbrk(p, "{}");
        if (!brace) {
            if (text_buf_adds(&b, p))
                goto oom;
            break;
        }
        if (text_buf_add(&b, p, (size_t)(brace - p)))
            goto oom;
        p = brace;
        if (p[0] == p[1]) { /* "{{" or "}}" */
            if (text_buf_addc(&b, p[0]))
                goto oom;
            p += 2;
            continue;
        }
        if (p[0] == '{') {
            const char *q = p + 1;
            while (name_char(*q))
                q++;
            if (*q == '}' && q > p + 1) {
                const char *v = lookup ? lookup(ud, p + 1, (size_t)(q - p - 1)) : NULL;
                if (v) {
                    if (text_buf_adds(&b, v))
                        goto oom;
                    p = q + 1;
                    continue;
                }
                /* unknown: copy as written, so authors see the mistake */
                if (text_buf_add(&b, p, (size_t)(q + 1 - p)))
                    goto oom;
                p = q + 1;
                continue;
            }
        }
        if (text_buf_addc(&b, *p))
            goto oom;
        p++;
    }
    return text_buf_take(&b);
oom:
    text_buf_free(&b);
    return NULL;
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

bool text_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t l = seq_len(u + i, n - i);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

uint32_t text_utf8_get(const char *str, size_t n, size_t *len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t l = seq_len(s, n);
    if (l <= 1) {
        *len = 1;
        return s[0];
    }
    uint32_t cp = s[0] & (l == 2 ? 0x1F : l == 3 ? 0x0F : 0x07);
    for (size_t i = 1; i < l; i++)
        cp = (cp << 6) | (s[i] & 0x3F);
    *len = l;
    return cp;
}

/* The lower-case letter of cp in the blocks text_equal_fold folds. */
static uint32_t fold(uint32_t cp)
{
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) ||
        (cp >= 0x410 && cp <= 0x42F))
        return cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40F) /* Ѐ..Џ */
        return cp + 0x50;
    /* Latin Extended-A pairs upper and lower case neighbours: even-odd
     * (Č č, Š š), and odd-even from Ĺ to Ň and from Ź to Ž */
    if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177))
        return cp | 1;
    if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
        return cp + (cp & 1);
    return cp;
}

bool text_equal_fold(const char *a, const char *b)
{
    const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;
    size_t np = strlen(a), nq = strlen(b);
    while (np && nq) {
        size_t lp, lq;
        uint32_t x = text_utf8_get((const char *)p, np, &lp), y = text_utf8_get((const char *)q, nq, &lq);
        bool raw_x = lp == 1 && x >= 0x80, raw_y = lq == 1 && y >= 0x80;
        if (raw_x || raw_y ? !(raw_x && raw_y && x == y) : fold(x) != fold(y))
            return false;
        p += lp, np -= lp;
        q += lq, nq -= lq;
    }
    return np == 0 && nq == 0;
}

/* Bytes of the character at s (1 for an invalid byte), and its UTF-16 units. */
static size_t char_at(const unsigned char *s, size_t n, size_t *units)
{
    size_t l = seq_len(s, n);
    if (!l) {
        *units = 1;
        return 1;
    }
    *units = l == 4 ? 2 : 1;
    return l;
}

size_t text_utf8_put(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

size_t text_utf16_len(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, units = 0;
    while (i < n) {
        size_t w;
        i += char_at(u + i, n - i, &w);
        units += w;
    }
    return units;
}

size_t text_utf8_prefix(const char *s, size_t n, size_t max_bytes)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t w;
        size_t l = char_at(u + i, n - i, &w);
        if (i + l > max_bytes)
            break;
        i += l;
    }
    return i;
}

size_t text_utf16_prefix(const char *s, size_t n, size_t max_units)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, units = 0;
    while (i < n) {
        size_t w;
        size_t l = char_at(u + i, n - i, &w);
        if (units + w > max_units)
            break;
        units += w;
        i += l;
    }
    return i;
}

char *text_truncate(const char *s, size_t max_units)
{
    static const char ell[] = "\xE2\x80\xA6"; /* U+2026, 1 unit */
    size_t n = strlen(s);
    size_t keep = n;
    int cut = 0;
    if (text_utf16_len(s, n) > max_units) {
        keep = max_units ? gc_prefix16(s, n, max_units - 1) : 0; /* whole clusters */
        cut = max_units > 0;
    }
    char *out = malloc(keep + (cut ? sizeof ell : 1));
    if (!out)
        return NULL;
    memcpy(out, s, keep);
    if (cut)
        memcpy(out + keep, ell, sizeof ell);
    else
        out[keep] = '\0';
    return out;
}

/* ---- splitting --------------------------------------------------------- */

/* Last occurrence of sep (seplen bytes) starting within s[1..n-seplen]. */
static const char *last_sep(const char *s, size_t n, const char *sep, size_t seplen)
{
    if (n < seplen + 1)
        return NULL;
    for (size_t i = n - seplen; i >= 1; i--)
        if (!memcmp(s + i, sep, seplen))
            return s + i;
    return NULL;
}

static int push_part(char ***parts, int *n, int *cap, const char *s, size_t len)
{
    if (len == 0)
        return 0;
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 4;
        char **np = realloc(*parts, (size_t)nc * sizeof *np);
        if (!np)
            return -1;
        *parts = np;
        *cap = nc;
    }
    char *p = malloc(len + 1);
    if (!p)
        return -1;
    memcpy(p, s, len);
    p[len] = '\0';
    (*parts)[(*n)++] = p;
    return 0;
}

int text_split(const char *s, size_t max_units, char ***parts, int *n_parts)
{
    *parts = NULL;
    *n_parts = 0;
    int cap = 0;
    if (max_units == 0)
        max_units = 1;
    size_t n = strlen(s);
    while (n > 0) {
        /* no UTF-8 sequence is shorter in bytes than in UTF-16 units: a
         * text of at most max_units bytes fits without counting */
        if (n <= max_units || text_utf16_len(s, n) <= max_units) {
            if (push_part(parts, n_parts, &cap, s, n))
                goto oom;
            break;
        }
        /* whole grapheme clusters only: a flag or a ZWJ family is never
         * cut in two (base/grapheme.h) */
        size_t fit = gc_prefix16(s, n, max_units);
        if (fit == 0) /* cannot happen with max_units >= 2; be safe */
            fit = text_utf8_prefix(s, n, 4) ? text_utf8_prefix(s, n, 4) : 1;
        /* A separator right after the fitting prefix is a fine cut too. */
        static const struct { const char *sep; size_t len; } seps[] = {
            {"\n\n", 2}, {"\n", 1}, {" ", 1},
        };
        const char *cut = NULL;
        size_t seplen = 0;
        for (size_t k = 0; k < sizeof seps / sizeof seps[0] && !cut; k++) {
            size_t window = fit + seps[k].len <= n ? fit + seps[k].len : fit;
            cut = last_sep(s, window, seps[k].sep, seps[k].len);
            seplen = seps[k].len;
        }
        size_t len, skip;
        if (cut) {
            len = (size_t)(cut - s);
            skip = len + seplen;
        } else {
            len = fit;
            skip = fit;
        }
        if (push_part(parts, n_parts, &cap, s, len))
            goto oom;
        s += skip;
        n -= skip;
    }
    return 0;
oom:
    text_parts_free(*parts, *n_parts);
    *parts = NULL;
    *n_parts = 0;
    return -1;
}

void text_parts_free(char **parts, int n_parts)
{
    for (int i = 0; i < n_parts; i++)
        free(parts[i]);
    free(parts);
}

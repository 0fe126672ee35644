/*
 * jsonscan.c — see jsonscan.h.
 */
#include "base/jsonscan.h"

#include <stdbool.h>
#include <string.h>

#include "base/text.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* 1 for the bytes a string holds as they are: not '"', '\\' or a
 * control character (most of every string, skipped in a tight loop) */
static const unsigned char plain[256] = {
#define R8(v) v, v, v, v, v, v, v, v
    R8(0), R8(0), R8(0), R8(0), /* 0x00-0x1f */
    1, 1, 0, 1, 1, 1, 1, 1, R8(1), R8(1), R8(1), /* 0x20-0x3f: '"' */
    R8(1), R8(1), R8(1), 1, 1, 1, 1, 0, 1, 1, 1, /* 0x40-0x5f: '\\' */
    R8(1), R8(1), R8(1), R8(1), /* 0x60-0x7f */
    R8(1), R8(1), R8(1), R8(1), R8(1), R8(1), R8(1), R8(1), /* 0x80-0xbf */
    R8(1), R8(1), R8(1), R8(1), R8(1), R8(1), R8(1), R8(1), /* 0xc0-0xff */
#undef R8
};

/* The first byte at or after p that is not plain (or end). (Eight bytes
 * at a time cost more than they saved: Telegram's strings are short.) */
static const char *plain_run(const char *p, const char *end)
{
    while (p < end && plain[(unsigned char)*p])
        p++;
    return p;
}

static const char *scan_string(const char *p, const char *end)
{
    if (p >= end || *p != '"')
        return NULL;
    for (p++; p < end; p++) {
        p = plain_run(p, end);
        if (p >= end)
            return NULL;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (++p >= end)
            return NULL;
        switch (*p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            break;
        case 'u':
            for (int i = 0; i < 4; i++)
                if (++p >= end || !is_hex(*p))
                    return NULL;
            break;
        default:
            return NULL;
        }
    }
    return NULL;
}

static const char *scan_digits(const char *p, const char *end)
{
    if (p >= end || !is_digit(*p))
        return NULL;
    while (p < end && is_digit(*p))
        p++;
    return p;
}

static const char *scan_number(const char *p, const char *end)
{
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (!(p = scan_digits(p, end)))
        return NULL;
    if (p < end && *p == '.' && !(p = scan_digits(p + 1, end)))
        return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        p = scan_digits(p, end);
    }
    return p;
}

static const char *scan_word(const char *p, const char *end, const char *w, size_t n)
{
    return (size_t)(end - p) >= n && !memcmp(p, w, n) ? p + n : NULL;
}

static const char *scan_value(const char *p, const char *end, int depth);

/* An object or array at p ('{' or '['). */
static const char *scan_container(const char *p, const char *end, int depth)
{
    char close = *p == '[' ? ']' : '}';
    bool object = *p == '{';
    p = skip_ws(p + 1, end);
    if (p < end && *p == close)
        return p + 1;
    for (;;) {
        if (object) {
            p = scan_string(skip_ws(p, end), end);
            p = p ? skip_ws(p, end) : NULL;
            if (!p || p >= end || *p != ':')
                return NULL;
            p++;
        }
        p = scan_value(p, end, depth + 1);
        p = p ? skip_ws(p, end) : NULL;
        if (!p || p >= end)
            return NULL;
        if (*p == close)
            return p + 1;
        if (*p != ',')
            return NULL;
        p++;
    }
}

static const char *scan_value(const char *p, const char *end, int depth)
{
    p = skip_ws(p, end);
    if (p >= end || depth > JSCAN_DEPTH)
        return NULL;
    switch (*p) {
    case '"': return scan_string(p, end);
    case 't': return scan_word(p, end, "true", 4);
    case 'f': return scan_word(p, end, "false", 5);
    case 'n': return scan_word(p, end, "null", 4);
    case '[':
    case '{': return scan_container(p, end, depth);
    default: return scan_number(p, end);
    }
}

const char *jscan_value(const char *p, const char *end)
{
    return p && end ? scan_value(p, end, 1) : NULL;
}

int jscan_member(const char *p, size_t n, const char *key, jscan_span *out)
{
    const char *keys[1] = {key};
    return jscan_members(p, n, keys, out, 1);
}

/* The lengths of up to KEYS_CACHED keys, measured once per lookup rather
 * than once per member and key (a message is looked up by 28 names). */
#define KEYS_CACHED 32

static size_t key_len(const char *const *keys, const size_t *lens, int i)
{
    return i < KEYS_CACHED ? lens[i] : strlen(keys[i]);
}

/* Records [k, ke) (a quoted key) with value [v, ve) under the keys it names
 * that are still unset: the first of each name counts. Returns how many. */
static int match_key(const char *k, const char *ke, const char *v, const char *ve,
                     const char *const *keys, const size_t *lens, jscan_span *out, int n_keys)
{
    size_t kl = (size_t)(ke - k) - 2;
    int found = 0;
    for (int i = 0; i < n_keys; i++) {
        if (!out[i].p && key_len(keys, lens, i) == kl && !memcmp(k + 1, keys[i], kl)) {
            out[i].p = v;
            out[i].end = ve;
            found++;
        }
    }
    return found;
}

static void measure_keys(const char *const *keys, size_t *lens, jscan_span *out, int n_keys)
{
    for (int i = 0; i < n_keys; i++) {
        out[i].p = out[i].end = NULL;
        if (i < KEYS_CACHED)
            lens[i] = strlen(keys[i]);
    }
}

int jscan_members(const char *p, size_t n, const char *const *keys, jscan_span *out,
                  int n_keys)
{
    const char *end = p + n;
    int found = 0;
    size_t lens[KEYS_CACHED];
    measure_keys(keys, lens, out, n_keys);
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return skip_ws(p + 1, end) == end ? 0 : -1;
    for (;;) {
        const char *k = skip_ws(p, end), *ke = scan_string(k, end);
        p = ke ? skip_ws(ke, end) : NULL;
        if (!p || p >= end || *p != ':')
            return -1;
        const char *v = skip_ws(p + 1, end);
        p = scan_value(v, end, 2);
        if (!p)
            return -1;
        found += match_key(k, ke, v, p, keys, lens, out, n_keys);
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p >= end || *p != '}')
            return -1;
        return skip_ws(p + 1, end) == end ? found : -1;
    }
}

/* The end of the string at p ('"'), in text already validated: no checks
 * but the bound. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        p = plain_run(p, end);
        if (p >= end || *p == '"')
            break;
        if (*p == '\\')
            p++; /* the escaped character ("\"" among them) */
    }
    return p < end ? p + 1 : end;
}

/* The end of the value at p in text already validated: strings, brackets
 * and delimiters only, bounded by end whatever the text. */
static const char *skip_valid(const char *p, const char *end)
{
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                p = skip_string(p, end);
                continue;
            }
            p++;
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return p;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
           *p != '\n' && *p != '\r')
        p++;
    return p;
}

int jscan_members_of(jscan_span obj, const char *const *keys, jscan_span *out, int n_keys)
{
    const char *p = obj.p, *end = obj.end;
    int found = 0;
    size_t lens[KEYS_CACHED];
    measure_keys(keys, lens, out, n_keys);
    if (!p || p >= end || *p != '{')
        return -1;
    for (p++;;) {
        p = skip_ws(p, end);
        if (p >= end || *p != '"')
            return p < end && *p == '}' ? found : -1;
        const char *k = p, *ke = skip_string(p, end);
        p = skip_ws(ke, end);
        if (p >= end || *p != ':')
            return -1;
        const char *v = skip_ws(p + 1, end);
        if (v >= end)
            return -1;
        p = skip_valid(v, end);
        found += match_key(k, ke, v, p, keys, lens, out, n_keys);
        p = skip_ws(p, end);
        if (p < end && *p == ',')
            p++;
    }
}

int jscan_is_object(const char *p, size_t n)
{
    const char *end = p + n, *v = skip_ws(p, end);
    if (v >= end || *v != '{')
        return 0;
    const char *e = scan_value(v, end, 1);
    return e && skip_ws(e, end) == end;
}

jscan_iter jscan_items(jscan_span arr)
{
    return (jscan_iter){.p = arr.p, .end = arr.end, .state = 0};
}

int jscan_next(jscan_iter *it, jscan_span *item)
{
    if (it->state == 2)
        return 0;
    const char *p = skip_ws(it->p, it->end);
    if (it->state == 0) {
        if (p >= it->end || *p != '[')
            return -1;
        p = skip_ws(p + 1, it->end);
        if (p < it->end && *p == ']') {
            it->state = 2;
            return 0;
        }
        it->state = 1;
    } else {
        /* after an item: ',' or ']' */
        if (p >= it->end)
            return -1;
        if (*p == ']') {
            it->state = 2;
            return 0;
        }
        if (*p != ',')
            return -1;
        p++;
    }
    const char *v = skip_ws(p, it->end);
    const char *e = scan_value(v, it->end, 2);
    if (!e)
        return -1;
    item->p = v;
    item->end = e;
    it->p = e;
    return 1;
}

int jscan_i64(jscan_span v, int64_t *out)
{
    const char *p = v.p, *end = v.end;
    if (!p || p >= end)
        return -1;
    bool neg = *p == '-';
    if (neg)
        p++;
    if (p >= end || (*p == '0' && end - p > 1))
        return -1; /* nothing, or a leading zero (JSON has none) */
    /* accumulated as a negative number: INT64_MIN has no positive twin */
    int64_t acc = 0;
    for (; p < end; p++) {
        if (!is_digit(*p))
            return -1; /* a fraction, an exponent or not a number */
        int d = *p - '0';
        if (acc < (INT64_MIN + d) / 10)
            return -1;
        acc = acc * 10 - d;
    }
    if (!neg && acc == INT64_MIN)
        return -1;
    *out = neg ? acc : -acc;
    return 0;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (is_digit(c))
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

/* \uXXXX at p (after the backslash's 'u' is p[-1]); *cp gets the code
 * point, a surrogate pair taken whole; a lone surrogate (a high one not
 * followed by a low one's escape, or a low one first) and \u0000 give
 * U+FFFD, consuming only their own six bytes. Returns the end, NULL when
 * the four hex digits are not there. */
static const char *read_u(const char *p, const char *end, long *cp)
{
    int hi = end - p >= 4 ? hex4(p) : -1;
    if (hi < 0)
        return NULL;
    p += 4;
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        int lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            *cp = 0x10000 + (((long)hi - 0xD800) << 10) + (lo - 0xDC00);
            return p + 6;
        }
    }
    *cp = (hi >= 0xD800 && hi <= 0xDFFF) || hi == 0 ? JSCAN_REPLACEMENT : hi;
    return p;
}

long jscan_str(jscan_span v, char *out, size_t cap)
{
    const char *p = v.p, *end = v.end;
    if (!p || end - p < 2 || *p != '"' || end[-1] != '"' || cap < 1)
        return -1;
    end--; /* the closing quote */
    char *o = out, *o_end = out + cap - 1; /* the last byte is the NUL's */
    for (p++; p < end;) {
        const char *q = plain_run(p, end);
        /* the raw bytes of the run, invalid UTF-8 replaced byte by byte */
        while (p < q) {
            const char *a = p;
            while (p < q && (unsigned char)*p < 0x80)
                p++;
            if (o_end - o < p - a)
                return -1;
            memcpy(o, a, (size_t)(p - a));
            o += p - a;
            if (p >= q)
                break;
            size_t l;
            uint32_t cp = text_utf8_get(p, (size_t)(q - p), &l);
            if (l == 1) { /* an invalid byte (cp is the byte itself) */
                cp = JSCAN_REPLACEMENT;
                if (o_end - o < 3)
                    return -1;
                o += text_utf8_put(cp, o);
            } else {
                if (o_end - o < (long)l)
                    return -1;
                memcpy(o, p, l);
                o += l;
            }
            p += l;
        }
        if (p >= end)
            break;
        if (*p != '\\' || end - p < 2)
            return -1; /* a control character, an inner quote, a cut escape */
        char c = p[1];
        p += 2;
        if (c != 'u' && o_end - o < 1)
            return -1;
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            long cp;
            if (!(p = read_u(p, end, &cp)))
                return -1;
            if (o_end - o < (cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4))
                return -1;
            o += text_utf8_put((uint32_t)cp, o);
            break;
        }
        default:
            return -1;
        }
    }
    *o = '\0';
    return (long)(o - out);
}

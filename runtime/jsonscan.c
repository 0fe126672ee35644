/*
 * jsonscan.c — see jsonscan.h.
 */
#include "jsonscan.h"

#include <stdbool.h>
#include <string.h>

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

static const char *scan_string(const char *p, const char *end)
{
    if (p >= end || *p != '"')
        return NULL;
    for (p++; p < end; p++) {
        while (p < end && plain[(unsigned char)*p])
            p++;
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

int jscan_members(const char *p, size_t n, const char *const *keys, jscan_span *out,
                  int n_keys)
{
    const char *end = p + n;
    int found = 0;
    for (int i = 0; i < n_keys; i++)
        out[i].p = out[i].end = NULL;
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
        /* [k, ke) is the quoted key; the first of each name counts */
        for (int i = 0; i < n_keys; i++) {
            size_t klen = strlen(keys[i]);
            if (!out[i].p && (size_t)(ke - k) == klen + 2 && !memcmp(k + 1, keys[i], klen)) {
                out[i].p = v;
                out[i].end = p;
                found++;
            }
        }
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

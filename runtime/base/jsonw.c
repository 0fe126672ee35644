/*
 * jsonw.c — see jsonw.h.
 */
#include "base/jsonw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(jw *w) { memset(w, 0, sizeof *w); }

void jw_free(jw *w)
{
    free(w->p);
    jw_init(w);
}

static bool room(jw *w, size_t more)
{
    if (w->failed)
        return false;
    if (w->n + more + 1 <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->n + more + 1)
        cap *= 2;
    char *p = realloc(w->p, cap);
    if (!p) {
        w->failed = true;
        return false;
    }
    w->p = p;
    w->cap = cap;
    return true;
}

static void put(jw *w, const char *s, size_t n)
{
    if (!room(w, n))
        return;
    memcpy(w->p + w->n, s, n);
    w->n += n;
    w->p[w->n] = '\0';
}

static void putc1(jw *w, char c)
{
    if (!room(w, 1))
        return;
    w->p[w->n++] = c;
    w->p[w->n] = '\0';
}

/* Before a value (or a key): the comma its place needs. */
static void sep(jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->comma[w->depth - 1])
            putc1(w, ',');
        w->comma[w->depth - 1] = true;
    }
}

static void open_level(jw *w, char c)
{
    sep(w);
    if (w->depth >= JW_DEPTH) {
        w->failed = true;
        return;
    }
    putc1(w, c);
    w->close[w->depth] = c == '{' ? '}' : ']';
    w->comma[w->depth++] = false;
}

void jw_obj(jw *w) { open_level(w, '{'); }
void jw_arr(jw *w) { open_level(w, '['); }

void jw_end(jw *w)
{
    if (w->depth <= 0) {
        w->failed = true;
        return;
    }
    w->depth--;
    putc1(w, w->close[w->depth]);
}

static void string(jw *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    putc1(w, '"');
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(w, run, (size_t)(s - run));
        run = s + 1;
        switch (c) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        case '\b': put(w, "\\b", 2); break;
        case '\f': put(w, "\\f", 2); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(w, u, 6);
        }
        }
    }
    put(w, run, (size_t)(s - run));
    putc1(w, '"');
}

void jw_key(jw *w, const char *key)
{
    sep(w);
    string(w, key);
    putc1(w, ':');
    w->after_key = true;
}

void jw_str(jw *w, const char *s)
{
    sep(w);
    string(w, s ? s : "");
}

void jw_i64(jw *w, int64_t v)
{
    /* digits from the end; the magnitude as unsigned, so INT64_MIN works */
    char d[24];
    char *e = d + sizeof d, *p = e;
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    if (v < 0)
        *--p = '-';
    sep(w);
    put(w, p, (size_t)(e - p));
}

void jw_bool(jw *w, bool v)
{
    sep(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_raw(jw *w, const char *json)
{
    sep(w);
    put(w, json, strlen(json));
}

char *jw_take(jw *w)
{
    char *p = NULL;
    if (!w->failed && w->depth == 0 && w->n > 0) {
        p = w->p;
        w->p = NULL;
    }
    jw_free(w);
    return p;
}

/*
 * b64.c — see b64.h.
 */
#include "base/b64.h"

#include <stdlib.h>
#include <string.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *b64_encode(const unsigned char *p, size_t n)
{
    if (n > ((size_t)-1 / 4) * 3 - 3)
        return NULL;
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = alphabet[v >> 6 & 63];
        *o++ = alphabet[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        *o++ = alphabet[v >> 18];
        *o++ = alphabet[v >> 12 & 63];
        *o++ = alphabet[v >> 6 & 63];
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int b64_decode(const char *s, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    size_t n = strlen(s);
    if (n % 4)
        return -1;
    unsigned char *buf = malloc(n / 4 * 3 + 1), *o = buf;
    if (!buf)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int a = val(s[i]), b = val(s[i + 1]), c = val(s[i + 2]), d = val(s[i + 3]);
        int last = i + 4 == n;
        int pad = last && s[i + 3] == '=' ? (s[i + 2] == '=' ? 2 : 1) : 0;
        if (a < 0 || b < 0 || (pad < 2 && c < 0) || (pad < 1 && d < 0)) {
            free(buf);
            return -1;
        }
        unsigned v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)(pad < 2 ? c : 0) << 6 |
                     (unsigned)(pad < 1 ? d : 0);
        *o++ = (unsigned char)(v >> 16);
        if (pad < 2)
            *o++ = (unsigned char)(v >> 8 & 255);
        if (pad < 1)
            *o++ = (unsigned char)(v & 255);
    }
    *out = buf;
    *len = (size_t)(o - buf);
    return 0;
}

/*
 * Fuzz target: base/jsonscan on arbitrary bytes — jscan_value,
 * jscan_is_object, jscan_members (and jscan_members_of on what they
 * return), the array iterator, jscan_i64 and jscan_str on every value
 * reached. Checks the promises of jsonscan.h: every span stays inside the
 * buffer, and a decoded string fits its stated space, is valid UTF-8 and
 * holds no NUL. Corpus: tests/fuzz/corpus/jsonscan/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonscan.h"
#include "base/text.h"

static const char *lo, *hi; /* the input buffer */

static void in_buffer(jscan_span v, const char *what)
{
    if (!v.p && !v.end)
        return;
    if (!v.p || !v.end || v.p < lo || v.end > hi || v.p > v.end) {
        fprintf(stderr, "jsonscan fuzz: %s span outside the input\n", what);
        abort();
    }
}

static void value(jscan_span v, int depth)
{
    in_buffer(v, "value");
    if (!v.p || v.p == v.end)
        return;
    int64_t i;
    (void)jscan_i64(v, &i);
    if (*v.p == '"') {
        size_t n = (size_t)(v.end - v.p);
        size_t cap = JSCAN_STR_CAP(n);
        char *out = malloc(cap);
        if (!out)
            return;
        long got = jscan_str(v, out, cap);
        if (got >= 0) {
            if ((size_t)got + 1 > cap || strlen(out) != (size_t)got ||
                !text_utf8_valid(out, (size_t)got)) {
                fprintf(stderr, "jsonscan fuzz: jscan_str broke its promise\n");
                abort();
            }
        }
        free(out);
        return;
    }
    if (depth > 8)
        return;
    if (*v.p == '[') {
        jscan_iter it = jscan_items(v);
        jscan_span item;
        int n = 0;
        while (jscan_next(&it, &item) == 1 && n++ < 64)
            value(item, depth + 1);
        return;
    }
    if (*v.p == '{') {
        static const char *const keys[] = {"update_id", "message", "text", "a", "",
                                           "callback_query", "from", "id"};
        jscan_span out[8];
        int n = jscan_members_of(v, keys, out, 8);
        if (n > 0)
            for (int k = 0; k < 8; k++)
                value(out[k], depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly `size` bytes: ASan sees any read past the end */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    lo = buf;
    hi = buf + size;
    const char *end = jscan_value(buf, buf + size);
    if (end && (end < buf || end > buf + size))
        abort();
    if (end)
        value((jscan_span){buf, end}, 0);
    int obj = jscan_is_object(buf, size);
    static const char *const keys[] = {"update_id", "ok", "result", "message", "description"};
    jscan_span out[5];
    int n = jscan_members(buf, size, keys, out, 5);
    if ((n >= 0) != (obj == 1)) {
        fprintf(stderr, "jsonscan fuzz: jscan_members and jscan_is_object disagree\n");
        abort();
    }
    if (n > 0)
        for (int k = 0; k < 5; k++)
            value(out[k], 0);
    jscan_span one;
    if (jscan_member(buf, size, "result", &one) == 1)
        value(one, 0);
    free(buf);
    return 0;
}

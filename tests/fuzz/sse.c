/*
 * Fuzz target: ai/sse on a streamed chat-completion body. The first byte
 * chooses where the body is cut into pieces (the transport's cuts are
 * arbitrary); the events of the cut feed must equal those of the whole body
 * fed at once, and of the body fed byte by byte (short bodies). Every
 * content delta must be valid UTF-8 (sse.h's promise). The rest of the
 * input also goes to sse_parse_chunk as one JSON chunk. Corpus:
 * tests/fuzz/corpus/sse/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/sse.h"
#include "base/text.h"

/* The events of one parse, written out as text for comparing. */
typedef struct rec {
    text_buf b;
} rec;

static int on_event(void *ud, const sse_event *ev)
{
    rec *r = ud;
    char head[160];
    snprintf(head, sizeof head, "%d %zu %s %ld %ld %ld|", (int)ev->kind, ev->len,
             ev->code ? ev->code : "-", ev->prompt_tokens, ev->completion_tokens,
             ev->total_tokens);
    text_buf_adds(&r->b, head);
    if (ev->text) {
        if (ev->kind == SSE_DELTA && !text_utf8_valid(ev->text, ev->len)) {
            fprintf(stderr, "sse fuzz: a delta that is not valid UTF-8\n");
            abort();
        }
        text_buf_add(&r->b, ev->text, ev->len);
    }
    text_buf_addc(&r->b, '\n');
    return 0;
}

/* Parses body[0..n) in pieces of `step` bytes (0: all at once); the events
 * and the final status go into r. */
static void run(const char *body, size_t n, size_t step, rec *r)
{
    text_buf_init(&r->b, 1 << 22);
    sse_parser *p = sse_new(on_event, r, 4096);
    if (!p)
        abort();
    int rc = 0;
    if (!step) {
        rc = sse_feed(p, body, n);
    } else {
        for (size_t i = 0; i < n && rc == 0; i += step)
            rc = sse_feed(p, body + i, n - i < step ? n - i : step);
    }
    if (rc == 0)
        rc = sse_end(p);
    char tail[64];
    snprintf(tail, sizeof tail, "rc %d skipped %d\n", rc, sse_skipped(p));
    text_buf_adds(&r->b, tail);
    sse_free(p);
}

static void same(rec *a, rec *b, const char *how)
{
    if (a->b.len != b->b.len || memcmp(a->b.p ? a->b.p : "", b->b.p ? b->b.p : "", a->b.len)) {
        fprintf(stderr, "sse fuzz: fed %s, the events differ from the whole feed's\n"
                "--- whole:\n%s\n--- %s:\n%s\n", how, a->b.p ? a->b.p : "", how,
                b->b.p ? b->b.p : "");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = 1 + data[0] % 97;
    size_t n = size - 1;
    char *body = malloc(n ? n : 1);
    if (!body)
        return 0;
    memcpy(body, data + 1, n);
    rec whole, cut;
    run(body, n, 0, &whole);
    run(body, n, step, &cut);
    same(&whole, &cut, "in pieces");
    text_buf_free(&cut.b);
    if (n <= 2048) {
        rec bytes;
        run(body, n, 1, &bytes);
        same(&whole, &bytes, "byte by byte");
        text_buf_free(&bytes.b);
    }
    text_buf_free(&whole.b);
    rec chunk;
    text_buf_init(&chunk.b, 1 << 22);
    (void)sse_parse_chunk(body, n, on_event, &chunk);
    text_buf_free(&chunk.b);
    free(body);
    return 0;
}

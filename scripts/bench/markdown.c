/*
 * markdown.c — formatting the model's answers (runtime/base/markdown.h):
 * `make bench-markdown` (or bin/bench-markdown [FILE] [RUNS]).
 *
 * FILE (default tests/e2e/data/formatted_code.md: a heading, an intro with
 * a link, a list, a 14,000-character code block, a quote) is rendered and
 * split into messages RUNS times (default 200); then the streamed case, as
 * delivery/draft.c and the console do it: every prefix of it in steps of
 * 400 bytes rendered and split (a draft each). Prints the sizes, the
 * entities and parts, and per-run times (median and the slowest).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/markdown.h"
#include "base/text.h"
#include "../../tests/unit/support/slurp.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Renders and splits md[0..n) once; the parts' count in *parts. */
static int once(const char *md, size_t n, int *parts, int *ents)
{
    md_text t, *p;
    if (md_render(md, n, &t))
        return -1;
    int np;
    if (md_split(&t, TEXT_TG_MAX, &p, &np)) {
        md_text_free(&t);
        return -1;
    }
    *parts = np;
    *ents = t.n;
    md_parts_free(p, np);
    md_text_free(&t);
    return 0;
}

int main(int argc, char **argv)
{
    const char *file = argc > 1 ? argv[1] : "tests/e2e/data/formatted_code.md";
    int runs = argc > 2 ? atoi(argv[2]) : 200;
    if (runs < 1)
        runs = 1;
    char *md = slurp(file);
    if (!md) {
        fprintf(stderr, "bench-markdown: cannot read %s\n", file);
        return 1;
    }
    size_t n = strlen(md);
    double *t = malloc((size_t)runs * sizeof *t);
    int parts = 0, ents = 0;
    for (int i = 0; i < runs; i++) {
        double t0 = now_us();
        if (once(md, n, &parts, &ents)) {
            fprintf(stderr, "bench-markdown: out of memory\n");
            return 1;
        }
        t[i] = now_us() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_d);
    printf("%s: %zu bytes, %zu UTF-16 units, %d entities, %d messages\n", file, n,
           text_utf16_len(md, n), ents, parts);
    printf("render + split, whole answer: median %.0f us, max %.0f us (%d runs)\n",
           t[runs / 2], t[runs - 1], runs);
    int drafts = 0;
    double t0 = now_us();
    for (size_t k = 400; k < n + 400; k += 400, drafts++)
        if (once(md, k < n ? k : n, &parts, &ents))
            return 1;
    double all = now_us() - t0;
    printf("streamed: %d drafts (a prefix every 400 bytes) rendered + split in %.0f us, "
           "%.0f us a draft\n", drafts, all, all / drafts);
    free(t);
    free(md);
    return 0;
}

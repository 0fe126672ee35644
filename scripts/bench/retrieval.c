/*
 * retrieval.c — the retrieval module (runtime/ai/retr.h) at scale:
 * `make bench-retrieval` (or bin/bench-retrieval [CHUNKS] [PASSES]).
 *
 * The corpus is made from the rental bot's knowledge, so that its words,
 * lengths and languages are those of a real knowledge base: every chunk
 * is one of the 44 sections (English or Russian) with its words varied —
 * about a third of them replaced by words drawn from a Zipf distribution
 * (s = 1) over 40,000 made-up words of that language, as a company's
 * documents add names, models, places and numbers — cut or extended to a
 * length between 50 and 300 words. The queries are the question set
 * (tests/retrieval/questions.tsv), run PASSES times (default 10): each
 * query's time is measured alone, and p50, p99 and the maximum printed.
 *
 * Hybrid: every chunk also gets a vector of DIMS floats (default 256,
 * `bin/bench-retrieval CHUNKS PASSES DIMS`), as kbvec would load them from
 * the cache; a query is then the bm25 search (top 16), the exact cosine
 * scan over every vector (top 16, ai/vec.h) and their reciprocal rank
 * fusion, as kb_search_hybrid runs them. The vectors are random (a
 * query's is a chunk's plus noise): the cost does not depend on what they
 * mean.
 *
 * Prints: the corpus (chunks, distinct words, build time), then the query
 * latencies, lexical and hybrid. Deterministic: the generator's seed is
 * fixed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ai/kb.h"
#include "ai/retr.h"
#include "ai/vec.h"
#include "base/text.h"
#include "../../tests/unit/support/slurp.h"

#define VOCAB 40000       /* made-up words per language */
#define QUESTIONS "tests/retrieval/questions.tsv"

static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A made-up word of language l (0 en, 1 ru) for rank r: syllables chosen
 * by the rank's digits, so every rank has its own word. */
static void made_up(int l, int r, char *out, size_t cap)
{
    static const char *const lat[] = {"ka", "ro", "mi", "te", "lu", "sa", "vo", "ne", "di",
                                      "pa", "zo", "ri", "gu", "be", "fa", "ho"};
    static const char *const cyr[] = {"ка", "ро", "ми", "те", "лу", "са", "во", "не", "ди",
                                      "па", "зо", "ри", "гу", "бе", "фа", "хо"};
    const char *const *syl = l ? cyr : lat;
    size_t n = 0;
    out[0] = '\0';
    int v = r + 16 * 16; /* three syllables at least */
    while (v > 0 && n + 8 < cap) {
        n += (size_t)snprintf(out + n, cap - n, "%s", syl[v % 16]);
        v /= 16;
    }
    snprintf(out + n, cap - n, "%s", l ? "ин" : "en");
}

/* Zipf(1) over [0, VOCAB): inverse of the harmonic CDF by bisection. */
static double g_cdf[VOCAB];

static int zipf(void)
{
    double u = (double)(rnd() >> 11) / (double)(1ULL << 53) * g_cdf[VOCAB - 1];
    int lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (g_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

typedef struct section {
    char *title;
    char **words;
    int n;
    int lang;
} section;

/* The sections of a knowledge file, split into words at spaces. */
static int load_sections(const char *path, int lang, section *out, int max)
{
    char *text = slurp(path);
    if (!text)
        return -1;
    char **v;
    int nv, n = 0;
    if (kb_split(text, strlen(text), &v, &nv)) {
        free(text);
        return -1;
    }
    for (int i = 0; i < nv && n < max; i++) {
        section *s = &out[n++];
        char *nl = strchr(v[i], '\n');
        s->title = strndup(v[i], nl ? (size_t)(nl - v[i]) : strlen(v[i]));
        s->lang = lang;
        s->words = NULL;
        s->n = 0;
        char *save = NULL;
        for (char *w = strtok_r(nl ? nl + 1 : v[i], " \n", &save); w;
             w = strtok_r(NULL, " \n", &save)) {
            s->words = realloc(s->words, (size_t)(s->n + 1) * sizeof *s->words);
            s->words[s->n++] = strdup(w);
        }
    }
    text_parts_free(v, nv);
    free(text);
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int chunks = argc > 1 ? atoi(argv[1]) : 100000;
    int passes = argc > 2 ? atoi(argv[2]) : 10;
    int dims = argc > 3 ? atoi(argv[3]) : 256;
    for (int i = 0; i < VOCAB; i++)
        g_cdf[i] = (i ? g_cdf[i - 1] : 0) + 1.0 / (i + 1);

    section secs[64];
    int ne = load_sections("spec/rental/company_context.txt", 0, secs, 32);
    int nr = ne < 0 ? -1 : load_sections("spec/rental/company_context.ru.txt", 1, secs + ne, 32);
    if (ne <= 0 || nr <= 0) {
        fprintf(stderr, "bench-retrieval: run from the repository's root\n");
        return 1;
    }
    int ns = ne + nr;

    char err[256];
    retr *r = retr_open(err, sizeof err);
    if (!r) {
        fprintf(stderr, "bench-retrieval: %s\n", err);
        return 1;
    }
    static unsigned char used[2][VOCAB];
    long distinct = 0;
    double t0 = now_s();
    retr_begin(r);
    text_buf body, title;
    for (int c = 0; c < chunks; c++) {
        const section *s = &secs[rnd() % (uint64_t)ns];
        int len = 50 + (int)(rnd() % 251);
        text_buf_init(&body, (size_t)-1);
        text_buf_init(&title, (size_t)-1);
        char w[96];
        for (int i = 0; i < len; i++) {
            const char *word = s->words[i % s->n];
            if (i >= s->n || rnd() % 3 == 0) {
                int z = zipf();
                distinct += !used[s->lang][z];
                used[s->lang][z] = 1;
                made_up(s->lang, z, w, sizeof w);
                word = w;
            }
            if (i)
                text_buf_addc(&body, ' ');
            text_buf_adds(&body, word);
        }
        made_up(s->lang, zipf(), w, sizeof w);
        text_buf_adds(&title, s->title);
        text_buf_addc(&title, ' ');
        text_buf_adds(&title, w);
        if (retr_add(r, c + 1, title.p, body.p, s->lang ? "ru" : "en")) {
            fprintf(stderr, "bench-retrieval: %s\n", retr_errmsg(r));
            return 1;
        }
        text_buf_free(&body);
        text_buf_free(&title);
    }
    if (retr_commit(r)) {
        fprintf(stderr, "bench-retrieval: %s\n", retr_errmsg(r));
        return 1;
    }
    double built = now_s() - t0;
    printf("corpus: %d chunks of 50-300 words (the rental knowledge's 44 sections, a third of\n"
           "        their words varied from a Zipf(1) vocabulary), %ld made-up words in use\n"
           "        besides the knowledge's own; built in %.1f s\n",
           chunks, distinct, built);

    char *qs = slurp(QUESTIONS);
    if (!qs) {
        fprintf(stderr, "bench-retrieval: cannot read %s\n", QUESTIONS);
        return 1;
    }
    char *q[256], *lang[256];
    int nq = 0;
    for (char *save = NULL, *line = strtok_r(qs, "\n", &save); line && nq < 256;
         line = strtok_r(NULL, "\n", &save)) {
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (line[0] == '#' || !t2)
            continue;
        *t1 = '\0';
        lang[nq] = line;
        q[nq++] = t2 + 1;
    }
    double *lat = malloc((size_t)(nq * passes) * sizeof *lat);
    int n = 0, hits_total = 0;
    retr_hit h[4];
    for (int p = 0; p < passes; p++)
        for (int i = 0; i < nq; i++) {
            double a = now_s();
            int got = retr_search(r, q[i], lang[i], h, 4);
            lat[n++] = (now_s() - a) * 1e3;
            hits_total += got > 0 ? got : 0;
        }
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    printf("queries: %d questions x %d passes = %d, top 4 each (%d hits)\n", nq, passes, n,
           hits_total);
    printf("latency: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", lat[n / 2],
           lat[(int)(n * 0.99)], lat[n - 1]);

    /* hybrid: the vectors as the cache would hold them */
    vec_index *x = vec_new(chunks, dims);
    float *v = malloc((size_t)dims * sizeof *v);
    if (!x || !v) {
        fprintf(stderr, "bench-retrieval: no memory for %d vectors of %d dims\n", chunks, dims);
        return 1;
    }
    for (int c = 0; c < chunks; c++) {
        for (int i = 0; i < dims; i++)
            v[i] = (float)((double)(rnd() >> 11) / (double)(1ULL << 53) - 0.5);
        vec_set(x, c, v);
    }
    n = 0;
    hits_total = 0;
    for (int p = 0; p < passes; p++)
        for (int i = 0; i < nq; i++) {
            for (int k = 0; k < dims; k++)
                v[k] = (float)((double)(rnd() >> 11) / (double)(1ULL << 53) - 0.5);
            double a = now_s();
            retr_hit lh[16];
            vec_hit vh[16];
            int ids_a[16], ids_b[16];
            int nl = retr_search(r, q[i], lang[i], lh, 16);
            int nv = vec_top(x, v, NULL, NULL, vh, 16);
            for (int k = 0; k < nl; k++)
                ids_a[k] = (int)lh[k].id - 1;
            for (int k = 0; k < nv; k++)
                ids_b[k] = vh[k].row;
            vec_fused f[32];
            int got = vec_fuse(ids_a, nl > 0 ? nl : 0, ids_b, nv, f, 4);
            lat[n++] = (now_s() - a) * 1e3;
            hits_total += got;
        }
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    printf("hybrid: + %d vectors of %d dims (%.0f MB), cosine scan and rank fusion, top 4\n",
           chunks, dims, (double)chunks * dims * sizeof(float) / 1e6);
    printf("latency: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", lat[n / 2],
           lat[(int)(n * 0.99)], lat[n - 1]);
    vec_free(x);
    free(v);
    free(lat);
    free(qs);
    retr_free(r);
    for (int i = 0; i < ns; i++) {
        for (int k = 0; k < secs[i].n; k++)
            free(secs[i].words[k]);
        free(secs[i].words);
        free(secs[i].title);
    }
    return 0;
}

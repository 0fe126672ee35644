/*
 * tts.c — the offline speech of answers by voice (runtime/ai/tts.h:
 * espeak-ng, then libopusenc into Ogg/Opus) measured: `make bench-tts`
 * (or bin/bench-tts [PASSES]), also run by `make bench`.
 *
 * The texts are those of the speech fixtures (tests/voice/fixtures.tsv):
 * the button labels ("grammar": a word or three), the English dictation
 * sentences and the Russian one, and one long answer (the dictation
 * sentences joined: about 600 characters, one voice note's cap). Each is
 * spoken PASSES times (default 5) on this thread, as the bot's worker
 * thread speaks them; a pass's time covers synthesis and encoding.
 *
 * Prints per set: texts, audio seconds, the real-time factor (time to
 * make the note / its duration: 0.05 = twenty times faster than speech)
 * as p50 and max over the texts' medians, the same by the thread's CPU
 * time (what a shared, loaded machine does not inflate), and the bytes
 * per second of audio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ai/tts.h"
#include "../../tests/unit/support/slurp.h"

#define FIXTURES "tests/voice/fixtures.tsv"
#define MAX_TEXTS 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct set {
    const char *name;
    const char *lang;
    char *texts[MAX_TEXTS];
    int n;
} set;

/* Speaks every text of s `passes` times; prints one row. */
static int run_set(const set *s, int passes)
{
    double rtf[MAX_TEXTS], crtf[MAX_TEXTS], audio = 0, bytes = 0;
    for (int i = 0; i < s->n; i++) {
        double t[32], c[32];
        double secs = 0;
        size_t len = 0;
        for (int p = 0; p < passes; p++) {
            unsigned char *a;
            char err[128];
            double t0 = now_s(), c0 = cpu_s();
            if (tts_espeak_ogg(s->lang, s->texts[i], 165, &a, &len, &secs, err, sizeof err)) {
                fprintf(stderr, "bench-tts: %s: %s\n", s->texts[i], err);
                return -1;
            }
            t[p] = now_s() - t0;
            c[p] = cpu_s() - c0;
            free(a);
        }
        qsort(t, (size_t)passes, sizeof t[0], cmp_d);
        qsort(c, (size_t)passes, sizeof c[0], cmp_d);
        rtf[i] = t[passes / 2] / secs;
        crtf[i] = c[passes / 2] / secs;
        audio += secs;
        bytes += (double)len;
    }
    qsort(rtf, (size_t)s->n, sizeof rtf[0], cmp_d);
    qsort(crtf, (size_t)s->n, sizeof crtf[0], cmp_d);
    printf("| %-22s | %5d | %8.1f | %7.3f | %7.3f | %11.3f | %6.0f |\n", s->name, s->n, audio,
           rtf[s->n / 2], rtf[s->n - 1], crtf[s->n / 2], bytes / audio);
    return 0;
}

int main(int argc, char **argv)
{
    int passes = argc > 1 ? atoi(argv[1]) : 5;
    if (passes < 1 || passes > 31)
        passes = 5;
    char *tsv = slurp(FIXTURES);
    if (!tsv) {
        fprintf(stderr, "bench-tts: cannot read %s (run from the repository's root)\n", FIXTURES);
        return 1;
    }
    set sets[4] = {{"buttons (en)", "en", {0}, 0},
                   {"dictation (en)", "en", {0}, 0},
                   {"dictation (ru)", "ru", {0}, 0},
                   {"long answer (en)", "en", {0}, 0}};
    static char joined[8192];
    for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[5];
        int k = 0;
        for (char *p = line; k < 5; k++) {
            f[k] = p;
            char *tab = strchr(p, '\t');
            if (!tab) {
                k++;
                break;
            }
            *tab = '\0';
            p = tab + 1;
        }
        if (k < 4 || !strcmp(f[0], "file"))
            continue;
        set *s = !strcmp(f[3], "grammar") ? &sets[0]
                 : !strcmp(f[3], "dictation") && !strcmp(f[1], "en") ? &sets[1]
                 : !strcmp(f[3], "dictation") && !strcmp(f[1], "ru") ? &sets[2] : NULL;
        if (s && s->n < MAX_TEXTS)
            s->texts[s->n++] = f[2];
        if (s == &sets[1] && strlen(joined) + strlen(f[2]) + 2 < 620) {
            if (*joined)
                strcat(joined, " ");
            strcat(joined, f[2]);
        }
    }
    sets[3].texts[sets[3].n++] = joined;
    printf("offline speech (espeak-ng 165 wpm + libopusenc 24 kbit/s), %d passes, median per text\n\n",
           passes);
    printf("| texts                  | count | audio, s | RTF p50 | RTF max | CPU RTF p50 | B/s    |\n");
    printf("|------------------------|-------|----------|---------|---------|-------------|--------|\n");
    int rc = 0;
    for (int i = 0; i < 4 && !rc; i++)
        rc = sets[i].n ? run_set(&sets[i], passes) : 0;
    free(tsv);
    return rc ? 1 : 0;
}

/*
 * asr.c — voice notes understood offline, measured: `make bench-asr` (or
 * bin/bench-asr [PASSES]), also run by `make bench`.
 *
 * On the speech fixtures (tests/voice/fixtures.tsv, English): the button
 * phrases and commands, each decoded (libopusfile, resampled to 16 kHz)
 * and recognised with the grammar botc wrote for a rental or desk state
 * offering it, as the bot's worker thread does; and the dictation
 * sentences, decoded and recognised with the language model alone. Each
 * note PASSES times (default 3).
 *
 * Prints per set: notes, audio seconds, the real-time factor (decode +
 * recognition time / audio duration; 0.05 = twenty times faster than
 * speech) as the median over passes of the set's total, by wall clock and
 * by the thread's CPU time (what a loaded machine does not inflate), how
 * many phrases came back exactly, and dictation's word error rate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ai/asr.h"
#include "ai/audio.h"
#include "dialogue/machine.h"
#include "../../tests/unit/support/slurp.h"

extern const bm_machine rental_machine, desk_machine;

#define MAX_NOTES 64
#define MAX_PASSES 15

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

typedef struct note {
    unsigned char *ogg;
    size_t len;
    char text[256];
    asr_grammar g; /* grammar notes: the state's; its phrase's text in want */
    const char *want;
} note;

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n ? v[n / 2] : 0;
}

/* The first state of m whose grammar has a phrase saying text. */
static int find_grammar(const bm_machine *m, const char *text, note *nt)
{
    for (int s = 0; s < m->n_states; s++) {
        const bm_voice_grammar *v = &m->voice->states[s];
        asr_grammar g = {v->jsgf, (const asr_phrase *)v->phrases, v->n};
        const char *p = v->n ? asr_phrase_of(&g, text) : NULL;
        if (p) {
            nt->g = g;
            nt->want = p;
            return 0;
        }
    }
    return -1;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static unsigned char buf[1 << 22];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    unsigned char *b = malloc(*len ? *len : 1);
    if (b)
        memcpy(b, buf, *len);
    return b;
}

static void run(asr *a, note *v, int n, int passes, int grammar, const char *label)
{
    double wall[MAX_PASSES], cpu[MAX_PASSES], audio = 0;
    int exact = 0, edits = 0, words = 0;
    for (int p = 0; p < passes; p++) {
        double w0 = now_s(), c0 = cpu_s();
        audio = 0;
        for (int i = 0; i < n; i++) {
            audio_pcm pcm;
            char err[200];
            if (audio_decode(v[i].ogg, v[i].len, 120, &pcm, err, sizeof err)) {
                fprintf(stderr, "bench-asr: %s\n", err);
                exit(1);
            }
            audio += audio_seconds(&pcm);
            asr_result r;
            if (asr_recognize(a, pcm.s, pcm.n, grammar ? &v[i].g : NULL, &r, err, sizeof err)) {
                fprintf(stderr, "bench-asr: %s\n", err);
                exit(1);
            }
            if (p == 0 && grammar)
                exact += r.from_grammar && !strcmp(r.text, v[i].want);
            if (p == 0 && !grammar) {
                int e = 0, w = 0;
                asr_wer(v[i].text, r.text, &e, &w);
                edits += e;
                words += w;
            }
            asr_result_free(&r);
            audio_pcm_free(&pcm);
        }
        wall[p] = (now_s() - w0) / audio;
        cpu[p] = (cpu_s() - c0) / audio;
    }
    printf("%-10s %3d notes %6.1f s of audio   RTF wall %.3f  cpu %.3f", label, n, audio,
           median(wall, passes), median(cpu, passes));
    if (grammar)
        printf("   exact %d/%d\n", exact, n);
    else
        printf("   WER %.1f%% (%d/%d words)\n", words ? 100.0 * edits / words : 0, edits, words);
}

int main(int argc, char **argv)
{
    int passes = argc > 1 ? atoi(argv[1]) : 3;
    if (passes < 1 || passes > MAX_PASSES)
        passes = 3;
    char *tsv = slurp("tests/voice/fixtures.tsv");
    if (!tsv) {
        fprintf(stderr, "bench-asr: cannot read tests/voice/fixtures.tsv (run from the root)\n");
        return 1;
    }
    static note gram[MAX_NOTES], dict[MAX_NOTES];
    int ng = 0, nd = 0;
    char *save = NULL;
    for (char *line = strtok_r(tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char file[128], lang[8], text[256], kind[16], source[64];
        if (sscanf(line, "%127[^\t]\t%7[^\t]\t%255[^\t]\t%15[^\t]\t%63[^\t]", file, lang, text, kind,
                   source) != 5 || strcmp(lang, "en"))
            continue;
        note nt = {0};
        snprintf(nt.text, sizeof nt.text, "%s", text);
        const bm_machine *m = !strncmp(source, "desk:", 5) ? &desk_machine : &rental_machine;
        int g = !strcmp(kind, "grammar");
        if ((!g && strcmp(kind, "dictation")) || (g && find_grammar(m, text, &nt)))
            continue; /* the long note; inline and URL buttons (no phrases) */
        char path[256];
        snprintf(path, sizeof path, "tests/voice/%s", file);
        nt.ogg = read_file(path, &nt.len);
        if (!nt.ogg)
            continue;
        if (g && ng < MAX_NOTES)
            gram[ng++] = nt;
        else if (!g && nd < MAX_NOTES)
            dict[nd++] = nt;
    }
    free(tsv);
    char err[256];
    asr *a = asr_new(NULL, err, sizeof err);
    if (!a) {
        fprintf(stderr, "bench-asr: %s\n", err);
        return 1;
    }
    printf("voice notes understood offline (pocketsphinx, %d passes; RTF = decode + recognition "
           "time / audio duration, median pass)\n", passes);
    run(a, gram, ng, passes, 1, "grammar");
    run(a, dict, nd, passes, 0, "dictation");
    asr_free(a);
    for (int i = 0; i < ng; i++)
        free(gram[i].ogg);
    for (int i = 0; i < nd; i++)
        free(dict[i].ogg);
    return 0;
}

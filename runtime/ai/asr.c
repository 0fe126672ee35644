/*
 * asr.c — see asr.h.
 */
#include "ai/asr.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/fsg_model.h>
#include <sphinxbase/jsgf.h>

#define ASR_LM "_dictation"
#define ASR_MAX_GRAMMARS 64 /* searches kept per decoder (states spoken in) */

struct asr {
    ps_decoder_t *ps;
    cmd_ln_t *cfg;
    /* grammars already loaded as searches, by the JSGF text's address
     * (generated tables live as long as the program) */
    const char *loaded[ASR_MAX_GRAMMARS];
    int n_loaded;
};

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

/* pocketsphinx logs every model it loads to stderr: the bot's log is ours */
static void quiet(void) { err_set_logfp(NULL); }

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

asr *asr_new(const char *model_dir, char *err, size_t errlen)
{
    pthread_once(&quiet_once, quiet);
    if (!model_dir || !*model_dir)
        model_dir = getenv("ASR_MODEL_DIR");
    if (!model_dir || !*model_dir)
        model_dir = ASR_MODEL_DIR;
    char hmm[512], lm[512], dict[512];
    snprintf(hmm, sizeof hmm, "%s/en-us", model_dir);
    snprintf(lm, sizeof lm, "%s/en-us.lm.bin", model_dir);
    snprintf(dict, sizeof dict, "%s/cmudict-en-us.dict", model_dir);
    FILE *f = fopen(dict, "r");
    if (!f) {
        fail(err, errlen, "no speech model in %s (Debian: pocketsphinx-en-us)", model_dir);
        return NULL;
    }
    fclose(f);
    asr *a = calloc(1, sizeof *a);
    if (!a) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    a->cfg = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-dict", dict, "-samprate", "16000",
                         NULL);
    a->ps = a->cfg ? ps_init(a->cfg) : NULL;
    if (!a->ps || ps_set_lm_file(a->ps, ASR_LM, lm)) {
        fail(err, errlen, "pocketsphinx could not load the model in %s", model_dir);
        asr_free(a);
        return NULL;
    }
    return a;
}

void asr_free(asr *a)
{
    if (!a)
        return;
    if (a->ps)
        ps_free(a->ps);
    if (a->cfg)
        cmd_ln_free_r(a->cfg);
    free(a);
}

void asr_result_free(asr_result *r)
{
    free(r->text);
    free(r->heard);
    r->text = r->heard = NULL;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Runs the active search over pcm; the hypothesis (borrowed from the
 * decoder, "" for none) and its path score. */
static const char *decode(asr *a, const int16_t *pcm, size_t n, int32 *score)
{
    *score = 0;
    if (ps_start_utt(a->ps) < 0)
        return NULL;
    ps_process_raw(a->ps, pcm, n, FALSE, TRUE);
    if (ps_end_utt(a->ps) < 0)
        return NULL;
    const char *h = ps_get_hyp(a->ps, score);
    return h ? h : "";
}

/* ps_set_jsgf_string, without its leak: Debian's pocketsphinx 5prealpha
 * never frees the parsed grammar (88 bytes and its rules per call). */
static int set_jsgf(asr *a, const char *name, const char *text)
{
    jsgf_t *j = jsgf_parse_string(text, NULL);
    jsgf_rule_t *rule = j ? jsgf_get_public_rule(j) : NULL;
    fsg_model_t *fsg = rule ? jsgf_build_fsg(j, rule, ps_get_logmath(a->ps),
                                             (float32)cmd_ln_float32_r(a->cfg, "-lw"))
                            : NULL;
    int rc = fsg ? ps_set_fsg(a->ps, name, fsg) : -1;
    if (fsg)
        fsg_model_free(fsg); /* the search keeps its own reference */
    if (j)
        jsgf_grammar_free(j);
    return rc;
}

/* The search name of grammar g, loading it the first time. */
static int use_grammar(asr *a, const asr_grammar *g, char *name, size_t namelen)
{
    for (int i = 0; i < a->n_loaded; i++)
        if (a->loaded[i] == g->jsgf) {
            snprintf(name, namelen, "g%d", i);
            return ps_set_search(a->ps, name);
        }
    int slot = a->n_loaded < ASR_MAX_GRAMMARS ? a->n_loaded++ : ASR_MAX_GRAMMARS - 1;
    snprintf(name, namelen, "g%d", slot);
    if (slot == ASR_MAX_GRAMMARS - 1 && a->loaded[slot])
        ps_unset_search(a->ps, name);
    a->loaded[slot] = NULL;
    if (set_jsgf(a, name, g->jsgf))
        return -1;
    a->loaded[slot] = g->jsgf;
    return ps_set_search(a->ps, name);
}

/* The words of s, lower case, separated by one space: "Book a car!" ->
 * "book a car". malloc'd. */
static char *words_of(const char *s)
{
    size_t n = strlen(s);
    char *w = malloc(n + 1), *p = w;
    if (!w)
        return NULL;
    int gap = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '\'' || c >= 0x80) {
            if (gap && p > w)
                *p++ = ' ';
            gap = 0;
            *p++ = (char)tolower(c);
        } else {
            gap = 1;
        }
    }
    *p = '\0';
    return w;
}

const char *asr_phrase_of(const asr_grammar *g, const char *transcript)
{
    char *w = g && transcript ? words_of(transcript) : NULL;
    const char *text = NULL;
    for (int i = 0; w && *w && i < g->n && !text; i++)
        if (!strcmp(g->phrases[i].words, w))
            text = g->phrases[i].text;
    free(w);
    return text;
}

/* Splits s (modified) into words; n of at most max. */
static int split(char *s, char **v, int max)
{
    int n = 0;
    for (char *t = strtok(s, " "); t && n < max; t = strtok(NULL, " "))
        v[n++] = t;
    return n;
}

#define WER_MAX_WORDS 256

double asr_wer(const char *ref, const char *hyp, int *edits, int *words)
{
    char *r = words_of(ref ? ref : ""), *h = words_of(hyp ? hyp : "");
    static __thread char *rv[WER_MAX_WORDS], *hv[WER_MAX_WORDS];
    static __thread int d[WER_MAX_WORDS + 1][WER_MAX_WORDS + 1];
    int nr = r ? split(r, rv, WER_MAX_WORDS) : 0, nh = h ? split(h, hv, WER_MAX_WORDS) : 0;
    for (int i = 0; i <= nr; i++)
        d[i][0] = i;
    for (int j = 0; j <= nh; j++)
        d[0][j] = j;
    for (int i = 1; i <= nr; i++)
        for (int j = 1; j <= nh; j++) {
            int sub = d[i - 1][j - 1] + (strcmp(rv[i - 1], hv[j - 1]) != 0);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    free(r);
    free(h);
    if (edits)
        *edits = d[nr][nh];
    if (words)
        *words = nr;
    return nr ? (double)d[nr][nh] / nr : nh ? 1.0 : 0.0;
}

int asr_dictate(asr *a, const int16_t *pcm, size_t n, char **out, char *err, size_t errlen)
{
    *out = NULL;
    int32 score;
    if (ps_set_search(a->ps, ASR_LM))
        return fail(err, errlen, "no dictation model");
    const char *h = decode(a, pcm, n, &score);
    if (!h)
        return fail(err, errlen, "the recogniser failed");
    *out = strdup(h);
    return *out ? 0 : fail(err, errlen, "out of memory");
}

/* A grammar answers every utterance with one of its phrases. A phrase is
 * taken only when it plausibly is what was said: its path scores no worse
 * than ASR_MIN_FRAME_SCORE per frame, and the speech heard lasts no more
 * than the phrase's phones can take (ASR_PHONE_MS each, twice over, plus
 * ASR_SLACK_MS): "can you deliver the car to the airport" is no "menu".
 * Both were set on synthetic speech (tests/voice): in-grammar phrases
 * scored -15 to -28 per frame, forced matches of other speech -24 to -47. */
#define ASR_MIN_FRAME_SCORE (-30.0)
#define ASR_PHONE_MS 90.0
#define ASR_SLACK_MS 400.0

/* Milliseconds of pcm louder than a tenth of its loudest 20 ms. */
static double voiced_ms(const int16_t *pcm, size_t n)
{
    enum { W = 320 }; /* 20 ms at 16 kHz */
    size_t nw = n / W;
    if (!nw)
        return 0;
    double *e = malloc(nw * sizeof *e), peak = 0;
    if (!e)
        return 0;
    for (size_t w = 0; w < nw; w++) {
        double sum = 0;
        for (size_t i = 0; i < W; i++)
            sum += (double)pcm[w * W + i] * pcm[w * W + i];
        e[w] = sum / W;
        if (e[w] > peak)
            peak = e[w];
    }
    size_t v = 0;
    for (size_t w = 0; w < nw; w++)
        v += e[w] > peak * 0.01; /* -20 dB in energy: a tenth in amplitude */
    free(e);
    return (double)v * 20.0;
}

/* The phones of words (space-separated) in the dictionary, or -1 when one
 * is missing. */
static int phones_of(asr *a, const char *words)
{
    char *w = strdup(words);
    if (!w)
        return -1;
    int n = 0;
    for (char *save = NULL, *t = strtok_r(w, " ", &save); t && n >= 0;
         t = strtok_r(NULL, " ", &save)) {
        char *pr = ps_lookup_word(a->ps, t);
        if (!pr) {
            n = -1;
            break;
        }
        n++; /* count the phones: one more per space */
        for (char *c = pr; *c; c++)
            n += *c == ' ';
        ckd_free(pr);
    }
    free(w);
    return n;
}

int asr_recognize(asr *a, const int16_t *pcm, size_t n, const asr_grammar *g,
                  asr_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (g && g->jsgf && g->n > 0) {
        char name[16];
        double t0 = now_ms();
        int32 score = 0;
        const char *h = use_grammar(a, g, name, sizeof name) == 0 ? decode(a, pcm, n, &score) : NULL;
        int frames = ps_get_n_frames(a->ps);
        for (int i = 0; h && *h && i < g->n; i++) {
            if (strcmp(g->phrases[i].words, h))
                continue;
            int ph = phones_of(a, h);
            double per_frame = frames > 0 ? (double)score / frames : -1e9;
            if (ph > 0 && per_frame >= ASR_MIN_FRAME_SCORE &&
                voiced_ms(pcm, n) <= 2.0 * ph * ASR_PHONE_MS + ASR_SLACK_MS) {
                out->text = strdup(g->phrases[i].text);
                out->heard = strdup(h);
                out->from_grammar = 1;
            }
            break;
        }
        out->grammar_ms = now_ms() - t0;
        if (out->from_grammar) {
            if (!out->text || !out->heard) {
                asr_result_free(out);
                return fail(err, errlen, "out of memory");
            }
            return 0;
        }
    }
    double t1 = now_ms();
    int rc = asr_dictate(a, pcm, n, &out->text, err, errlen);
    out->dictation_ms = now_ms() - t1;
    if (rc)
        return -1;
    out->heard = strdup(out->text);
    if (!out->heard) {
        asr_result_free(out);
        return fail(err, errlen, "out of memory");
    }
    return 0;
}

/*
 * test_asr.c — voice notes understood offline, on the speech fixtures
 * (tests/voice/, made by scripts/voice-fixtures.sh; fixtures.tsv says what
 * each says): every button phrase and command of the example bots is
 * recognised exactly with the grammar botc wrote for a state that offers
 * it (generated/rental, generated/desk), the dictation set's word error
 * rate is printed, a note over the limit is refused, WAV goes through the
 * same path, and botc's word normalisation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "ai/asr.h"
#include "ai/audio.h"
#include "dialogue/machine.h"
#include "emit_jsgf.h"
#include "support/slurp.h"

extern const bm_machine rental_machine, desk_machine;

static asr *engine;

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    *len = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    return b;
}

static int decode(const char *file, double max_s, audio_pcm *pcm)
{
    char path[512], err[200];
    snprintf(path, sizeof path, "tests/voice/%s", file);
    size_t n = 0;
    unsigned char *b = read_file(path, &n);
    if (!b)
        return -1;
    audio_err e = audio_decode(b, n, max_s, pcm, err, sizeof err);
    free(b);
    return e == AUDIO_OK ? 0 : (int)e;
}

/* Inline buttons (callback data), URL and contact buttons are no phrases:
 * a spoken label cannot press them (a transcript is typed text). */

/* The grammar of the first state (or field) of m offering a phrase spoken
 * as `words`, and the phrase. */
static const bm_voice_grammar *grammar_with(const bm_machine *m, const char *words,
                                            const bm_voice_phrase **ph)
{
    for (int s = 0; s < m->n_states; s++) {
        const bm_voice_grammar *g = &m->voice->states[s];
        for (int i = 0; i < g->n; i++)
            if (!strcmp(g->phrases[i].words, words)) {
                *ph = &g->phrases[i];
                return g;
            }
    }
    return NULL;
}

typedef struct row {
    char file[128], lang[8], text[256], kind[16], source[64];
} row;

static int read_rows(row **out)
{
    char *tsv = slurp("tests/voice/fixtures.tsv");
    if (!tsv)
        return -1;
    int n = 0, cap = 64;
    row *v = calloc((size_t)cap, sizeof *v);
    char *save = NULL;
    for (char *line = strtok_r(tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        row r;
        if (!strncmp(line, "file\t", 5) ||
            sscanf(line, "%127[^\t]\t%7[^\t]\t%255[^\t]\t%15[^\t]\t%63[^\t]", r.file, r.lang, r.text,
                   r.kind, r.source) != 5)
            continue;
        if (n == cap)
            v = realloc(v, (size_t)(cap *= 2) * sizeof *v);
        v[n++] = r;
    }
    free(tsv);
    *out = v;
    return n;
}

static void test_grammar_phrases(void)
{
    row *rows = NULL;
    int n = read_rows(&rows);
    CU_ASSERT_FATAL(n > 0);
    int tried = 0, exact = 0;
    double audio_s = 0, ms = 0;
    arena *a = arena_new();
    for (int i = 0; i < n; i++) {
        if (strcmp(rows[i].kind, "grammar") || strcmp(rows[i].lang, "en"))
            continue;
        const bm_machine *m = !strncmp(rows[i].source, "desk:", 5) ? &desk_machine : &rental_machine;
        const char *words = jsgf_words(a, rows[i].text);
        const bm_voice_phrase *ph = NULL;
        const bm_voice_grammar *g = words ? grammar_with(m, words, &ph) : NULL;
        if (!g) {
            printf("\n  %s: \"%s\" is in no state's grammar", rows[i].file, rows[i].text);
            continue;
        }
        audio_pcm pcm;
        CU_ASSERT_EQUAL_FATAL(decode(rows[i].file, 60, &pcm), 0);
        asr_grammar ag = {g->jsgf, (const asr_phrase *)g->phrases, g->n};
        asr_result r;
        char err[200];
        CU_ASSERT_EQUAL_FATAL(asr_recognize(engine, pcm.s, pcm.n, &ag, &r, err, sizeof err), 0);
        tried++;
        audio_s += audio_seconds(&pcm);
        ms += r.grammar_ms + r.dictation_ms;
        if (r.from_grammar && !strcmp(r.text, ph->text))
            exact++;
        else
            printf("\n  %s: expected \"%s\", heard \"%s\"", rows[i].file, ph->text, r.text);
        asr_result_free(&r);
        audio_pcm_free(&pcm);
    }
    arena_free(a);
    free(rows);
    printf("\n  grammar: %d of %d phrases recognised exactly (%.1f s of speech in %.0f ms)\n",
           exact, tried, audio_s, ms);
    CU_ASSERT(tried >= 20);
    CU_ASSERT(exact >= 20);
}

static void test_dictation(void)
{
    row *rows = NULL;
    int n = read_rows(&rows);
    CU_ASSERT_FATAL(n > 0);
    int edits = 0, words = 0, notes = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(rows[i].kind, "dictation") || strcmp(rows[i].lang, "en"))
            continue;
        audio_pcm pcm;
        CU_ASSERT_EQUAL_FATAL(decode(rows[i].file, 60, &pcm), 0);
        char *text = NULL, err[200];
        CU_ASSERT_EQUAL_FATAL(asr_dictate(engine, pcm.s, pcm.n, &text, err, sizeof err), 0);
        int e = 0, w = 0;
        asr_wer(rows[i].text, text, &e, &w);
        edits += e;
        words += w;
        notes++;
        free(text);
        audio_pcm_free(&pcm);
    }
    free(rows);
    printf("\n  dictation: word error rate %.1f%% (%d edits in %d words, %d notes)\n",
           words ? 100.0 * edits / words : 0.0, edits, words, notes);
    CU_ASSERT(notes > 0);
    CU_ASSERT(words > 0 && edits < words); /* something recognised */
}

static void test_too_long_and_wav(void)
{
    audio_pcm pcm;
    CU_ASSERT_EQUAL(decode("long_en.ogg", 60, &pcm), AUDIO_ERR_TOOLONG);
    CU_ASSERT_PTR_NULL(pcm.s);
    /* the same note as WAV decodes to the same samples, and is recognised */
    CU_ASSERT_EQUAL_FATAL(decode("g_rental_btn_book.ogg", 60, &pcm), 0);
    size_t len = 0;
    unsigned char *wav = audio_wav(&pcm, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(wav);
    CU_ASSERT_EQUAL(audio_sniff(wav, len), AUDIO_WAV);
    audio_pcm back;
    char err[200];
    CU_ASSERT_EQUAL_FATAL(audio_decode(wav, len, 60, &back, err, sizeof err), AUDIO_OK);
    CU_ASSERT_EQUAL(back.n, pcm.n);
    int worst = 0; /* int16 -> float -> int16 scales by 32767/32768 */
    for (size_t i = 0; i < back.n && i < pcm.n; i++) {
        int d = abs(back.s[i] - pcm.s[i]);
        worst = d > worst ? d : worst;
    }
    CU_ASSERT(worst <= 1);
    free(wav);
    audio_pcm_free(&back);
    audio_pcm_free(&pcm);
    /* not audio at all */
    CU_ASSERT_EQUAL(audio_decode((const unsigned char *)"hello", 5, 60, &pcm, err, sizeof err),
                    AUDIO_ERR_FORMAT);
}

static void test_words(void)
{
    arena *a = arena_new();
    CU_ASSERT_STRING_EQUAL(jsgf_words(a, "🚗 Cars and prices"), "cars and prices");
    CU_ASSERT_STRING_EQUAL(jsgf_words(a, "start_session"), "start session");
    CU_ASSERT_STRING_EQUAL(jsgf_words(a, "👤 Call an operator!"), "call an operator");
    CU_ASSERT_PTR_NULL(jsgf_words(a, "Deposit 200 €"));
    CU_ASSERT_PTR_NULL(jsgf_words(a, "Hello, {first_name}"));
    CU_ASSERT_PTR_NULL(jsgf_words(a, "🚗"));
    arena_free(a);
    int e, w;
    CU_ASSERT_DOUBLE_EQUAL(asr_wer("Book a car.", "book a car", &e, &w), 0.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(asr_wer("rent a car for next week", "read it far for next week", &e, &w),
                           3.0 / 6.0, 1e-9);
    CU_ASSERT_EQUAL(e, 3);
    CU_ASSERT_EQUAL(w, 6);
}

int main(void)
{
    char err[256];
    engine = asr_new(NULL, err, sizeof err);
    if (!engine) {
        fprintf(stderr, "test_asr: %s\n", err);
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("asr", NULL, NULL);
    CU_add_test(s, "botc's words and the word error rate", test_words);
    CU_add_test(s, "button phrases and commands recognised with the grammar", test_grammar_phrases);
    CU_add_test(s, "dictation's word error rate", test_dictation);
    CU_add_test(s, "a note over the limit; WAV the same as OGG", test_too_long_and_wav);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    asr_free(engine);
    return failed ? 1 : 0;
}

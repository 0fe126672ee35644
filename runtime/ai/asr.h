/*
 * asr.h — the offline speech recogniser: pocketsphinx (Debian's
 * libpocketsphinx3 with its US English model, pocketsphinx-en-us).
 *
 * Open dictation is its weakness (a word in seven wrong on clean
 * synthetic speech), a small grammar its strength: botc writes, per state,
 * the phrases a user can say there (buttons, commands, the asked field's
 * choices; codegen/emit_jsgf.c) and asr_recognize tries that grammar
 * first: a phrase it hears whole is the transcript (the text the phrase
 * stands for); what its filler loop took instead goes to dictation.
 *
 * English only (the model's language). A decoder is not thread-safe: each
 * worker thread makes its own (asr_new) and keeps it.
 */
#ifndef BOTC_ASR_H
#define BOTC_ASR_H

#include <stddef.h>
#include <stdint.h>

#define ASR_MODEL_DIR "/usr/share/pocketsphinx/model/en-us"

typedef struct asr asr;

/* model_dir: holding en-us/ (the acoustic model), en-us.lm.bin and
 * cmudict-en-us.dict; NULL = ASR_MODEL_DIR (or $ASR_MODEL_DIR). NULL with a
 * reason in err when the model is missing. */
asr *asr_new(const char *model_dir, char *err, size_t errlen);
void asr_free(asr *a);

/* One phrase of a grammar: the words spoken (lower case, space-separated,
 * as botc normalised them) and the text they stand for (the button label
 * or "/command", exactly as the machine matches it). */
typedef struct asr_phrase {
    const char *words;
    const char *text;
} asr_phrase;

typedef struct asr_grammar {
    const char *jsgf;          /* botc's JSGF text for the state */
    const asr_phrase *phrases; /* [n], in the grammar's order */
    int n;
} asr_grammar;

typedef struct asr_result {
    char *text;        /* malloc'd transcript ("" when nothing was heard) */
    int from_grammar;  /* 1: text is a phrase's text (a button, a command) */
    char *heard;       /* malloc'd: the dictation's words (for the log), may be "" */
    double grammar_ms, dictation_ms; /* time each search took */
} asr_result;

/* Recognises 16 kHz mono pcm: with g first when g is not NULL and has
 * phrases, then dictation. 0, or -1 with a reason in err. */
int asr_recognize(asr *a, const int16_t *pcm, size_t n, const asr_grammar *g,
                  asr_result *out, char *err, size_t errlen);

/* Dictation only (the benchmark's and tests' other half). */
int asr_dictate(asr *a, const int16_t *pcm, size_t n, char **out, char *err, size_t errlen);

void asr_result_free(asr_result *r);

/* The phrase of g a transcript says (its words, as asr_wer compares them,
 * equal the phrase's): a remote engine's "Book a car." presses the button
 * "📝 Book a car". The phrase's text (borrowed from g), or NULL. */
const char *asr_phrase_of(const asr_grammar *g, const char *transcript);

/* Word error rate of hyp against ref (words compared lower case, without
 * punctuation): edits / reference words; 0 for two empty texts. */
double asr_wer(const char *ref, const char *hyp, int *edits, int *words);

#endif

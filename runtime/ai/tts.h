/*
 * tts.h — speech synthesis for answers by voice: a text in, an Ogg/Opus
 * voice note out (what Telegram's sendVoice takes).
 *
 * Two engines, chosen by configuration:
 *   remote   an OpenAI-compatible server (OpenAI, speaches, LocalAI,
 *            openedai-speech, Kokoro-FastAPI), a transfer on the loop:
 *              POST {TTS_API_BASE}/audio/speech
 *              {"model": TTS_MODEL, "input": TEXT, "voice": TTS_VOICE,
 *               "response_format": "opus"}
 *              Authorization: Bearer {TTS_API_KEY}  (a log secret)
 *              → the Ogg/Opus file's bytes
 *   offline  espeak-ng (English and Russian voices) encoded with
 *            libopusenc, when TTS_API_BASE is unset. CPU-bound: it runs on
 *            one worker thread of the client (espeak-ng keeps global state,
 *            so one thread is also the only safe number); its answers wait
 *            in a list the loop thread empties with tts_dispatch, woken by
 *            loop_wakeup.
 * Either answer is checked (tts_ogg_check) before it is reported: a server
 * that answers MP3 or WAV despite response_format is an error, not a voice
 * note Telegram would refuse.
 *
 * Caps: a text at TTS_TEXT_MAX bytes, an answer at max_audio bytes, an
 * error body at 8 KiB; the timeout covers the whole remote call.
 */
#ifndef BOTC_TTS_H
#define BOTC_TTS_H

#include <stdbool.h>
#include <stddef.h>

#include "net/loop.h"

#define TTS_TEXT_MAX 4096 /* bytes of one text to speak */

typedef struct tts_options {
    const char *base;  /* TTS_API_BASE (with its /v1, llm.h's rule); NULL/"" = offline */
    const char *key;   /* TTS_API_KEY; OPENAI_API_KEY when TTS_API_BASE is
                        * OPENAI_API_BASE (a key never goes to another host) */
    const char *model; /* TTS_MODEL, "tts-1" */
    const char *voice; /* TTS_VOICE, "alloy" (remote only) */
    long connect_ms;   /* 5000 */
    long total_ms;     /* TTS_TIMEOUT_MS, 60000 */
    int wpm;           /* TTS_ESPEAK_WPM, 165: offline speed, words a minute (80..450) */
    size_t max_audio;  /* 16 MiB: a remote answer */
} tts_options;

/* The options from the environment (strings borrowed from it). */
tts_options tts_options_from_env(void);

typedef struct tts tts;

/* lp is borrowed and must outlive the client. Strings are copied; the key
 * is registered with log_add_secret. Offline, espeak-ng is initialised and
 * the worker thread started here. NULL with a reason in err (a base that is
 * not http(s), espeak-ng's data missing, out of memory). */
tts *tts_new(loop *lp, const tts_options *o, char *err, size_t errlen);
/* Every call not yet reported is reported now with TTS_ERR_CANCELLED (the
 * worker finishes the text it is speaking first), then the client is
 * freed. Call it before loop_free. NULL is fine. */
void tts_free(tts *t);
/* "espeak-ng" or the remote model's name (borrowed). */
const char *tts_engine(const tts *t);

typedef enum tts_status {
    TTS_OK = 0,
    TTS_ERR_HTTP,      /* a non-2xx answer */
    TTS_ERR_NETWORK,   /* connect / transfer failure */
    TTS_ERR_TIMEOUT,
    TTS_ERR_TOOBIG,    /* the answer exceeded max_audio */
    TTS_ERR_BAD,       /* an answer that is not an Ogg/Opus stream */
    TTS_ERR_SYNTH,     /* espeak-ng or the encoder failed */
    TTS_ERR_NOMEM,
    TTS_ERR_CANCELLED, /* the client or the loop shut down */
} tts_status;

const char *tts_status_str(tts_status s); /* static */

/* Everything borrowed for the callback. */
typedef struct tts_result {
    tts_status status;
    const char *error;          /* why, when not TTS_OK; else "" */
    long http_status;           /* remote: the answer's status, else 0 */
    const unsigned char *audio; /* TTS_OK: the Ogg/Opus file */
    size_t len;
    double seconds;             /* its duration */
} tts_result;

typedef void (*tts_done_fn)(void *ud, const tts_result *r);

/* Speaks text (copied; 1..TTS_TEXT_MAX bytes of UTF-8) in language lang
 * ("en", "ru", ...: a region is ignored; offline, a language espeak-ng has
 * no voice for is spoken by the English voice). done runs exactly once on
 * the loop thread: from loop_poll (remote), from tts_dispatch (offline) or
 * from tts_free. Returns 0, or -1 on a bad argument or out of memory (done
 * never runs). */
int tts_speak(tts *t, const char *lang, const char *text, tts_done_fn done, void *ud);

/* Runs the callbacks of offline syntheses that have finished. Call it on
 * the loop thread on every turn (loop_wakeup ends a loop_poll when one
 * finishes). Returns how many ran. */
int tts_dispatch(tts *t);
/* Calls not yet reported. */
int tts_pending(const tts *t);

/* ---- pieces for the client and its tests ----------------------------- */

/* The offline engine, synchronously on the calling thread (serialised by a
 * lock with every other espeak-ng use): text in lang at wpm words a minute,
 * into *audio (malloc'd Ogg/Opus, mono) and its *seconds. 0, or -1 with
 * the reason in err. */
int tts_espeak_ogg(const char *lang, const char *text, int wpm, unsigned char **audio,
                   size_t *len, double *seconds, char *err, size_t errlen);

/* Checks an Ogg/Opus file as a voice note: Ogg pages with their magic,
 * version, CRC and sequence numbers in order, one logical stream whose
 * first packet is an OpusHead (version 1, 1 or 2 channels) alone on a
 * first page, then OpusTags, then audio packets; the last page ends the
 * stream. *seconds (may be NULL): the duration by the last granule
 * position less the pre-skip. 0, or -1 with what is wrong in err. */
int tts_ogg_check(const unsigned char *p, size_t n, double *seconds, char *err, size_t errlen);

/* A text as it should be spoken: emoji, pictographs and other symbols
 * dropped, URLs dropped, markup characters (*, _, `, #, |, >) dropped,
 * blanks collapsed. malloc'd, NULL on out-of-memory; "" when nothing is
 * left to say. */
char *tts_clean(const char *text);

/* The language a text is written in, as far as speaking goes: "ru" when
 * Cyrillic letters are the most, else "en". Static string. */
const char *tts_lang_of(const char *text);

/* Cuts text into pieces of at most max_bytes (>= 64) at sentence ends
 * (. ! ? … and line breaks), a long sentence at a comma, semicolon or
 * colon, a long clause at a space, a long word at a character: *parts
 * (malloc'd, each malloc'd and trimmed), *n of them. 0, or -1 on
 * out-of-memory. Free with tts_parts_free. */
int tts_split(const char *text, size_t max_bytes, char ***parts, int *n);
void tts_parts_free(char **parts, int n);

#endif

/*
 * whisper.h — client of a remote speech-to-text server, as transfers on
 * the event loop (net/http.h): nothing blocks.
 *
 *   ASR_ENGINE=openai (default): POST {ASR_API_BASE}/audio/transcriptions
 *     multipart: file (the note as it is: OGG, MP3, M4A), model
 *     (ASR_MODEL, default whisper-1), language (the user's, a hint),
 *     response_format=json  → {"text": "..."}
 *     (OpenAI, faster-whisper/speaches, LocalAI, vLLM)
 *   ASR_ENGINE=whisper.cpp: POST {ASR_API_BASE}/inference
 *     multipart: file (16 kHz mono WAV: decode first), language,
 *     response_format=json  → {"text": "..."}
 *
 * ASR_API_KEY (optional) goes as "Authorization: Bearer" and is a log
 * secret. ASR_API_BASE follows llm.h's /v1 rule for the OpenAI shape.
 * ASR_TIMEOUT_MS (60000) bounds a whole call. Error bodies are read in the
 * shapes llm_parse_error knows; nothing is retried (a voice note's answer
 * then says it could not be transcribed).
 */
#ifndef BOTC_WHISPER_H
#define BOTC_WHISPER_H

#include <stdbool.h>
#include <stddef.h>

#include "net/loop.h"

#define WHISPER_MAX_ANSWER (256 * 1024) /* bytes of an answer read */
#define WHISPER_MAX_TEXT 4096           /* bytes of a transcript kept */

typedef struct whisper_options {
    const char *base;   /* ASR_API_BASE; NULL/"" = no remote engine */
    const char *key;    /* ASR_API_KEY, may be NULL */
    const char *model;  /* ASR_MODEL, "whisper-1" */
    bool whisper_cpp;   /* ASR_ENGINE=whisper.cpp */
    long timeout_ms;    /* ASR_TIMEOUT_MS, 60000 */
} whisper_options;

/* From the environment (strings borrowed from it). */
whisper_options whisper_options_from_env(void);

typedef struct whisper_client whisper_client;

/* lp borrowed; strings copied; the key registered as a log secret. NULL
 * with a reason when o->base is empty or not http(s). */
whisper_client *whisper_new(loop *lp, const whisper_options *o, char *err, size_t errlen);
/* Calls in flight are cancelled: their callbacks run (cancelled). */
void whisper_free(whisper_client *c);
/* 1 when the server wants WAV (whisper.cpp): decode the note first. */
bool whisper_wants_wav(const whisper_client *c);

typedef struct whisper_result {
    bool ok;
    const char *text;    /* the transcript when ok (trimmed, capped) */
    long status;         /* HTTP status, 0 none */
    const char *error;   /* why not ok ("HTTP 500: ...", "timeout", ...) */
} whisper_result;

typedef void (*whisper_done_fn)(void *ud, const whisper_result *r);

/* Transcribes audio (copied) named file_name ("voice.ogg", "voice.wav")
 * of type mime; lang: a language code hint or NULL. 0 when the call is in
 * flight (done runs exactly once), -1 otherwise. */
int whisper_transcribe(whisper_client *c, const unsigned char *audio, size_t len,
                       const char *file_name, const char *mime, const char *lang,
                       whisper_done_fn done, void *ud);

#endif

/*
 * audio.h — speech audio in: a Telegram voice note (OGG/Opus) or a WAV
 * file decoded to what the offline recogniser takes, 16 kHz mono 16-bit
 * PCM (libopusfile decodes, libsamplerate resamples).
 *
 * Pure computation on a buffer already in memory (the download is capped
 * by its caller): no I/O, safe on any thread. Other containers (MP3, M4A,
 * video notes) are not decoded here: they go to a remote engine as they
 * are (ai/whisper.h).
 */
#ifndef BOTC_AUDIO_H
#define BOTC_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#define AUDIO_RATE 16000

typedef enum audio_err {
    AUDIO_OK = 0,
    AUDIO_ERR_FORMAT,  /* not OGG/Opus or PCM WAV, or damaged */
    AUDIO_ERR_TOOLONG, /* longer than the caller's max_seconds */
    AUDIO_ERR_NOMEM,
} audio_err;

const char *audio_err_str(audio_err e); /* static */

typedef enum audio_kind { AUDIO_UNKNOWN = 0, AUDIO_OGG, AUDIO_WAV } audio_kind;

/* What buf holds, by its magic bytes. */
audio_kind audio_sniff(const unsigned char *buf, size_t len);

/* 16 kHz mono samples; s malloc'd (free with audio_pcm_free). */
typedef struct audio_pcm {
    int16_t *s;
    size_t n;
} audio_pcm;

/* Decodes buf (OGG/Opus or WAV: 8/16/32-bit PCM or 32-bit float, any
 * rate, any channels, mixed down) into out. max_seconds > 0 caps the
 * speech decoded (AUDIO_ERR_TOOLONG past it). A reason goes to err. */
audio_err audio_decode(const unsigned char *buf, size_t len, double max_seconds,
                       audio_pcm *out, char *err, size_t errlen);

void audio_pcm_free(audio_pcm *p);

static inline double audio_seconds(const audio_pcm *p) { return (double)p->n / AUDIO_RATE; }

/* p as a 16-bit mono WAV file (whisper.cpp's server takes WAV): malloc'd,
 * its size in *len; NULL on out-of-memory. */
unsigned char *audio_wav(const audio_pcm *p, size_t *len);

#endif

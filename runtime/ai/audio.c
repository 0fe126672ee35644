/*
 * audio.c — see audio.h.
 */
#include "ai/audio.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opusfile.h>
#include <samplerate.h>

const char *audio_err_str(audio_err e)
{
    switch (e) {
    case AUDIO_OK: return "ok";
    case AUDIO_ERR_FORMAT: return "not a readable OGG/Opus or WAV file";
    case AUDIO_ERR_TOOLONG: return "too long";
    case AUDIO_ERR_NOMEM: return "out of memory";
    }
    return "?";
}

static audio_err fail(audio_err e, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return e;
}

audio_kind audio_sniff(const unsigned char *buf, size_t len)
{
    if (len >= 4 && !memcmp(buf, "OggS", 4))
        return AUDIO_OGG;
    if (len >= 12 && !memcmp(buf, "RIFF", 4) && !memcmp(buf + 8, "WAVE", 4))
        return AUDIO_WAV;
    return AUDIO_UNKNOWN;
}

void audio_pcm_free(audio_pcm *p)
{
    free(p->s);
    p->s = NULL;
    p->n = 0;
}

/* A growing mono float buffer at the source rate. */
typedef struct fbuf {
    float *v;
    size_t n, cap;
} fbuf;

static int fbuf_reserve(fbuf *f, size_t more)
{
    if (f->n + more <= f->cap)
        return 0;
    size_t cap = f->cap ? f->cap : 48000;
    while (cap < f->n + more)
        cap *= 2;
    float *v = realloc(f->v, cap * sizeof *v);
    if (!v)
        return -1;
    f->v = v;
    f->cap = cap;
    return 0;
}

/* Resamples the mono float f (at rate) to 16 kHz 16-bit into out. */
static audio_err resample(const fbuf *f, double rate, audio_pcm *out, char *err, size_t errlen)
{
    double ratio = AUDIO_RATE / rate;
    size_t cap = (size_t)((double)f->n * ratio) + 16;
    float *o = malloc(cap * sizeof *o);
    int16_t *s = malloc(cap * sizeof *s);
    if (!o || !s) {
        free(o);
        free(s);
        return fail(AUDIO_ERR_NOMEM, err, errlen, "out of memory");
    }
    size_t n = f->n;
    if (rate == AUDIO_RATE) {
        memcpy(o, f->v, f->n * sizeof *o);
    } else if (f->n) {
        /* SINC_FASTEST: speech recognition needs nothing above 8 kHz
         * kept exactly, and it is a tenth of the best converter's cost */
        SRC_DATA d = {.data_in = f->v, .input_frames = (long)f->n, .data_out = o,
                      .output_frames = (long)cap, .src_ratio = ratio, .end_of_input = 1};
        int rc = src_simple(&d, SRC_SINC_FASTEST, 1);
        if (rc) {
            free(o);
            free(s);
            return fail(AUDIO_ERR_FORMAT, err, errlen, "resampling: %s", src_strerror(rc));
        }
        n = (size_t)d.output_frames_gen;
    }
    for (size_t i = 0; i < n; i++) {
        float x = o[i] * 32767.0f;
        s[i] = (int16_t)(x > 32767.0f ? 32767 : x < -32768.0f ? -32768 : lrintf(x));
    }
    free(o);
    out->s = s;
    out->n = n;
    return AUDIO_OK;
}

static audio_err decode_ogg(const unsigned char *buf, size_t len, double max_seconds, fbuf *f,
                            char *err, size_t errlen)
{
    int e = 0;
    OggOpusFile *of = op_open_memory(buf, len, &e);
    if (!of)
        return fail(AUDIO_ERR_FORMAT, err, errlen, "not an OGG/Opus stream (opusfile error %d)", e);
    float pcm[5760 * 2];
    size_t cap_frames = max_seconds > 0 ? (size_t)(max_seconds * 48000.0) : (size_t)-1;
    audio_err rc = AUDIO_OK;
    for (;;) {
        int li = 0;
        int got = op_read_float(of, pcm, (int)(sizeof pcm / sizeof *pcm), &li);
        if (got == 0)
            break;
        if (got < 0) {
            rc = fail(AUDIO_ERR_FORMAT, err, errlen, "damaged OGG/Opus stream (opusfile error %d)", got);
            break;
        }
        int ch = op_channel_count(of, li);
        if (ch < 1)
            ch = 1;
        if (f->n + (size_t)got > cap_frames) {
            rc = fail(AUDIO_ERR_TOOLONG, err, errlen, "longer than %.0f s", max_seconds);
            break;
        }
        if (fbuf_reserve(f, (size_t)got)) {
            rc = fail(AUDIO_ERR_NOMEM, err, errlen, "out of memory");
            break;
        }
        /* op_read_float returns per-channel frames; channels interleaved */
        for (int i = 0; i < got; i++) {
            float sum = 0;
            for (int c = 0; c < ch && c < 2; c++)
                sum += pcm[i * ch + c];
            f->v[f->n++] = sum / (float)(ch < 2 ? ch : 2);
        }
        if (ch > 2) {
            /* more than two channels is no voice note: op_read_float's
             * buffer would hold fewer frames than asked; refused */
            rc = fail(AUDIO_ERR_FORMAT, err, errlen, "%d channels", ch);
            break;
        }
    }
    op_free(of);
    return rc;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

static audio_err decode_wav(const unsigned char *buf, size_t len, double max_seconds, fbuf *f,
                            double *rate, char *err, size_t errlen)
{
    unsigned fmt = 0, ch = 0, bits = 0;
    uint32_t sr = 0;
    const unsigned char *data = NULL;
    size_t data_len = 0;
    size_t p = 12;
    while (p + 8 <= len) {
        uint32_t sz = le32(buf + p + 4);
        const unsigned char *body = buf + p + 8;
        size_t avail = len - p - 8;
        if (!memcmp(buf + p, "fmt ", 4) && sz >= 16 && avail >= 16) {
            fmt = le16(body);
            ch = le16(body + 2);
            sr = le32(body + 4);
            bits = le16(body + 14);
            if (fmt == 0xFFFE && sz >= 26 && avail >= 26)
                fmt = le16(body + 24); /* WAVE_FORMAT_EXTENSIBLE: the subformat */
        } else if (!memcmp(buf + p, "data", 4)) {
            data = body;
            data_len = sz < avail ? sz : avail; /* a streamed WAV says 0 or too much */
            if (sz == 0 || sz == 0xFFFFFFFFu)
                data_len = avail;
            break;
        }
        if (sz > avail)
            break;
        p += 8 + (size_t)sz + (sz & 1);
    }
    int ok_fmt = (fmt == 1 && (bits == 8 || bits == 16 || bits == 32)) || (fmt == 3 && bits == 32);
    if (!data || !ok_fmt || ch < 1 || ch > 8 || sr < 4000 || sr > 192000)
        return fail(AUDIO_ERR_FORMAT, err, errlen,
                    "a WAV file this reader does not take (format %u, %u-bit, %u channels, %u Hz)",
                    fmt, bits, ch, (unsigned)sr);
    size_t frame = (size_t)ch * bits / 8;
    size_t frames = data_len / frame;
    if (max_seconds > 0 && (double)frames / sr > max_seconds)
        return fail(AUDIO_ERR_TOOLONG, err, errlen, "longer than %.0f s", max_seconds);
    if (fbuf_reserve(f, frames))
        return fail(AUDIO_ERR_NOMEM, err, errlen, "out of memory");
    for (size_t i = 0; i < frames; i++) {
        float sum = 0;
        for (unsigned c = 0; c < ch; c++) {
            const unsigned char *s = data + i * frame + (size_t)c * bits / 8;
            float x;
            if (bits == 8)
                x = ((float)s[0] - 128.0f) / 128.0f;
            else if (bits == 16)
                x = (float)(int16_t)le16(s) / 32768.0f;
            else if (fmt == 1)
                x = (float)(int32_t)le32(s) / 2147483648.0f;
            else {
                uint32_t u = le32(s);
                memcpy(&x, &u, sizeof x);
                if (!isfinite(x))
                    x = 0;
            }
            sum += x;
        }
        f->v[f->n++] = sum / (float)ch;
    }
    *rate = sr;
    return AUDIO_OK;
}

audio_err audio_decode(const unsigned char *buf, size_t len, double max_seconds,
                       audio_pcm *out, char *err, size_t errlen)
{
    out->s = NULL;
    out->n = 0;
    fbuf f = {0};
    double rate = 48000; /* Opus always decodes at 48 kHz */
    audio_err rc;
    switch (audio_sniff(buf, len)) {
    case AUDIO_OGG:
        rc = decode_ogg(buf, len, max_seconds, &f, err, errlen);
        break;
    case AUDIO_WAV:
        rc = decode_wav(buf, len, max_seconds, &f, &rate, err, errlen);
        break;
    default:
        rc = fail(AUDIO_ERR_FORMAT, err, errlen, "neither OGG/Opus nor WAV");
        break;
    }
    if (rc == AUDIO_OK)
        rc = resample(&f, rate, out, err, errlen);
    free(f.v);
    return rc;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

unsigned char *audio_wav(const audio_pcm *p, size_t *len)
{
    size_t data = p->n * 2;
    unsigned char *w = malloc(44 + data);
    if (!w)
        return NULL;
    memcpy(w, "RIFF", 4);
    put32(w + 4, (uint32_t)(36 + data));
    memcpy(w + 8, "WAVEfmt ", 8);
    put32(w + 16, 16);
    w[20] = 1, w[21] = 0;  /* PCM */
    w[22] = 1, w[23] = 0;  /* mono */
    put32(w + 24, AUDIO_RATE);
    put32(w + 28, AUDIO_RATE * 2);
    w[32] = 2, w[33] = 0;  /* block align */
    w[34] = 16, w[35] = 0; /* bits */
    memcpy(w + 36, "data", 4);
    put32(w + 40, (uint32_t)data);
    for (size_t i = 0; i < p->n; i++) {
        uint16_t u = (uint16_t)p->s[i];
        w[44 + 2 * i] = (unsigned char)u;
        w[45 + 2 * i] = (unsigned char)(u >> 8);
    }
    *len = 44 + data;
    return w;
}

/*
 * tts.c — see tts.h.
 *
 * One tts_job lives from tts_speak until its callback has run. Offline it
 * goes worker-ward on `todo`, comes back on `done` (both under `mu`), and
 * tts_dispatch reports it on the loop thread. Remote it is one http_stream
 * transfer: on_finished reports it; a job abandoned by tts_free is marked
 * dead and reaped by its transfer's tick.
 */
#include "ai/tts.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <espeak-ng/speak_lib.h>
#include <opus.h>
#include <opusenc.h>

#include "ai/llm.h"
#include "ai/oai.h"
#include "base/log.h"
#include "base/text.h"
#include "net/http.h"
#include "net/loop.h"

#define TTS_ERRBODY_MAX 8192
#define TTS_WHY_MAX 200
#define TTS_BITRATE 24000           /* speech, mono: clear and small */
#define TTS_MAX_PCM_SECONDS 600     /* one text's speech, a backstop */
#define TTS_MAX_PACKET 65536        /* an Opus packet is far smaller */

typedef struct tts_job tts_job;

struct tts {
    loop *lp;
    tts_options o;
    bool remote;
    oai_endpoint ep;
    char *model, *voice;
    int pending;               /* jobs not yet reported (loop thread only) */
    tts_job *remote_head;      /* remote jobs in flight */
    /* the worker (offline) */
    pthread_t th;
    bool th_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;                 /* under mu */
    tts_job *todo_head, *todo_tail, *done_head, *done_tail; /* under mu */
};

struct tts_job {
    tts_job *next;             /* todo / done list */
    tts_job *rprev, *rnext;    /* remote list */
    tts *t;                    /* NULL once the client is gone (remote) */
    bool dead;                 /* reported or abandoned: no callback any more */
    char lang[8];
    char *text;
    tts_done_fn done;
    void *ud;
    /* the outcome */
    tts_status st;
    char why[TTS_WHY_MAX];
    long http_status;
    unsigned char *audio;
    size_t len;
    double seconds;
    /* remote */
    long started;
    unsigned char *resp;
    size_t resp_len;
    bool toobig, timed_out;
};

const char *tts_status_str(tts_status s)
{
    switch (s) {
    case TTS_OK: return "ok";
    case TTS_ERR_HTTP: return "HTTP error";
    case TTS_ERR_NETWORK: return "network error";
    case TTS_ERR_TIMEOUT: return "timeout";
    case TTS_ERR_TOOBIG: return "answer too big";
    case TTS_ERR_BAD: return "not an Ogg/Opus answer";
    case TTS_ERR_SYNTH: return "synthesis failed";
    case TTS_ERR_NOMEM: return "out of memory";
    case TTS_ERR_CANCELLED: return "cancelled";
    }
    return "?";
}

/* ---- Ogg/Opus ------------------------------------------------------------- */

static uint32_t ogg_crc_table[256];
static pthread_once_t ogg_crc_once = PTHREAD_ONCE_INIT;

static void ogg_crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t r = i << 24;
        for (int k = 0; k < 8; k++)
            r = r & 0x80000000u ? (r << 1) ^ 0x04c11db7u : r << 1;
        ogg_crc_table[i] = r;
    }
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int fail(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return -1;
}

int tts_ogg_check(const unsigned char *p, size_t n, double *seconds, char *err, size_t errlen)
{
    pthread_once(&ogg_crc_once, ogg_crc_init);
    unsigned char *pkt = malloc(TTS_MAX_PACKET);
    if (!pkt)
        return fail(err, errlen, "out of memory");
    size_t pkt_len = 0, off = 0;
    long npkt = 0, npage = 0;
    uint32_t serial = 0, seq = 0;
    int64_t granule = 0, samples = 0;
    unsigned preskip = 0;
    bool eos = false, cont_expected = false;
    const char *why = NULL;
    while (!why && off < n) {
        if (eos) { why = "data after the end-of-stream page"; break; }
        if (n - off < 27 || memcmp(p + off, "OggS", 4)) { why = "not an Ogg page (no OggS)"; break; }
        const unsigned char *h = p + off;
        if (h[4] != 0) { why = "an Ogg page of an unknown version"; break; }
        unsigned type = h[5];
        int64_t gp = 0;
        for (int i = 7; i >= 0; i--)
            gp = gp << 8 | h[6 + i];
        size_t nseg = h[26];
        if (n - off < 27 + nseg) { why = "a truncated Ogg page header"; break; }
        size_t body = 0;
        for (size_t i = 0; i < nseg; i++)
            body += h[27 + i];
        size_t plen = 27 + nseg + body;
        if (n - off < plen) { why = "a truncated Ogg page"; break; }
        uint32_t crc = 0;
        for (size_t i = 0; i < plen; i++) {
            unsigned char b = (i >= 22 && i < 26) ? 0 : h[i];
            crc = (crc << 8) ^ ogg_crc_table[((crc >> 24) ^ b) & 0xff];
        }
        if (crc != rd32(h + 22)) { why = "an Ogg page with a bad CRC"; break; }
        if (npage == 0) {
            if (!(type & 0x02)) { why = "the first page does not begin the stream"; break; }
            serial = rd32(h + 14);
            seq = rd32(h + 18);
        } else {
            if (type & 0x02) { why = "a second stream begins (one voice stream wanted)"; break; }
            if (rd32(h + 14) != serial) { why = "pages of more than one stream"; break; }
            if (rd32(h + 18) != ++seq) { why = "Ogg pages out of sequence"; break; }
        }
        if (!!(type & 0x01) != cont_expected) { why = "a packet's continuation flag is wrong"; break; }
        eos = type & 0x04;
        /* the packets of this page */
        const unsigned char *d = h + 27 + nseg;
        int ended_on_page = 0;
        long npkt0 = npkt;
        for (size_t i = 0; i < nseg && !why; i++) {
            size_t l = h[27 + i];
            if (pkt_len + l > TTS_MAX_PACKET) { why = "an Ogg packet too large for Opus"; break; }
            memcpy(pkt + pkt_len, d, l);
            pkt_len += l;
            d += l;
            if (l == 255)
                continue;
            /* a packet ends */
            ended_on_page++;
            if (npkt == 0) {
                if (pkt_len < 19 || memcmp(pkt, "OpusHead", 8)) why = "the first packet is not OpusHead";
                else if ((pkt[8] & 0xf0) != 0) why = "an OpusHead of an unknown version";
                else if (pkt[9] < 1 || pkt[9] > 2 || pkt[18] != 0) why = "an OpusHead that is not mono or stereo";
                preskip = (unsigned)pkt[10] | (unsigned)pkt[11] << 8;
            } else if (npkt == 1) {
                if (pkt_len < 16 || memcmp(pkt, "OpusTags", 8)) why = "the second packet is not OpusTags";
            } else {
                int ns = pkt_len ? opus_packet_get_nb_samples(pkt, (opus_int32)pkt_len, 48000) : -1;
                if (ns < 0) why = "an audio packet that is not Opus";
                else samples += ns;
            }
            npkt++;
            pkt_len = 0;
        }
        if (why)
            break;
        cont_expected = nseg > 0 && h[27 + nseg - 1] == 255;
        if (npage == 0 && (npkt != 1 || cont_expected || gp != 0)) {
            why = "OpusHead is not alone on the first page";
            break;
        }
        if (npkt0 < 2 && npkt > 2) { why = "audio on the OpusTags page"; break; }
        if (npkt == 2 && gp != 0) { why = "the OpusTags page has a granule position"; break; }
        if (ended_on_page && npkt > 2) {
            if (gp < granule) { why = "granule positions going back"; break; }
            granule = gp;
        }
        off += plen;
        npage++;
    }
    free(pkt);
    if (!why && npage == 0) why = "an empty file";
    if (!why && npkt < 3) why = "no audio packets";
    if (!why && !eos) why = "the stream has no end-of-stream page";
    if (!why && cont_expected) why = "the last packet is cut off";
    if (!why && granule > samples) why = "the granule position is past the audio";
    if (!why && granule < (int64_t)preskip) why = "less audio than the pre-skip";
    if (why)
        return fail(err, errlen, why);
    if (seconds)
        *seconds = (double)(granule - (int64_t)preskip) / 48000.0;
    return 0;
}

/* ---- text ----------------------------------------------------------------- */

/* Pictographs, symbols and the characters that glue emoji together. */
static bool is_symbol(uint32_t c)
{
    return (c >= 0x2190 && c <= 0x2BFF) ||   /* arrows, technical, dingbats, misc symbols */
           (c >= 0x1F000 && c <= 0x1FAFF) || /* emoji, flags, pictographs */
           (c >= 0xFE00 && c <= 0xFE0F) ||   /* variation selectors */
           (c >= 0xE0000 && c <= 0xE007F) || /* tags */
           c == 0x200D || c == 0x20E3 || c == 0x2022 || c == 0x25CF || c == 0x00A9 ||
           c == 0x00AE || c == 0x2122 || c == 0x3030 || c == 0x303D;
}

static bool ends_clause(char c)
{
    return c == '.' || c == '!' || c == '?' || c == ':' || c == ';' || c == ',';
}

char *tts_clean(const char *text)
{
    size_t n = strlen(text);
    text_buf b;
    text_buf_init(&b, n + n / 4 + 16);
    size_t i = 0;
    bool space = false, line = false;
    while (i < n) {
        /* a URL is not read out */
        if ((i == 0 || text[i - 1] == ' ' || text[i - 1] == '\n' || text[i - 1] == '(') &&
            (!strncmp(text + i, "http://", 7) || !strncmp(text + i, "https://", 8) ||
             !strncmp(text + i, "www.", 4))) {
            while (i < n && text[i] != ' ' && text[i] != '\n' && text[i] != ')')
                i++;
            continue;
        }
        size_t len = 1;
        uint32_t c = text_utf8_get(text + i, n - i, &len);
        if (!len)
            len = 1;
        const char *src = text + i;
        i += len;
        if (c == '\n') {
            line = true;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == 0xA0) {
            space = true;
            continue;
        }
        if (is_symbol(c) || c == '*' || c == '_' || c == '`' || c == '#' || c == '|' ||
            c == '>' || c == '<' || c == '~' || c < 0x20) {
            space = true;
            continue;
        }
        if (c == 0xB7) { /* "Economy · from €25": a pause, not "middle dot" */
            if (b.len > 0 && !ends_clause(b.p[b.len - 1]))
                text_buf_addc(&b, ',');
            space = true;
            continue;
        }
        if (b.len > 0 && (line || space)) {
            /* a line break ends a clause: spoken as a pause */
            if (line && !ends_clause(b.p[b.len - 1]))
                text_buf_addc(&b, '.');
            text_buf_addc(&b, line ? '\n' : ' ');
        }
        line = space = false;
        text_buf_add(&b, src, len);
    }
    if (!b.p)
        text_buf_adds(&b, "");
    return text_buf_take(&b);
}

const char *tts_lang_of(const char *text)
{
    size_t n = strlen(text), i = 0;
    long cyr = 0, lat = 0;
    while (i < n) {
        size_t len = 1;
        uint32_t c = text_utf8_get(text + i, n - i, &len);
        i += len ? len : 1;
        if (c >= 0x400 && c <= 0x4FF)
            cyr++;
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            lat++;
    }
    return cyr > lat ? "ru" : "en";
}

/* Where to cut s[0..n) so the first piece has at most max bytes. */
static size_t cut_at(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t sentence = 0, clause = 0, word = 0;
    for (size_t i = 0; i < max; i++) {
        char c = s[i], nx = s[i + 1];
        bool gap = nx == ' ' || nx == '\n';
        if (c == '\n')
            sentence = i + 1;
        else if ((c == '.' || c == '!' || c == '?') && gap)
            sentence = i + 1;
        else if (i + 3 < n && !memcmp(s + i, "\xe2\x80\xa6", 3) && i + 3 <= max &&
                 (s[i + 3] == ' ' || s[i + 3] == '\n'))
            sentence = i + 3;
        else if ((c == ',' || c == ';' || c == ':') && gap)
            clause = i + 1;
        else if (c == ' ')
            word = i + 1;
    }
    if (sentence)
        return sentence;
    if (clause)
        return clause;
    if (word)
        return word;
    size_t k = text_utf8_prefix(s, n, max);
    return k ? k : max;
}

static char *trimmed(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\n')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        n--;
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

int tts_split(const char *text, size_t max_bytes, char ***parts, int *n)
{
    if (max_bytes < 64)
        max_bytes = 64;
    *parts = NULL;
    *n = 0;
    size_t len = strlen(text), cap = 0;
    const char *s = text;
    while (len) {
        size_t k = cut_at(s, len, max_bytes);
        char *piece = trimmed(s, k);
        if (!piece)
            goto oom;
        if (!*piece) {
            free(piece);
        } else {
            if ((size_t)*n == cap) {
                cap = cap ? cap * 2 : 4;
                char **np = realloc(*parts, cap * sizeof *np);
                if (!np) {
                    free(piece);
                    goto oom;
                }
                *parts = np;
            }
            (*parts)[(*n)++] = piece;
        }
        s += k;
        len -= k;
    }
    return 0;
oom:
    tts_parts_free(*parts, *n);
    *parts = NULL;
    *n = 0;
    return -1;
}

void tts_parts_free(char **parts, int n)
{
    for (int i = 0; parts && i < n; i++)
        free(parts[i]);
    free(parts);
}

/* ---- offline: espeak-ng + libopusenc --------------------------------------- */

static pthread_mutex_t espeak_mu = PTHREAD_MUTEX_INITIALIZER;
static int espeak_hz; /* its sample rate once initialised; under espeak_mu */

typedef struct pcm_buf {
    short *v;
    size_t n, cap, max;
    bool failed;
} pcm_buf;

static int on_synth(short *wav, int num, espeak_EVENT *ev)
{
    pcm_buf *b = ev ? ev->user_data : NULL;
    if (!b || !wav || num <= 0)
        return 0;
    if (b->n + (size_t)num > b->max) {
        b->failed = true;
        return 1; /* stop */
    }
    if (b->n + (size_t)num > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 65536;
        while (nc < b->n + (size_t)num)
            nc *= 2;
        short *nv = realloc(b->v, nc * sizeof *nv);
        if (!nv) {
            b->failed = true;
            return 1;
        }
        b->v = nv;
        b->cap = nc;
    }
    memcpy(b->v + b->n, wav, (size_t)num * sizeof *wav);
    b->n += (size_t)num;
    return 0;
}

typedef struct ogg_buf {
    unsigned char *v;
    size_t n, cap;
    bool failed;
} ogg_buf;

static int on_ogg_write(void *ud, const unsigned char *p, opus_int32 len)
{
    ogg_buf *b = ud;
    if (b->n + (size_t)len > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 16384;
        while (nc < b->n + (size_t)len)
            nc *= 2;
        unsigned char *nv = realloc(b->v, nc);
        if (!nv) {
            b->failed = true;
            return 1;
        }
        b->v = nv;
        b->cap = nc;
    }
    memcpy(b->v + b->n, p, (size_t)len);
    b->n += (size_t)len;
    return 0;
}

static int on_ogg_close(void *ud)
{
    (void)ud;
    return 0;
}

/* Encodes mono 16-bit pcm at hz into an Ogg/Opus voice note. */
static int encode_ogg(const short *pcm, size_t n, int hz, ogg_buf *out, char *err, size_t errlen)
{
    OpusEncCallbacks cb = {on_ogg_write, on_ogg_close};
    OggOpusComments *com = ope_comments_create();
    if (!com || ope_comments_add(com, "ENCODER", "botc") != OPE_OK) {
        ope_comments_destroy(com);
        return fail(err, errlen, "out of memory");
    }
    int e = 0;
    OggOpusEnc *enc = ope_encoder_create_callbacks(&cb, out, com, hz, 1, 0, &e);
    ope_comments_destroy(com);
    if (!enc) {
        snprintf(err, errlen, "the Opus encoder did not start: %s", ope_strerror(e));
        return -1;
    }
    ope_encoder_ctl(enc, OPUS_SET_BITRATE(TTS_BITRATE));
    ope_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
    e = ope_encoder_write(enc, pcm, (int)n);
    if (e == OPE_OK)
        e = ope_encoder_drain(enc);
    ope_encoder_destroy(enc);
    if (e != OPE_OK || out->failed) {
        snprintf(err, errlen, "encoding failed: %s", out->failed ? "out of memory" : ope_strerror(e));
        return -1;
    }
    return 0;
}

static const char *espeak_voice(const char *lang)
{
    if (!strncmp(lang, "ru", 2))
        return "ru";
    return "en-us";
}

int tts_espeak_ogg(const char *lang, const char *text, int wpm, unsigned char **audio,
                   size_t *len, double *seconds, char *err, size_t errlen)
{
    *audio = NULL;
    *len = 0;
    if (wpm < 80 || wpm > 450)
        wpm = 165;
    pcm_buf pcm = {0};
    int hz;
    pthread_mutex_lock(&espeak_mu);
    if (espeak_hz <= 0) {
        int r = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, espeakINITIALIZE_DONT_EXIT);
        if (r > 0) {
            espeak_hz = r;
            espeak_SetSynthCallback(on_synth);
        }
    }
    hz = espeak_hz;
    const char *why = NULL;
    if (hz <= 0) {
        why = "espeak-ng did not start (is espeak-ng-data installed?)";
    } else if (espeak_SetVoiceByName(espeak_voice(lang)) != EE_OK &&
               espeak_SetVoiceByName("en") != EE_OK) {
        why = "espeak-ng has no voice for the language, nor an English one";
    } else {
        espeak_SetParameter(espeakRATE, wpm, 0);
        pcm.max = (size_t)hz * TTS_MAX_PCM_SECONDS;
        espeak_ERROR se = espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0,
                                       espeakCHARS_UTF8, NULL, &pcm);
        if (se != EE_OK || pcm.failed)
            why = pcm.failed ? "the speech is too long or memory ran out" : "espeak-ng failed";
        else if (pcm.n == 0)
            why = "espeak-ng made no sound of the text";
    }
    pthread_mutex_unlock(&espeak_mu);
    if (why) {
        free(pcm.v);
        return fail(err, errlen, why);
    }
    ogg_buf ogg = {0};
    int rc = encode_ogg(pcm.v, pcm.n, hz, &ogg, err, errlen);
    if (seconds)
        *seconds = (double)pcm.n / hz;
    free(pcm.v);
    if (rc) {
        free(ogg.v);
        return -1;
    }
    *audio = ogg.v;
    *len = ogg.n;
    return 0;
}

/* ---- the client -------------------------------------------------------------- */

static long env_long(const char *name, long def, long min, long max)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < min || n > max) {
        log_warn("tts", "%s=%s is not %ld..%ld, using %ld", name, v, min, max, def);
        return def;
    }
    return n;
}

tts_options tts_options_from_env(void)
{
    tts_options o = {0};
    o.base = getenv("TTS_API_BASE");
    o.key = getenv("TTS_API_KEY");
    const char *chat = getenv("OPENAI_API_BASE");
    if ((!o.key || !*o.key) && o.base && chat && !strcmp(o.base, chat))
        o.key = getenv("OPENAI_API_KEY");
    o.model = getenv("TTS_MODEL");
    o.voice = getenv("TTS_VOICE");
    o.total_ms = env_long("TTS_TIMEOUT_MS", 60000, 1, 3600000);
    o.wpm = (int)env_long("TTS_ESPEAK_WPM", 165, 80, 450);
    return o;
}

static char *dup_s(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

static void job_free(tts_job *j)
{
    free(j->text);
    free(j->audio);
    free(j->resp);
    free(j);
}

/* Reports j (loop thread) unless it was reported already. */
static void report(tts *t, tts_job *j)
{
    if (j->dead)
        return;
    j->dead = true;
    if (t)
        t->pending--;
    tts_result r = {.status = j->st, .error = j->st == TTS_OK ? "" : j->why,
                    .http_status = j->http_status, .audio = j->audio, .len = j->len,
                    .seconds = j->seconds};
    if (j->done)
        j->done(j->ud, &r);
}

static void *worker(void *arg)
{
    tts *t = arg;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        while (!t->stop && !t->todo_head)
            pthread_cond_wait(&t->cv, &t->mu);
        if (t->stop)
            break;
        tts_job *j = t->todo_head;
        t->todo_head = j->next;
        if (!t->todo_head)
            t->todo_tail = NULL;
        j->next = NULL;
        pthread_mutex_unlock(&t->mu);

        char why[96];
        if (tts_espeak_ogg(j->lang, j->text, t->o.wpm, &j->audio, &j->len, &j->seconds, why,
                           sizeof why)) {
            j->st = TTS_ERR_SYNTH;
            snprintf(j->why, sizeof j->why, "%s", why);
        } else if (tts_ogg_check(j->audio, j->len, &j->seconds, why, sizeof why)) {
            j->st = TTS_ERR_BAD; /* our own encoder: a bug, said so */
            snprintf(j->why, sizeof j->why, "the encoder made %s", why);
        }

        pthread_mutex_lock(&t->mu);
        if (t->done_tail)
            t->done_tail->next = j;
        else
            t->done_head = j;
        t->done_tail = j;
        loop_wakeup(t->lp);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

tts *tts_new(loop *lp, const tts_options *o, char *err, size_t errlen)
{
    tts *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->lp = lp;
    if (o)
        t->o = *o;
    if (t->o.connect_ms <= 0) t->o.connect_ms = 5000;
    if (t->o.total_ms <= 0) t->o.total_ms = 60000;
    if (t->o.wpm < 80 || t->o.wpm > 450) t->o.wpm = 165;
    if (!t->o.max_audio) t->o.max_audio = (size_t)16 << 20;
    t->remote = t->o.base && *t->o.base;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (t->remote) {
        if (strncmp(t->o.base, "http://", 7) && strncmp(t->o.base, "https://", 8)) {
            snprintf(err, errlen, "TTS_API_BASE must be an http(s) URL");
            tts_free(t);
            return NULL;
        }
        if (oai_endpoint_init(&t->ep, t->o.base, "/audio/speech", t->o.key, "tts",
                              "TTS_API_BASE", err, errlen)) {
            tts_free(t);
            return NULL;
        }
        t->model = dup_s(t->o.model && *t->o.model ? t->o.model : "tts-1");
        t->voice = dup_s(t->o.voice && *t->o.voice ? t->o.voice : "alloy");
        if (!t->model || !t->voice) {
            snprintf(err, errlen, "out of memory");
            tts_free(t);
            return NULL;
        }
    } else {
        /* espeak-ng starts now: a missing voice data set is a start-up
         * error, not a failure on the first answer */
        unsigned char *a = NULL;
        size_t n = 0;
        if (tts_espeak_ogg("en", "ok", t->o.wpm, &a, &n, NULL, err, errlen)) {
            tts_free(t);
            return NULL;
        }
        free(a);
        if (pthread_create(&t->th, NULL, worker, t)) {
            snprintf(err, errlen, "cannot start the speech worker thread");
            tts_free(t);
            return NULL;
        }
        t->th_started = true;
    }
    t->o.base = t->o.key = t->o.model = t->o.voice = NULL; /* not kept: copied */
    return t;
}

const char *tts_engine(const tts *t)
{
    return t->remote ? t->model : "espeak-ng";
}

int tts_pending(const tts *t) { return t->pending; }

static void cancel_list(tts *t, tts_job *j)
{
    while (j) {
        tts_job *nx = j->next;
        j->st = TTS_ERR_CANCELLED;
        snprintf(j->why, sizeof j->why, "the bot is stopping");
        free(j->audio);
        j->audio = NULL;
        j->len = 0;
        report(t, j);
        job_free(j);
        j = nx;
    }
}

void tts_free(tts *t)
{
    if (!t)
        return;
    if (t->th_started) {
        pthread_mutex_lock(&t->mu);
        t->stop = true;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->th, NULL);
    }
    cancel_list(t, t->done_head);
    cancel_list(t, t->todo_head);
    t->done_head = t->todo_head = NULL;
    while (t->remote_head) {
        tts_job *j = t->remote_head;
        t->remote_head = j->rnext;
        j->rprev = j->rnext = NULL;
        j->st = TTS_ERR_CANCELLED;
        snprintf(j->why, sizeof j->why, "the bot is stopping");
        report(t, j);
        j->t = NULL; /* its transfer's tick reaps it */
    }
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    oai_endpoint_free(&t->ep);
    free(t->model);
    free(t->voice);
    free(t);
}

int tts_dispatch(tts *t)
{
    if (!t || !t->th_started)
        return 0;
    pthread_mutex_lock(&t->mu);
    tts_job *j = t->done_head;
    t->done_head = t->done_tail = NULL;
    pthread_mutex_unlock(&t->mu);
    int n = 0;
    while (j) {
        tts_job *nx = j->next;
        report(t, j);
        job_free(j);
        n++;
        j = nx;
    }
    return n;
}

/* ---- remote ------------------------------------------------------------------- */

static void remote_unlink(tts *t, tts_job *j)
{
    if (!t)
        return;
    if (j->rprev)
        j->rprev->rnext = j->rnext;
    else if (t->remote_head == j)
        t->remote_head = j->rnext;
    if (j->rnext)
        j->rnext->rprev = j->rprev;
    j->rprev = j->rnext = NULL;
}

static int on_data(void *ud, long status, const char *data, size_t n)
{
    tts_job *j = ud;
    if (j->dead || !j->t)
        return 1;
    j->http_status = status;
    bool ok = status >= 200 && status < 300;
    size_t cap = ok ? j->t->o.max_audio : TTS_ERRBODY_MAX;
    if (j->resp_len + n > cap) {
        if (!ok) {
            n = cap - j->resp_len; /* an error body is read from its start */
        } else {
            j->toobig = true;
            return 1;
        }
    }
    unsigned char *p = realloc(j->resp, j->resp_len + n + 1);
    if (!p)
        return 1;
    j->resp = p;
    memcpy(j->resp + j->resp_len, data, n);
    j->resp_len += n;
    j->resp[j->resp_len] = '\0';
    return 0;
}

static int on_tick(void *ud)
{
    tts_job *j = ud;
    if (j->dead || !j->t)
        return 1;
    if (loop_now_ms() - j->started > j->t->o.total_ms)
        j->timed_out = true;
    return j->timed_out;
}

static void on_finished(const http_result *r, void *ud)
{
    tts_job *j = ud;
    tts *t = j->t;
    remote_unlink(t, j);
    if (j->dead || !t) {
        job_free(j);
        return;
    }
    char why[96];
    if (j->timed_out) {
        j->st = TTS_ERR_TIMEOUT;
        snprintf(j->why, sizeof j->why, "no voice within %ld ms", t->o.total_ms);
    } else if (j->toobig) {
        j->st = TTS_ERR_TOOBIG;
        snprintf(j->why, sizeof j->why, "an answer over %zu bytes", t->o.max_audio);
    } else if (r->err == HTTP_ERR_STATUS) {
        char msg[160] = "", code[64] = "";
        j->st = TTS_ERR_HTTP;
        if (j->resp && llm_parse_error((const char *)j->resp, j->resp_len, msg, sizeof msg,
                                       code, sizeof code) == 0 && *msg)
            snprintf(j->why, sizeof j->why, "HTTP %ld: %s", r->status, msg);
        else
            snprintf(j->why, sizeof j->why, "HTTP %ld", r->status);
    } else if (r->err == HTTP_ERR_CANCELLED) {
        j->st = TTS_ERR_CANCELLED;
        snprintf(j->why, sizeof j->why, "%s", r->description);
    } else if (r->err != HTTP_OK) {
        j->st = r->err == HTTP_ERR_NOMEM ? TTS_ERR_NOMEM : TTS_ERR_NETWORK;
        snprintf(j->why, sizeof j->why, "%s", r->description);
    } else if (tts_ogg_check(j->resp, j->resp_len, &j->seconds, why, sizeof why)) {
        j->st = TTS_ERR_BAD;
        snprintf(j->why, sizeof j->why, "the server's answer is not a voice note: %s", why);
    } else {
        j->st = TTS_OK;
        j->audio = j->resp;
        j->len = j->resp_len;
        j->resp = NULL;
    }
    if (j->st != TTS_OK && j->st != TTS_ERR_CANCELLED)
        log_warn("tts", "speech from %s failed: %s: %s", t->model, tts_status_str(j->st), j->why);
    report(t, j);
    job_free(j);
}

static int remote_start(tts *t, tts_job *j)
{
    cJSON *req = cJSON_CreateObject();
    bool ok = req && cJSON_AddStringToObject(req, "model", t->model) &&
              cJSON_AddStringToObject(req, "input", j->text) &&
              cJSON_AddStringToObject(req, "voice", t->voice) &&
              cJSON_AddStringToObject(req, "response_format", "opus");
    char *body = ok ? cJSON_PrintUnformatted(req) : NULL;
    cJSON_Delete(req);
    if (!body)
        return -1;
    j->started = loop_now_ms();
    const char *hdrs[3] = {"Content-Type: application/json", t->ep.auth, NULL};
    http_stream_opts so = {.url = t->ep.url, .body = body, .headers = hdrs,
                           .connect_timeout_ms = t->o.connect_ms,
                           .timeout_ms = t->o.total_ms + 1000};
    http_err e = http_stream(t->lp, &so, on_data, on_tick, on_finished, j);
    cJSON_free(body);
    if (e != HTTP_OK)
        return -1;
    j->rnext = t->remote_head;
    if (t->remote_head)
        t->remote_head->rprev = j;
    t->remote_head = j;
    return 0;
}

int tts_speak(tts *t, const char *lang, const char *text, tts_done_fn done, void *ud)
{
    size_t n = text ? strlen(text) : 0;
    if (!t || n == 0 || n > TTS_TEXT_MAX || !text_utf8_valid(text, n))
        return -1;
    tts_job *j = calloc(1, sizeof *j);
    if (!j || !(j->text = dup_s(text))) {
        free(j);
        return -1;
    }
    j->t = t;
    j->done = done;
    j->ud = ud;
    snprintf(j->lang, sizeof j->lang, "%s", lang && *lang ? lang : "en");
    if (t->remote) {
        if (remote_start(t, j)) {
            job_free(j);
            return -1;
        }
    } else {
        pthread_mutex_lock(&t->mu);
        if (t->todo_tail)
            t->todo_tail->next = j;
        else
            t->todo_head = j;
        t->todo_tail = j;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
    }
    t->pending++;
    return 0;
}

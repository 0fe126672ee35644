/*
 * listen.c — see listen.h.
 */
#include "delivery/listen.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ai/asr.h"
#include "ai/audio.h"
#include "ai/whisper.h"
#include "base/log.h"
#include "net/http.h"

#define LISTEN_DOWNLOAD_MS 60000L

struct listen_ctx {
    loop *lp;
    tg_client *tg;
    whisper_client *remote; /* ASR_API_BASE, made on the first note */
    bool remote_tried;
    /* the worker */
    pthread_t th;
    bool th_started, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    listen_job *todo_head, *todo_tail; /* for the worker */
    listen_job *done_head, *done_tail; /* for listen_pump */
    atomic_bool ready;
    asr *engine;            /* the worker's own decoder */
    bool engine_failed;
};

typedef enum job_work { W_RECOGNISE, W_WAV } job_work;

struct listen_job {
    listen_ctx *v;
    listen_done_fn done;
    void *ud;
    int owner;
    char *file_id, *mime, *lang, *file_name;
    int max_seconds;
    const bm_voice_grammar *grammar;
    unsigned char *audio; /* the download */
    size_t audio_len;
    job_work work;
    /* the worker's answer */
    int fail;             /* bm_voice_fail */
    char *text;           /* malloc'd transcript */
    char error[200];
    listen_job *next;
};

static void job_free(listen_job *j)
{
    free(j->file_id);
    free(j->mime);
    free(j->lang);
    free(j->file_name);
    free(j->audio);
    free(j->text);
    free(j);
}

/* The answer; frees j. */
static void finish(listen_job *j, int fail, const char *text, const char *error)
{
    if (fail && error && j->done)
        log_warn("listen", "a voice note was not transcribed: %s", error);
    bot_io_res res = {
        .owner = j->owner,
        .kind = BOT_IO_VOICE,
        .ok = !fail && text,
        .status = fail,
        .body = fail ? NULL : text,
        .len = fail || !text ? 0 : strlen(text),
        .error = fail ? (error ? error : "no transcript") : NULL,
        .prompt_tokens = -1,
        .completion_tokens = -1,
    };
    if (j->done)
        j->done(j->ud, &res);
    job_free(j);
}

/* ---- the worker ------------------------------------------------------------------- */

static void work(listen_ctx *v, listen_job *j)
{
    char err[200] = "";
    audio_pcm pcm;
    audio_err ae = audio_decode(j->audio, j->audio_len, j->max_seconds, &pcm, err, sizeof err);
    if (ae != AUDIO_OK) {
        j->fail = ae == AUDIO_ERR_TOOLONG ? BM_VOICE_TOO_LONG
                  : ae == AUDIO_ERR_FORMAT ? BM_VOICE_FORMAT : BM_VOICE_ERROR;
        snprintf(j->error, sizeof j->error, "%s", err);
        return;
    }
    if (j->work == W_WAV) { /* for whisper.cpp: the download becomes WAV */
        size_t n = 0;
        unsigned char *wav = audio_wav(&pcm, &n);
        audio_pcm_free(&pcm);
        if (!wav) {
            j->fail = BM_VOICE_ERROR;
            snprintf(j->error, sizeof j->error, "out of memory");
            return;
        }
        free(j->audio);
        j->audio = wav;
        j->audio_len = n;
        return;
    }
    if (!v->engine && !v->engine_failed) {
        v->engine = asr_new(NULL, err, sizeof err);
        if (!v->engine) {
            v->engine_failed = true;
            log_error("listen", "no offline speech engine: %s", err);
        }
    }
    if (!v->engine) {
        j->fail = BM_VOICE_NO_ENGINE;
        snprintf(j->error, sizeof j->error, "no offline speech engine");
        audio_pcm_free(&pcm);
        return;
    }
    asr_grammar g = {0};
    if (j->grammar) {
        _Static_assert(sizeof(asr_phrase) == sizeof(bm_voice_phrase), "one phrase layout");
        g = (asr_grammar){j->grammar->jsgf, (const asr_phrase *)j->grammar->phrases, j->grammar->n};
    }
    asr_result r;
    if (asr_recognize(v->engine, pcm.s, pcm.n, j->grammar ? &g : NULL, &r, err, sizeof err)) {
        j->fail = BM_VOICE_ERROR;
        snprintf(j->error, sizeof j->error, "%s", err);
    } else {
        log_info("listen", "%.1f s of speech recognised in %.0f ms (%s)", audio_seconds(&pcm),
                 r.grammar_ms + r.dictation_ms, r.from_grammar ? "grammar" : "dictation");
        if (!*r.text)
            j->fail = BM_VOICE_EMPTY;
        j->text = r.text;
        r.text = NULL;
        asr_result_free(&r);
    }
    audio_pcm_free(&pcm);
}

/* The worker's niceness: recognition is long CPU work the loop must not
 * wait behind when they share a core (bench-voice on one CPU: the menu's
 * p99 rose 1.55x under 20 notes at nice 0). */
#define LISTEN_WORKER_NICE 10

static void *worker(void *arg)
{
    listen_ctx *v = arg;
    /* Linux: a thread's own nice value (the thread id as the "process"),
     * above the process's; failing leaves it at the process's, which is
     * only slower to yield */
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int base = getpriority(PRIO_PROCESS, tid);
    int nice_to = (errno ? 0 : base) + LISTEN_WORKER_NICE;
    if (setpriority(PRIO_PROCESS, tid, nice_to > 19 ? 19 : nice_to) != 0)
        log_warn("listen", "the recognition thread keeps the process's priority");
    pthread_mutex_lock(&v->mu);
    for (;;) {
        while (!v->todo_head && !v->stop)
            pthread_cond_wait(&v->cv, &v->mu);
        if (v->stop)
            break;
        listen_job *j = v->todo_head;
        v->todo_head = j->next;
        if (!v->todo_head)
            v->todo_tail = NULL;
        pthread_mutex_unlock(&v->mu);
        work(v, j);
        pthread_mutex_lock(&v->mu);
        j->next = NULL;
        if (v->done_tail)
            v->done_tail->next = j;
        else
            v->done_head = j;
        v->done_tail = j;
        atomic_store(&v->ready, true);
        loop_wakeup(v->lp);
    }
    pthread_mutex_unlock(&v->mu);
    asr_free(v->engine);
    v->engine = NULL;
    return NULL;
}

static int to_worker(listen_ctx *v, listen_job *j, job_work w)
{
    j->work = w;
    pthread_mutex_lock(&v->mu);
    if (!v->th_started) {
        if (pthread_create(&v->th, NULL, worker, v)) {
            pthread_mutex_unlock(&v->mu);
            return -1;
        }
        v->th_started = true;
    }
    j->next = NULL;
    if (v->todo_tail)
        v->todo_tail->next = j;
    else
        v->todo_head = j;
    v->todo_tail = j;
    pthread_cond_signal(&v->cv);
    pthread_mutex_unlock(&v->mu);
    return 0;
}

/* ---- the loop side ---------------------------------------------------------------- */

listen_ctx *listen_new(loop *lp, tg_client *tg)
{
    listen_ctx *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->lp = lp;
    v->tg = tg;
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    return v;
}

void listen_free(listen_ctx *v)
{
    if (!v)
        return;
    whisper_free(v->remote); /* its callbacks run cancelled: their jobs end */
    if (v->th_started) {
        pthread_mutex_lock(&v->mu);
        v->stop = true;
        pthread_cond_signal(&v->cv);
        pthread_mutex_unlock(&v->mu);
        pthread_join(v->th, NULL);
    }
    /* notes not answered end here: their owners free what they hold */
    for (listen_job *j = v->todo_head, *n; j; j = n) {
        n = j->next;
        finish(j, BM_VOICE_ERROR, NULL, NULL);
    }
    for (listen_job *j = v->done_head, *n; j; j = n) {
        n = j->next;
        finish(j, BM_VOICE_ERROR, NULL, NULL);
    }
    pthread_mutex_destroy(&v->mu);
    pthread_cond_destroy(&v->cv);
    free(v);
}

bool listen_ready(const listen_ctx *v) { return v && atomic_load(&v->ready); }

/* An answer known at once, delivered by the next listen_pump (a callback
 * never runs inside listen_start). */
static void post_done(listen_ctx *v, listen_job *j, int fail)
{
    j->fail = fail;
    pthread_mutex_lock(&v->mu);
    j->next = NULL;
    if (v->done_tail)
        v->done_tail->next = j;
    else
        v->done_head = j;
    v->done_tail = j;
    pthread_mutex_unlock(&v->mu);
    atomic_store(&v->ready, true);
    loop_wakeup(v->lp);
}

static void on_remote(void *ud, const whisper_result *r)
{
    listen_job *j = ud;
    if (!r->ok)
        return finish(j, BM_VOICE_ERROR, NULL, r->error);
    /* a transcript saying one of the state's phrases is that phrase's
     * text exactly (the button's label, emoji and all) */
    const char *phrase = NULL;
    if (j->grammar) {
        asr_grammar g = {j->grammar->jsgf, (const asr_phrase *)j->grammar->phrases, j->grammar->n};
        phrase = asr_phrase_of(&g, r->text);
    }
    finish(j, *r->text ? BM_VOICE_OK : BM_VOICE_EMPTY, phrase ? phrase : r->text, "nothing heard");
}

/* The name the upload goes by: an OpenAI-compatible server decodes by the
 * extension (flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm), so it must
 * say what the bytes are. By the MIME type Telegram gave, else by the
 * sender's file name; NULL when neither says a type a server takes. */
static const char *file_name(const char *mime, const char *sender_name)
{
    static const char *const by_mime[][2] = {
        {"audio/ogg", "voice.ogg"},   {"audio/opus", "voice.ogg"},  {"audio/x-opus", "voice.ogg"},
        {"audio/mpeg", "voice.mp3"},  {"audio/mp3", "voice.mp3"},   {"audio/mpga", "voice.mp3"},
        {"audio/mp4", "voice.m4a"},   {"audio/x-m4a", "voice.m4a"}, {"audio/m4a", "voice.m4a"},
        {"audio/aac", "voice.m4a"},   {"video/mp4", "voice.mp4"},   {"audio/wav", "voice.wav"},
        {"audio/x-wav", "voice.wav"}, {"audio/wave", "voice.wav"},  {"audio/vnd.wave", "voice.wav"},
        {"audio/flac", "voice.flac"}, {"audio/x-flac", "voice.flac"},
        {"audio/webm", "voice.webm"}, {"video/webm", "voice.webm"},
    };
    static const char *const by_ext[][2] = {
        {"ogg", "voice.ogg"}, {"oga", "voice.ogg"},  {"opus", "voice.ogg"}, {"mp3", "voice.mp3"},
        {"mpga", "voice.mp3"}, {"mpeg", "voice.mp3"}, {"m4a", "voice.m4a"}, {"aac", "voice.m4a"},
        {"mp4", "voice.mp4"}, {"wav", "voice.wav"},  {"flac", "voice.flac"}, {"webm", "voice.webm"},
    };
    if (!mime)
        return "voice.ogg"; /* a voice note */
    size_t ml = strcspn(mime, "; "); /* "audio/ogg; codecs=opus" */
    for (size_t i = 0; i < sizeof by_mime / sizeof by_mime[0]; i++)
        if (strlen(by_mime[i][0]) == ml && !strncasecmp(mime, by_mime[i][0], ml))
            return by_mime[i][1];
    const char *dot = sender_name ? strrchr(sender_name, '.') : NULL;
    for (size_t i = 0; dot && i < sizeof by_ext / sizeof by_ext[0]; i++)
        if (!strcasecmp(dot + 1, by_ext[i][0]))
            return by_ext[i][1];
    return NULL;
}

/* Whether the offline decoder (ai/audio.h: OGG/Opus, WAV) may read it. */
static bool decodable(const char *mime)
{
    return !mime || strstr(mime, "ogg") || strstr(mime, "opus") || strstr(mime, "wav");
}

static void send_remote(listen_job *j, bool wav)
{
    const char *mime = wav ? "audio/wav" : j->mime ? j->mime : "audio/ogg";
    const char *name = wav ? "voice.wav" : file_name(j->mime, j->file_name);
    if (whisper_transcribe(j->v->remote, j->audio, j->audio_len, name ? name : "voice.bin", mime,
                           j->lang, on_remote, j))
        finish(j, BM_VOICE_ERROR, NULL, "the transcription request could not start");
}

void listen_pump(listen_ctx *v)
{
    if (!v || !atomic_exchange(&v->ready, false))
        return;
    pthread_mutex_lock(&v->mu);
    listen_job *list = v->done_head;
    v->done_head = v->done_tail = NULL;
    pthread_mutex_unlock(&v->mu);
    while (list) {
        listen_job *j = list;
        list = j->next;
        if (!j->fail && j->work == W_WAV && v->remote)
            send_remote(j, true);
        else
            finish(j, j->fail, j->text, j->error[0] ? j->error : j->fail == BM_VOICE_EMPTY ? "nothing heard" : NULL);
    }
}

/* The download is in: to an engine. */
static void on_download(const http_result *r, void *ud)
{
    listen_job *j = ud;
    if (!j->done) {
        job_free(j);
        return;
    }
    if (r->err == HTTP_ERR_TOOBIG)
        return finish(j, BM_VOICE_TOO_LONG, NULL, "the file is over 20 MB");
    if (r->err != HTTP_OK || !r->body) {
        char why[200];
        snprintf(why, sizeof why, "download: %s (%s)", http_err_str(r->err), r->description);
        return finish(j, BM_VOICE_ERROR, NULL, why);
    }
    j->audio = malloc(r->body_len ? r->body_len : 1);
    if (!j->audio)
        return finish(j, BM_VOICE_ERROR, NULL, "out of memory");
    memcpy(j->audio, r->body, r->body_len);
    j->audio_len = r->body_len;
    listen_ctx *v = j->v;
    if (v->remote) {
        if (whisper_wants_wav(v->remote)) {
            if (to_worker(v, j, W_WAV))
                finish(j, BM_VOICE_ERROR, NULL, "no worker thread");
            return;
        }
        return send_remote(j, false);
    }
    if (audio_sniff(j->audio, j->audio_len) == AUDIO_UNKNOWN)
        return finish(j, BM_VOICE_FORMAT, NULL, "neither OGG/Opus nor WAV");
    if (to_worker(v, j, W_RECOGNISE))
        finish(j, BM_VOICE_ERROR, NULL, "no worker thread");
}

/* getFile's answer: the file's path, then its download. */
static void on_file(const tg_result *r, void *ud)
{
    listen_job *j = ud;
    if (!j->done) {
        job_free(j);
        return;
    }
    if (r->err != TG_OK || !r->result) {
        char why[200];
        snprintf(why, sizeof why, "getFile: %s (%s)", tg_err_str(r->err), r->description);
        return finish(j, BM_VOICE_ERROR, NULL, why);
    }
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(r->result, "file_path");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(r->result, "file_size");
    if (cJSON_IsNumber(size) && size->valuedouble > LISTEN_MAX_BYTES)
        return finish(j, BM_VOICE_TOO_LONG, NULL, "the file is over 20 MB");
    char *url = cJSON_IsString(path) ? tg_file_url(j->v->tg, path->valuestring) : NULL;
    if (!url) /* files over 20 MB come without a path */
        return finish(j, cJSON_IsString(path) ? BM_VOICE_ERROR : BM_VOICE_TOO_LONG, NULL,
                      "getFile gave no usable file_path");
    http_err e = http_get(j->v->lp, url, LISTEN_DOWNLOAD_MS, LISTEN_MAX_BYTES, on_download, j);
    free(url);
    if (e != HTTP_OK)
        finish(j, BM_VOICE_ERROR, NULL, http_err_str(e));
}

/* Offline, English only: the user's language says whether to try. */
static bool offline_language(const char *lang)
{
    return !lang || !*lang || !strncmp(lang, "en", 2);
}

listen_job *listen_start(listen_ctx *v, const bot_io_req *req, listen_done_fn done, void *ud,
                       const char **why)
{
    if (!v->remote_tried) {
        v->remote_tried = true;
        whisper_options o = whisper_options_from_env();
        char err[200];
        if (o.base && *o.base && !(v->remote = whisper_new(v->lp, &o, err, sizeof err)))
            log_error("listen", "no remote speech engine: %s", err);
    }
    listen_job *j = calloc(1, sizeof *j);
    if (!j) {
        *why = "out of memory";
        return NULL;
    }
    j->v = v;
    j->done = done;
    j->ud = ud;
    j->owner = req->owner;
    j->max_seconds = req->u.voice.max_seconds;
    j->grammar = req->u.voice.grammar;
    j->file_id = strdup(req->u.voice.file_id ? req->u.voice.file_id : "");
    j->mime = req->u.voice.mime ? strdup(req->u.voice.mime) : NULL;
    j->lang = req->u.voice.lang ? strdup(req->u.voice.lang) : NULL;
    j->file_name = req->u.voice.file_name ? strdup(req->u.voice.file_name) : NULL;
    /* answered before any download when it cannot work: offline, English
     * only and OGG/Opus (or WAV) only; whisper.cpp takes the WAV decoded
     * here, so the same formats; an OpenAI-compatible server takes the
     * file as it is when its name can say its type */
    if (!v->remote && !offline_language(j->lang)) {
        post_done(v, j, BM_VOICE_NO_ENGINE);
        return j;
    }
    if ((!v->remote || whisper_wants_wav(v->remote)) ? !decodable(j->mime)
                                                     : !file_name(j->mime, j->file_name)) {
        post_done(v, j, BM_VOICE_FORMAT);
        return j;
    }
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddStringToObject(p, "file_id", j->file_id)) {
        cJSON_Delete(p);
        job_free(j);
        *why = "out of memory";
        return NULL;
    }
    tg_err e = tg_call(v->tg, "getFile", p, on_file, j);
    if (e != TG_OK) {
        job_free(j);
        *why = tg_err_str(e);
        return NULL;
    }
    return j;
}

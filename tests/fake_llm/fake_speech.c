/*
 * fake_speech.c — see fake_speech.h.
 */
#include "fake_speech.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "ai/tts.h"
#include "base/text.h"

#define FS_MAX_BODY (1 << 20)
#define FS_MAX_REQUESTS 1024

struct fakespeech {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    int port;
    char base[64];
    char *key;
    int err_status, err_times;
    int delay_ms;
    bool wrong_format;
    char *reqs[FS_MAX_REQUESTS];
    int n_reqs, answered;
};

typedef struct fs_conn {
    char *body;
    size_t n;
    bool toobig;
} fs_conn;

static const char *error_json(int status, const char *msg, char *buf, size_t n)
{
    const char *type = status == 401 ? "invalid_request_error"
                       : status == 429 ? "rate_limit_exceeded"
                       : status >= 500 ? "server_error" : "invalid_request_error";
    cJSON *j = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(j, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddNullToObject(e, "param");
    cJSON_AddNullToObject(e, "code");
    char *s = cJSON_PrintUnformatted(j);
    snprintf(buf, n, "%s", s ? s : "{}");
    cJSON_free(s);
    cJSON_Delete(j);
    return buf;
}

/* NULL when the request is one OpenAI takes, else why not. */
static const char *check(const char *ctype, const char *body, size_t n, const char **fmt,
                         const char **input)
{
    if (!ctype || strncasecmp(ctype, "application/json", 16))
        return "Content-Type must be application/json";
    cJSON *j = cJSON_ParseWithLength(body, n);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return "We could not parse the JSON body of your request.";
    }
    static const char *const keys[] = {"model", "input", "voice", "response_format", "speed",
                                       "instructions", NULL};
    const char *why = NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        bool known = false;
        for (int i = 0; keys[i]; i++)
            known |= !strcmp(it->string, keys[i]);
        if (!known) {
            why = "Unrecognized request argument supplied";
            break;
        }
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "input");
    const cJSON *voice = cJSON_GetObjectItemCaseSensitive(j, "voice");
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(j, "response_format");
    const cJSON *speed = cJSON_GetObjectItemCaseSensitive(j, "speed");
    static char fmtbuf[8];
    static char *inbuf; /* the handler runs under f->mu: one at a time */
    if (!why && (!cJSON_IsString(model) || !*model->valuestring))
        why = "you must provide a model parameter";
    if (!why && (!cJSON_IsString(voice) || !*voice->valuestring))
        why = "voice is required";
    if (!why && !cJSON_IsString(in))
        why = "input is required";
    size_t chars = 0;
    if (!why) {
        const char *s = in->valuestring;
        size_t len = strlen(s);
        if (!text_utf8_valid(s, len))
            why = "input is not valid UTF-8";
        for (size_t i = 0; !why && i < len; i++)
            chars += ((unsigned char)s[i] & 0xC0) != 0x80;
        if (!why && (chars < 1 || chars > 4096))
            why = "input must be 1 to 4096 characters";
    }
    const char *f = "mp3";
    if (!why && rf) {
        static const char *const fmts[] = {"mp3", "opus", "aac", "flac", "wav", "pcm", NULL};
        f = NULL;
        for (int i = 0; cJSON_IsString(rf) && fmts[i]; i++)
            if (!strcmp(rf->valuestring, fmts[i]))
                f = fmts[i];
        if (!f)
            why = "response_format must be one of mp3, opus, aac, flac, wav, pcm";
    }
    if (!why && speed && (!cJSON_IsNumber(speed) || speed->valuedouble < 0.25 ||
                          speed->valuedouble > 4.0))
        why = "speed must be a number from 0.25 to 4.0";
    if (!why) {
        snprintf(fmtbuf, sizeof fmtbuf, "%s", f);
        free(inbuf);
        inbuf = strdup(in->valuestring);
        *fmt = fmtbuf;
        *input = inbuf;
    }
    cJSON_Delete(j);
    return why;
}

static void sleep_ms(int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct MHD_Response *json_response(int status, const char *msg)
{
    char buf[512];
    error_json(status, msg, buf, sizeof buf);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(buf), buf,
                                                             MHD_RESPMEM_MUST_COPY);
    if (r)
        MHD_add_response_header(r, "Content-Type", "application/json");
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    fakespeech *f = cls;
    (void)version;
    fs_conn *k = *con_cls;
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k)
            return MHD_NO;
        *con_cls = k;
        return MHD_YES;
    }
    if (*upload_size) {
        if (k->n + *upload_size > FS_MAX_BODY) {
            k->toobig = true;
        } else {
            char *nb = realloc(k->body, k->n + *upload_size + 1);
            if (!nb)
                return MHD_NO;
            k->body = nb;
            memcpy(k->body + k->n, upload, *upload_size);
            k->n += *upload_size;
            k->body[k->n] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r = NULL;
    int status = 200;
    int delay = 0;
    if (strcmp(method, "POST") || strcmp(url, "/v1/audio/speech") || k->toobig) {
        status = k->toobig ? 413 : 404;
        r = json_response(status, k->toobig ? "Request too large" : "Not Found");
    } else {
        pthread_mutex_lock(&f->mu);
        if (f->n_reqs < FS_MAX_REQUESTS)
            f->reqs[f->n_reqs++] = strdup(k->body ? k->body : "");
        delay = f->delay_ms;
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        char want[256];
        snprintf(want, sizeof want, "Bearer %s", f->key ? f->key : "");
        const char *fmt = NULL, *input = NULL;
        const char *why = NULL;
        if (f->key && (!auth || strcmp(auth, want))) {
            status = 401;
            r = json_response(401, "Incorrect API key provided");
        } else if ((why = check(ctype, k->body ? k->body : "", k->n, &fmt, &input))) {
            status = 400;
            r = json_response(400, why);
        } else if (f->err_status && f->err_times != 0) {
            status = f->err_status;
            r = json_response(status, status == 429 ? "Rate limit reached"
                                                    : "The server had an error processing your request");
            if (f->err_times > 0)
                f->err_times--;
        } else if (f->wrong_format || strcmp(fmt, "opus")) {
            static const unsigned char mp3[] = {'I', 'D', '3', 4, 0, 0, 0, 0, 0, 0, 0xFF, 0xFB};
            r = MHD_create_response_from_buffer(sizeof mp3, (void *)mp3, MHD_RESPMEM_MUST_COPY);
            if (r)
                MHD_add_response_header(r, "Content-Type", "audio/mpeg");
            f->answered++;
        } else {
            unsigned char *audio = NULL;
            size_t len = 0;
            char err[128];
            if (tts_espeak_ogg(tts_lang_of(input), input, 165, &audio, &len, NULL, err,
                               sizeof err)) {
                status = 500;
                r = json_response(500, err);
            } else {
                r = MHD_create_response_from_buffer(len, audio, MHD_RESPMEM_MUST_FREE);
                if (r)
                    MHD_add_response_header(r, "Content-Type", "audio/ogg");
                else
                    free(audio);
                f->answered++;
            }
        }
        pthread_mutex_unlock(&f->mu);
    }
    sleep_ms(delay);
    if (!r)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    fs_conn *k = *con_cls;
    if (k) {
        free(k->body);
        free(k);
        *con_cls = NULL;
    }
}

fakespeech *fakespeech_start(int port, char *err, size_t errlen)
{
    fakespeech *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&f->mu, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                            (uint16_t)port, NULL, NULL, on_request, f,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, f,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120, MHD_OPTION_END);
    if (!f->d) {
        snprintf(err, errlen, "cannot start the fake speech server on port %d", port);
        fakespeech_stop(f);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    f->port = di ? di->port : port;
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d/v1", f->port);
    return f;
}

void fakespeech_stop(fakespeech *f)
{
    if (!f)
        return;
    if (f->d)
        MHD_stop_daemon(f->d);
    for (int i = 0; i < f->n_reqs; i++)
        free(f->reqs[i]);
    free(f->key);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const char *fakespeech_base(const fakespeech *f) { return f->base; }

void fakespeech_key(fakespeech *f, const char *key)
{
    pthread_mutex_lock(&f->mu);
    free(f->key);
    f->key = key ? strdup(key) : NULL;
    pthread_mutex_unlock(&f->mu);
}

void fakespeech_error(fakespeech *f, int status, int times)
{
    pthread_mutex_lock(&f->mu);
    f->err_status = status;
    f->err_times = times;
    pthread_mutex_unlock(&f->mu);
}

void fakespeech_delay(fakespeech *f, int ms)
{
    pthread_mutex_lock(&f->mu);
    f->delay_ms = ms;
    pthread_mutex_unlock(&f->mu);
}

void fakespeech_wrong_format(fakespeech *f, int on)
{
    pthread_mutex_lock(&f->mu);
    f->wrong_format = on;
    pthread_mutex_unlock(&f->mu);
}

int fakespeech_requests(fakespeech *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->n_reqs;
    pthread_mutex_unlock(&f->mu);
    return n;
}

char *fakespeech_request(fakespeech *f, int i)
{
    pthread_mutex_lock(&f->mu);
    char *s = i >= 0 && i < f->n_reqs ? strdup(f->reqs[i]) : NULL;
    pthread_mutex_unlock(&f->mu);
    return s;
}

int fakespeech_answered(fakespeech *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->answered;
    pthread_mutex_unlock(&f->mu);
    return n;
}

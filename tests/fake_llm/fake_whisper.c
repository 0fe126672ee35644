/*
 * fake_whisper.c — see fake_whisper.h.
 */
#include <stddef.h>

#include "fake_whisper.h"

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

#define FW_MAX_BODY (25 << 20) /* OpenAI's file cap */
#define FW_MAX_REQUESTS 256

struct fakewhisper {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    char base[64];
    char *answer;
    int err_status, err_times;
    int delay_ms;
    char *reqs[FW_MAX_REQUESTS];
    int n_reqs;
};

typedef struct fw_conn {
    char *body;
    size_t n;
    bool toobig;
} fw_conn;

static struct MHD_Response *json(const char *s)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), (void *)s,
                                                             MHD_RESPMEM_MUST_COPY);
    if (r)
        MHD_add_response_header(r, "Content-Type", "application/json");
    return r;
}

static struct MHD_Response *error(const char *msg)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(j, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", "invalid_request_error");
    char *s = cJSON_PrintUnformatted(j);
    struct MHD_Response *r = json(s ? s : "{}");
    cJSON_free(s);
    cJSON_Delete(j);
    return r;
}

static const char *memfind(const char *h, size_t hn, const char *n, size_t nn)
{
    for (size_t i = 0; nn && i + nn <= hn; i++)
        if (h[i] == n[0] && !memcmp(h + i, n, nn))
            return h + i;
    return NULL;
}

/* OpenAI's rule: the file's extension says its format (one of the
 * supported ones); here its bytes must also be that format, so a name
 * that lies about them (an MP3 sent as voice.ogg) is refused as a real
 * decoder would fail on it. NULL when fine, else why not. */
static const char *check_format(const char *fn, size_t fnl, const unsigned char *d, size_t n)
{
    static const char *const bad = "Invalid file format. Supported formats: ['flac', 'm4a', "
                                   "'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']";
    const char *dot = NULL;
    for (size_t i = 0; i < fnl; i++)
        if (fn[i] == '.')
            dot = fn + i + 1;
    char ext[8] = "";
    if (dot && (size_t)(fn + fnl - dot) < sizeof ext)
        snprintf(ext, sizeof ext, "%.*s", (int)(fn + fnl - dot), dot);
    bool ogg = n >= 4 && !memcmp(d, "OggS", 4);
    bool mp3 = (n >= 3 && !memcmp(d, "ID3", 3)) || (n >= 2 && d[0] == 0xFF && (d[1] & 0xE0) == 0xE0);
    bool mp4 = n >= 8 && !memcmp(d + 4, "ftyp", 4);
    bool wav = n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WAVE", 4);
    bool flac = n >= 4 && !memcmp(d, "fLaC", 4);
    bool webm = n >= 4 && d[0] == 0x1A && d[1] == 0x45 && d[2] == 0xDF && d[3] == 0xA3;
    bool ok;
    if (!strcasecmp(ext, "ogg") || !strcasecmp(ext, "oga"))
        ok = ogg;
    else if (!strcasecmp(ext, "mp3") || !strcasecmp(ext, "mpga") || !strcasecmp(ext, "mpeg"))
        ok = mp3;
    else if (!strcasecmp(ext, "mp4") || !strcasecmp(ext, "m4a"))
        ok = mp4;
    else if (!strcasecmp(ext, "wav"))
        ok = wav;
    else if (!strcasecmp(ext, "flac"))
        ok = flac;
    else if (!strcasecmp(ext, "webm"))
        ok = webm;
    else
        return bad;
    return ok ? NULL : "The audio file could not be decoded or its format is not supported.";
}

/* Parses the multipart body into "name=value" lines (out, malloc'd);
 * NULL when it is one a real server takes, else why not. */
static const char *parse(const char *ctype, const char *body, size_t n, bool cpp, char **out)
{
    *out = NULL;
    const char *b = ctype ? strstr(ctype, "boundary=") : NULL;
    if (!ctype || strncasecmp(ctype, "multipart/form-data", 19) || !b)
        return "Content-Type must be multipart/form-data with a boundary";
    char delim[128];
    snprintf(delim, sizeof delim, "--%.*s", (int)strcspn(b + 9, "; \t"), b + 9);
    size_t dl = strlen(delim);
    if (n < dl || memcmp(body, delim, dl))
        return "the body does not start with the boundary";
    static const char *const names[] = {"file", "model", "language", "response_format", "prompt",
                                        "temperature", NULL};
    bool seen[6] = {false};
    size_t cap = 4096, len = 0;
    char *lines = calloc(1, cap);
    const char *p = body + dl;
    const char *end = body + n;
    const char *why = NULL;
    for (;;) {
        if (end - p >= 2 && !memcmp(p, "--", 2))
            break; /* the closing delimiter */
        if (end - p < 2 || memcmp(p, "\r\n", 2)) {
            why = "a boundary not followed by CRLF";
            break;
        }
        p += 2;
        const char *hend = memfind(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend) {
            why = "a part without headers";
            break;
        }
        char hdr[1024];
        snprintf(hdr, sizeof hdr, "%.*s", (int)(hend - p), p);
        const char *data = hend + 4;
        char next[140];
        snprintf(next, sizeof next, "\r\n%s", delim);
        const char *dend = memfind(data, (size_t)(end - data), next, strlen(next));
        if (!dend) {
            why = "a part not closed by the boundary";
            break;
        }
        char low[1024];
        for (size_t i = 0; i < sizeof low; i++) {
            low[i] = (char)((hdr[i] >= 'A' && hdr[i] <= 'Z') ? hdr[i] - 'A' + 'a' : hdr[i]);
            if (!hdr[i])
                break;
        }
        const char *nm = strstr(low, "content-disposition: form-data;") ? strstr(hdr, "name=\"") : NULL;
        if (!nm) {
            why = "a part without Content-Disposition: form-data; name=";
            break;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(nm + 6, "\""), nm + 6);
        int k = -1;
        for (int i = 0; names[i]; i++)
            if (!strcmp(names[i], name))
                k = i;
        if (k < 0) {
            why = "Unrecognized request argument supplied";
            break;
        }
        if (seen[k]) {
            why = "a field given twice";
            break;
        }
        seen[k] = true;
        size_t dn = (size_t)(dend - data);
        char line[512];
        if (k == 0) {
            const char *fn = strstr(hdr, "filename=\"");
            if (!fn || dn == 0) {
                why = "file must be a file upload with a filename";
                break;
            }
            if (cpp && (dn < 12 || memcmp(data, "RIFF", 4) || memcmp(data + 8, "WAVE", 4))) {
                why = "whisper.cpp reads WAV files here";
                break;
            }
            size_t fnl = strcspn(fn + 10, "\"");
            if (!cpp && (why = check_format(fn + 10, fnl, (const unsigned char *)data, dn)))
                break;
            /* the part's own Content-Type, as sent ("-" when none) */
            const char *ct = strstr(low, "content-type:");
            char type[64] = "-";
            if (ct) {
                ct = hdr + (ct - low) + 13;
                while (*ct == ' ')
                    ct++;
                snprintf(type, sizeof type, "%.*s", (int)strcspn(ct, "\r\n"), ct);
            }
            snprintf(line, sizeof line, "file=%.*s %zu bytes %.4s type=%s\n", (int)fnl, fn + 10,
                     dn, data, type);
        } else {
            snprintf(line, sizeof line, "%s=%.*s\n", name, (int)(dn < 400 ? dn : 400), data);
            if (k == 2 && (dn != 2 || data[0] < 'a' || data[0] > 'z')) {
                why = "language must be an ISO-639-1 code (e.g. en)";
                break;
            }
        }
        if (len + strlen(line) + 1 > cap)
            lines = realloc(lines, cap *= 2);
        memcpy(lines + len, line, strlen(line) + 1);
        len += strlen(line);
        p = dend + 2 + dl;
    }
    if (!why && !seen[0])
        why = "you must provide a file";
    if (!why && !cpp && !seen[1])
        why = "you must provide a model parameter";
    if (why) {
        free(lines);
        return why;
    }
    *out = lines;
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    fakewhisper *f = cls;
    (void)version;
    fw_conn *k = *con_cls;
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k)
            return MHD_NO;
        *con_cls = k;
        return MHD_YES;
    }
    if (*upload_size) {
        if (k->n + *upload_size > FW_MAX_BODY) {
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
    bool cpp = !strcmp(url, "/inference") || !strcmp(url, "/v1/inference");
    struct MHD_Response *r = NULL;
    int status = 200, delay = 0;
    if (strcmp(method, "POST") || (!cpp && strcmp(url, "/v1/audio/transcriptions"))) {
        status = 404;
        r = error("Not Found");
    } else if (k->toobig) {
        status = 413;
        r = error("Maximum content size limit exceeded");
    } else {
        char *lines = NULL;
        const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        const char *why = parse(ctype, k->body ? k->body : "", k->n, cpp, &lines);
        pthread_mutex_lock(&f->mu);
        if (f->n_reqs < FW_MAX_REQUESTS)
            f->reqs[f->n_reqs++] = strdup(lines ? lines : why);
        delay = f->delay_ms;
        if (why) {
            status = 400;
            r = error(why);
        } else if (f->err_status && f->err_times != 0) {
            status = f->err_status;
            r = error("The server had an error while processing your request");
            if (f->err_times > 0)
                f->err_times--;
        } else {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "text", f->answer ? f->answer : "");
            char *s = cJSON_PrintUnformatted(j);
            r = json(s);
            cJSON_free(s);
            cJSON_Delete(j);
        }
        pthread_mutex_unlock(&f->mu);
        free(lines);
    }
    if (delay > 0) {
        struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
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
    fw_conn *k = *con_cls;
    if (k) {
        free(k->body);
        free(k);
        *con_cls = NULL;
    }
}

fakewhisper *fakewhisper_start(int port, char *err, size_t errlen)
{
    fakewhisper *f = calloc(1, sizeof *f);
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
        snprintf(err, errlen, "cannot start the fake whisper server on port %d", port);
        fakewhisper_stop(f);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d/v1", di ? di->port : port);
    return f;
}

void fakewhisper_stop(fakewhisper *f)
{
    if (!f)
        return;
    if (f->d)
        MHD_stop_daemon(f->d);
    for (int i = 0; i < f->n_reqs; i++)
        free(f->reqs[i]);
    free(f->answer);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const char *fakewhisper_base(const fakewhisper *f) { return f->base; }

void fakewhisper_answer(fakewhisper *f, const char *text)
{
    pthread_mutex_lock(&f->mu);
    free(f->answer);
    f->answer = strdup(text ? text : "");
    pthread_mutex_unlock(&f->mu);
}

void fakewhisper_error(fakewhisper *f, int status, int times)
{
    pthread_mutex_lock(&f->mu);
    f->err_status = status;
    f->err_times = times;
    pthread_mutex_unlock(&f->mu);
}

void fakewhisper_delay(fakewhisper *f, int ms)
{
    pthread_mutex_lock(&f->mu);
    f->delay_ms = ms;
    pthread_mutex_unlock(&f->mu);
}

int fakewhisper_requests(fakewhisper *f)
{
    pthread_mutex_lock(&f->mu);
    int n = f->n_reqs;
    pthread_mutex_unlock(&f->mu);
    return n;
}

char *fakewhisper_request(fakewhisper *f, int i)
{
    pthread_mutex_lock(&f->mu);
    char *s = i >= 0 && i < f->n_reqs ? strdup(f->reqs[i]) : NULL;
    pthread_mutex_unlock(&f->mu);
    return s;
}

/*
 * fake_tool.c — see fake_tool.h.
 */
#include "fake_tool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#define FT_MAX_REQUESTS 1000
#define FT_MAX_BODY (64 * 1024)

struct faketool {
    struct MHD_Daemon *d;
    char base[64];
    pthread_mutex_t mu;
    int f_status, f_delay, f_times;
    char *reqs[FT_MAX_REQUESTS];
    int n_reqs;
};

typedef struct conn {
    char *body;
    size_t n;
    bool toobig;
} conn;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

typedef struct qbuf {
    char s[2048];
    size_t n;
} qbuf;

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    qbuf *q = cls;
    (void)kind;
    int w = snprintf(q->s + q->n, sizeof q->s - q->n, "%c%s=%s", q->n ? '&' : '?', key,
                     value ? value : "");
    if (w > 0 && q->n + (size_t)w < sizeof q->s)
        q->n += (size_t)w;
    return MHD_YES;
}

static const char *arg(struct MHD_Connection *c, const char *k)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

static bool digits(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* The answer to a well-formed request, or why it is not one. malloc'd
 * JSON; *status set. */
static char *serve(struct MHD_Connection *c, const char *url, const char *method,
                   const char *body, int *status, const char **why)
{
    char out[4096];
    *status = 200;
    *why = NULL;
    bool get = !strcmp(method, "GET");
    if (!strncmp(url, "/wttr/", 6)) {
        const char *city = url + 6, *fmt = arg(c, "format"), *lang = arg(c, "lang");
        if (!get)
            *status = 405;
        else if (!*city || strchr(city, '/'))
            *why = "the city is missing from the path";
        else if (!fmt || strcmp(fmt, "j1"))
            *why = "format=j1 is required";
        else if (lang && strcmp(lang, "en") && strcmp(lang, "ru"))
            *why = "unknown lang";
        if (*status != 200 || *why)
            return NULL;
        snprintf(out, sizeof out,
                 "{\"current_condition\":[{\"temp_C\":\"-3\",\"FeelsLikeC\":\"-8\","
                 "\"humidity\":\"86\",\"windspeedKmph\":\"14\",\"weatherDesc\":[{\"value\":"
                 "\"Light snow\"}]}],\"nearest_area\":[{\"areaName\":[{\"value\":\"%.200s\"}]}]}",
                 city);
        return strdup(out);
    }
    if (!strcmp(url, "/coingecko/simple/price")) {
        const char *ids = arg(c, "ids"), *vs = arg(c, "vs_currencies");
        if (!get)
            *status = 405;
        else if (!ids || !*ids || !vs || !*vs)
            *why = "ids and vs_currencies are required";
        if (*status != 200 || *why)
            return NULL;
        snprintf(out, sizeof out, "{\"%.64s\":{\"%.16s\":97123.45}}", ids, vs);
        return strdup(out);
    }
    if (!strcmp(url, "/tavily/search")) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        cJSON *j = body ? cJSON_Parse(body) : NULL;
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "query");
        if (strcmp(method, "POST"))
            *status = 405;
        else if (!auth || strcmp(auth, "Bearer " FAKETOOL_KEY))
            *status = 401;
        else if (!ct || strncmp(ct, "application/json", 16))
            *why = "Content-Type must be application/json";
        else if (!cJSON_IsString(q) || !*q->valuestring)
            *why = "the body must be a JSON object with a non-empty query";
        if (*status == 200 && !*why)
            snprintf(out, sizeof out,
                     "{\"query\":\"%.200s\",\"results\":[{\"title\":\"Result about %.200s\","
                     "\"url\":\"https://example.org/a\",\"content\":\"What the page says.\"}]}",
                     q->valuestring, q->valuestring);
        cJSON_Delete(j);
        return *status == 200 && !*why ? strdup(out) : NULL;
    }
    if (!strcmp(url, "/notes")) {
        const char *user = arg(c, "user"), *q = arg(c, "q");
        if (!get)
            *status = 405;
        else if (!digits(user))
            *why = "user must be a user id";
        else if (!q)
            *why = "q is required";
        if (*status != 200 || *why)
            return NULL;
        snprintf(out, sizeof out, "{\"notes\":[\"user %.30s's note about %.200s\"]}", user, q);
        return strdup(out);
    }
    *status = 404;
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    faketool *t = cls;
    (void)version;
    conn *k = *con_cls;
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k)
            return MHD_NO;
        *con_cls = k;
        return MHD_YES;
    }
    if (*upload_size) {
        if (k->n + *upload_size > FT_MAX_BODY) {
            k->toobig = true;
        } else {
            char *p = realloc(k->body, k->n + *upload_size + 1);
            if (!p)
                return MHD_NO;
            k->body = p;
            memcpy(k->body + k->n, upload, *upload_size);
            k->n += *upload_size;
            k->body[k->n] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    qbuf q = {.n = 0};
    q.s[0] = '\0';
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    int status;
    const char *why = NULL;
    char *answer = k->toobig ? NULL : serve(c, url, method, k->body, &status, &why);
    if (k->toobig)
        status = 413;
    if (why)
        status = 400;
    pthread_mutex_lock(&t->mu);
    int delay = 0;
    if (t->f_times != 0 && (t->f_status || t->f_delay)) {
        delay = t->f_delay;
        if (t->f_status) {
            status = t->f_status;
            free(answer);
            answer = NULL;
        }
        if (t->f_times > 0)
            t->f_times--;
    }
    if (t->n_reqs < FT_MAX_REQUESTS) {
        size_t len = strlen(method) + strlen(url) + q.n + k->n + (why ? strlen(why) : 0) + 16;
        char *rec = malloc(len);
        if (rec) {
            snprintf(rec, len, "%s %s%s\n%s%s%s", method, url, q.s, k->body ? k->body : "",
                     why ? "\n! " : "", why ? why : "");
            t->reqs[t->n_reqs++] = rec;
        }
    }
    pthread_mutex_unlock(&t->mu);
    sleep_ms(delay);
    if (!answer) {
        char eb[256];
        snprintf(eb, sizeof eb, "{\"error\":\"%s\"}",
                 why ? why : status == 404 ? "not found" : status == 405 ? "method not allowed"
                           : status == 401 ? "unauthorized" : "internal server error");
        answer = strdup(eb);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(answer), answer,
                                                             MHD_RESPMEM_MUST_FREE);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
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
    conn *k = *con_cls;
    if (k) {
        free(k->body);
        free(k);
        *con_cls = NULL;
    }
}

faketool *faketool_start(char *err, size_t errlen)
{
    faketool *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    t->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                            NULL, NULL, on_request, t, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                            t, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60, MHD_OPTION_END);
    if (!t->d) {
        snprintf(err, errlen, "cannot start the fake tool server");
        faketool_stop(t);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(t->d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(t->base, sizeof t->base, "http://127.0.0.1:%d", di ? di->port : 0);
    return t;
}

void faketool_stop(faketool *t)
{
    if (!t)
        return;
    if (t->d)
        MHD_stop_daemon(t->d);
    for (int i = 0; i < t->n_reqs; i++)
        free(t->reqs[i]);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

const char *faketool_base(const faketool *t) { return t->base; }

void faketool_fault(faketool *t, int status, int delay_ms, int times)
{
    pthread_mutex_lock(&t->mu);
    t->f_status = status;
    t->f_delay = delay_ms;
    t->f_times = times;
    pthread_mutex_unlock(&t->mu);
}

int faketool_requests(faketool *t)
{
    pthread_mutex_lock(&t->mu);
    int n = t->n_reqs;
    pthread_mutex_unlock(&t->mu);
    return n;
}

char *faketool_request(faketool *t, int i)
{
    pthread_mutex_lock(&t->mu);
    char *r = i >= 0 && i < t->n_reqs ? strdup(t->reqs[i]) : NULL;
    pthread_mutex_unlock(&t->mu);
    return r;
}

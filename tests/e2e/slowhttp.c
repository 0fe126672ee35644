/*
 * slowhttp.c — see slowhttp.h.
 */
#include "slowhttp.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

struct slowhttp {
    struct MHD_Daemon *d;
    uint16_t port;
    int delay_ms;
    pthread_mutex_t mu;
    unsigned served, active, max_active;
};

static enum MHD_Result on_req(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)url;
    (void)version;
    (void)upload;
    (void)upload_size;
    slowhttp *s = cls;
    if (!*con_cls) { /* first call: headers only */
        *con_cls = s;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->mu);
    if (++s->active > s->max_active) s->max_active = s->active;
    pthread_mutex_unlock(&s->mu);
    struct timespec ts = { s->delay_ms / 1000, (long)(s->delay_ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    const char *text = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "text");
    char body[1024];
    int status = strcmp(method, "GET") ? 405 : 200;
    snprintf(body, sizeof body, "answer: %s", text ? text : "");
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    pthread_mutex_lock(&s->mu);
    s->active--;
    s->served++;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

slowhttp *slowhttp_start(int delay_ms, char *err, size_t errlen)
{
    slowhttp *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->delay_ms = delay_ms;
    pthread_mutex_init(&s->mu, NULL);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                            0, NULL, NULL, on_req, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot listen on 127.0.0.1");
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = i ? i->port : 0;
    return s;
}

void slowhttp_stop(slowhttp *s)
{
    if (!s) return;
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void slowhttp_url(const slowhttp *s, char *buf, size_t len)
{
    snprintf(buf, len, "http://127.0.0.1:%u/ask", (unsigned)s->port);
}

unsigned slowhttp_served(slowhttp *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->served;
    pthread_mutex_unlock(&s->mu);
    return n;
}

unsigned slowhttp_max_parallel(slowhttp *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->max_active;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/*
 * tiny_http.c — see tiny_http.h.
 */
#include "tiny_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

static struct MHD_Daemon *g_d;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_connections;
static struct { char path[32]; int n; } g_hits[16];

typedef struct th_body {
    char *p;
    size_t len;
} th_body;

static void on_conn(void *cls, struct MHD_Connection *c, void **sock_ctx,
                    enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&g_mu);
        g_connections++;
        pthread_mutex_unlock(&g_mu);
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    th_body *b = *con_cls;
    if (b) {
        free(b->p);
        free(b);
        *con_cls = NULL;
    }
}

static enum MHD_Result send_copy(struct MHD_Connection *c, unsigned status, const char *body,
                                 size_t len, const char *retry_after)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, "Content-Type", "text/plain");
    if (retry_after)
        MHD_add_response_header(resp, "Retry-After", retry_after);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static ssize_t endless(void *cls, uint64_t pos, char *buf, size_t max)
{
    memset(buf, 'x', max);
    return (ssize_t)max;
}

static void count_hit(const char *url)
{
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < sizeof g_hits / sizeof g_hits[0]; i++) {
        if (!g_hits[i].path[0])
            snprintf(g_hits[i].path, sizeof g_hits[i].path, "%s", url);
        if (!strcmp(g_hits[i].path, url)) {
            g_hits[i].n++;
            break;
        }
    }
    pthread_mutex_unlock(&g_mu);
}

static long arg(struct MHD_Connection *c, const char *name, long dflt)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    return v ? atol(v) : dflt;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    th_body *b = *con_cls;
    if (!b) {
        b = calloc(1, sizeof *b);
        *con_cls = b;
        count_hit(url);
        return b ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        char *p = realloc(b->p, b->len + *upload_size + 1);
        if (!p)
            return MHD_NO;
        b->p = p;
        memcpy(b->p + b->len, upload, *upload_size);
        b->len += *upload_size;
        b->p[b->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    if (!strcmp(url, "/hello"))
        return send_copy(c, 200, "hello", 5, NULL);
    if (!strcmp(url, "/bytes")) {
        size_t n = (size_t)arg(c, "n", 0);
        char *x = malloc(n + 1);
        if (!x)
            return MHD_NO;
        memset(x, 'x', n);
        enum MHD_Result r = send_copy(c, 200, x, n, NULL);
        free(x);
        return r;
    }
    if (!strcmp(url, "/endless")) {
        struct MHD_Response *resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, endless, NULL, NULL);
        enum MHD_Result r = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return r;
    }
    if (!strcmp(url, "/status")) {
        long code = arg(c, "code", 500);
        char body[32];
        int n = snprintf(body, sizeof body, "status %ld", code);
        return send_copy(c, (unsigned)code, body, (size_t)n,
                         MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "retry_after"));
    }
    if (!strcmp(url, "/slow")) {
        usleep((useconds_t)arg(c, "ms", 1000) * 1000);
        return send_copy(c, 200, "slow", 4, NULL);
    }
    if (!strcmp(url, "/echo") && !strcmp(method, "POST")) {
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        const char *xt = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");
        size_t n = b->len + 256;
        char *out = malloc(n);
        if (!out)
            return MHD_NO;
        int len = snprintf(out, n, "%s|%s|%s", ct ? ct : "", xt ? xt : "", b->p ? b->p : "");
        enum MHD_Result r = send_copy(c, 200, out, (size_t)len, NULL);
        free(out);
        return r;
    }
    return send_copy(c, 404, "not found", 9, NULL);
}

int tiny_http_start(char *base, size_t len)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
                           0, NULL, NULL, handler, NULL,
                           MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                           MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                           MHD_OPTION_NOTIFY_CONNECTION, on_conn, NULL,
                           MHD_OPTION_END);
    if (!g_d)
        return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(g_d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(base, len, "http://127.0.0.1:%u", (unsigned)info->port);
    return 0;
}

void tiny_http_stop(void)
{
    if (g_d)
        MHD_stop_daemon(g_d);
    g_d = NULL;
}

int tiny_http_connections(void)
{
    pthread_mutex_lock(&g_mu);
    int n = g_connections;
    pthread_mutex_unlock(&g_mu);
    return n;
}

int tiny_http_hits(const char *path)
{
    int n = 0;
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < sizeof g_hits / sizeof g_hits[0]; i++)
        if (!strcmp(g_hits[i].path, path))
            n = g_hits[i].n;
    pthread_mutex_unlock(&g_mu);
    return n;
}

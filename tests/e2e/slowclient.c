/*
 * slowclient.c — see slowclient.h.
 */
#include "slowclient.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define SC_MAX 1000

typedef struct sconn {
    int fd;
    double opened;   /* monotonic s */
    double next;     /* when the next byte goes */
    size_t sent;     /* bytes of the endless request sent */
} sconn;

struct slowclient {
    uint16_t port;
    struct in_addr from;
    int n, every_ms;
    sconn *c;
    pthread_t th;
    pthread_mutex_t mu;
    bool quit;
    slowclient_stats st;
};

/* The request line and a header that never ends. */
static const char REQ[] = "POST /tg/webhook HTTP/1.1\r\nHost: bot\r\nX-Slow: ";

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sc_open(slowclient *s, sconn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    c->sent = 0;
    c->opened = c->next = mono();
    if (c->fd < 0)
        return;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr = s->from;
    if (bind(c->fd, (struct sockaddr *)&a, sizeof a) != 0)
        goto bad;
    a.sin_port = htons(s->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* non-blocking from the start: a full backlog must not stall the thread */
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS)
        goto bad;
    pthread_mutex_lock(&s->mu);
    s->st.opened++;
    s->st.open_now++;
    pthread_mutex_unlock(&s->mu);
    return;
bad:
    close(c->fd);
    c->fd = -1;
}

/* The server closed c: counted by how long it lived, then reopened. */
static void sc_closed(slowclient *s, sconn *c)
{
    double life = mono() - c->opened;
    close(c->fd);
    c->fd = -1;
    pthread_mutex_lock(&s->mu);
    s->st.open_now--;
    if (life < 1.0)
        s->st.refused++;
    else
        s->st.cut++;
    if ((unsigned long)(life * 1000) > s->st.max_life_ms)
        s->st.max_life_ms = (unsigned long)(life * 1000);
    pthread_mutex_unlock(&s->mu);
}

static void *sc_main(void *arg)
{
    slowclient *s = arg;
    struct pollfd *pf = calloc((size_t)s->n, sizeof *pf);
    if (!pf)
        return NULL;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool quit = s->quit;
        pthread_mutex_unlock(&s->mu);
        if (quit)
            break;
        double now = mono();
        for (int i = 0; i < s->n; i++) {
            sconn *c = &s->c[i];
            if (c->fd < 0 && now - c->opened >= 0.05)
                sc_open(s, c); /* reopen (not faster than 20 a second each) */
            if (c->fd >= 0 && now >= c->next) {
                /* the request line a few bytes at a time, then one letter
                 * of an endless header each time */
                char b = 'x';
                ssize_t w;
                if (c->sent < sizeof REQ - 1) {
                    size_t k = sizeof REQ - 1 - c->sent;
                    if (k > 8)
                        k = 8;
                    w = send(c->fd, REQ + c->sent, k, MSG_NOSIGNAL);
                } else {
                    w = send(c->fd, &b, 1, MSG_NOSIGNAL);
                }
                if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)
                    sc_closed(s, c);
                else if (w > 0)
                    c->sent += (size_t)w;
                c->next = now + s->every_ms / 1000.0;
            }
            pf[i].fd = c->fd;
            pf[i].events = POLLIN;
            pf[i].revents = 0;
        }
        if (poll(pf, (nfds_t)s->n, 50) > 0) {
            for (int i = 0; i < s->n; i++) {
                sconn *c = &s->c[i];
                if (c->fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                char buf[512];
                ssize_t r = recv(c->fd, buf, sizeof buf, 0);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                    sc_closed(s, c);
                /* an answer (408, 400, ...) is read and the close awaited */
            }
        }
    }
    free(pf);
    return NULL;
}

slowclient *slowclient_start(uint16_t port, int n, const char *from, int every_ms, char *err,
                             size_t errlen)
{
    if (n < 1 || n > SC_MAX || every_ms < 1) {
        snprintf(err, errlen, "1..%d clients and a positive interval", SC_MAX);
        return NULL;
    }
    slowclient *s = calloc(1, sizeof *s);
    if (!s || !(s->c = calloc((size_t)n, sizeof *s->c))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (inet_pton(AF_INET, from ? from : "127.0.0.1", &s->from) != 1 ||
        (ntohl(s->from.s_addr) >> 24) != 127) {
        free(s->c);
        free(s);
        snprintf(err, errlen, "from=%s is not an address of 127/8", from);
        return NULL;
    }
    s->port = port;
    s->n = n;
    s->every_ms = every_ms;
    pthread_mutex_init(&s->mu, NULL);
    for (int i = 0; i < n; i++)
        sc_open(s, &s->c[i]);
    if (pthread_create(&s->th, NULL, sc_main, s) != 0) {
        for (int i = 0; i < n; i++)
            if (s->c[i].fd >= 0)
                close(s->c[i].fd);
        pthread_mutex_destroy(&s->mu);
        free(s->c);
        free(s);
        snprintf(err, errlen, "cannot start a thread");
        return NULL;
    }
    return s;
}

void slowclient_stop(slowclient *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->quit = true;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
    for (int i = 0; i < s->n; i++)
        if (s->c[i].fd >= 0)
            close(s->c[i].fd);
    pthread_mutex_destroy(&s->mu);
    free(s->c);
    free(s);
}

slowclient_stats slowclient_get_stats(slowclient *s)
{
    pthread_mutex_lock(&s->mu);
    slowclient_stats st = s->st;
    pthread_mutex_unlock(&s->mu);
    return st;
}

/*
 * walsync.c — fdatasync of one file on a thread of its own (walsync.h).
 */
#include "walsync.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct walsync {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t asked;  /* the loop asked for a sync, or stop */
    pthread_cond_t synced; /* a sync ended (walsync_wait) */
    char *path;
    int fd;                /* the sync thread's own; -1 until opened */
    uint64_t requested;    /* the last ticket handed out */
    uint64_t done;         /* the last ticket on disk */
    uint64_t failed;       /* the last ticket whose sync failed */
    uint64_t tried;        /* the last ticket a sync was made for */
    unsigned long failures;
    bool stop;
    void (*wake)(void *ud);
    void *ud;
};

/* One sync on the thread; mu not held. 0 or -1 (logged). */
static int sync_file(walsync *w)
{
    if (w->fd < 0) {
        w->fd = open(w->path, O_RDONLY | O_CLOEXEC);
        if (w->fd < 0) {
            log_error("walsync", "cannot open %s: %s", w->path, strerror(errno));
            return -1;
        }
    }
    if (fdatasync(w->fd) != 0) {
        log_error("walsync", "fdatasync %s: %s", w->path, strerror(errno));
        /* after a failed fsync the kernel may have dropped the dirty pages:
         * reopen, and the caller does not confirm what this covered */
        close(w->fd);
        w->fd = -1;
        return -1;
    }
    return 0;
}

static void *run(void *arg)
{
    walsync *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->requested == w->tried)
            pthread_cond_wait(&w->asked, &w->mu);
        if (w->requested == w->tried)
            break; /* stopping, and nothing left to sync */
        uint64_t target = w->tried = w->requested;
        pthread_mutex_unlock(&w->mu);
        int rc = sync_file(w);
        pthread_mutex_lock(&w->mu);
        if (rc == 0) {
            w->done = target;
        } else {
            w->failed = target;
            w->failures++;
        }
        pthread_cond_broadcast(&w->synced);
        if (w->wake) {
            pthread_mutex_unlock(&w->mu);
            w->wake(w->ud);
            pthread_mutex_lock(&w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

walsync *walsync_new(const char *path, void (*wake)(void *ud), void *ud)
{
    walsync *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->path = strdup(path);
    w->fd = -1;
    w->wake = wake;
    w->ud = ud;
    if (!w->path)
        goto fail;
    if (pthread_mutex_init(&w->mu, NULL))
        goto fail;
    if (pthread_cond_init(&w->asked, NULL))
        goto fail_mu;
    if (pthread_cond_init(&w->synced, NULL))
        goto fail_asked;
    if (pthread_create(&w->thread, NULL, run, w))
        goto fail_synced;
    return w;
fail_synced:
    pthread_cond_destroy(&w->synced);
fail_asked:
    pthread_cond_destroy(&w->asked);
fail_mu:
    pthread_mutex_destroy(&w->mu);
fail:
    free(w->path);
    free(w);
    return NULL;
}

void walsync_free(walsync *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->asked);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    if (w->fd >= 0)
        close(w->fd);
    pthread_cond_destroy(&w->synced);
    pthread_cond_destroy(&w->asked);
    pthread_mutex_destroy(&w->mu);
    free(w->path);
    free(w);
}

uint64_t walsync_request(walsync *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t t = ++w->requested;
    pthread_cond_signal(&w->asked);
    pthread_mutex_unlock(&w->mu);
    return t;
}

uint64_t walsync_done(walsync *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t d = w->done;
    pthread_mutex_unlock(&w->mu);
    return d;
}

int walsync_wait(walsync *w, uint64_t ticket)
{
    pthread_mutex_lock(&w->mu);
    while (w->done < ticket && w->failed < ticket)
        pthread_cond_wait(&w->synced, &w->mu);
    int rc = w->done >= ticket ? 0 : -1;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

unsigned long walsync_failures(walsync *w)
{
    pthread_mutex_lock(&w->mu);
    unsigned long n = w->failures;
    pthread_mutex_unlock(&w->mu);
    return n;
}

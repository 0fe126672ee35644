/*
 * loop.c — the event loop over one CURLM (see loop.h).
 *
 * The multi handle owns the connection cache, so every transfer on the
 * loop reuses the kept-alive connections to its host, whatever client
 * started it.
 */
#include "net/loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/log.h"

struct loop {
    CURLM *multi;
    loop_xfer *head; /* transfers in flight */
    int n_flight;
    int closing;     /* inside loop_cancel: refuse new transfers */
};

static int g_curl_users; /* curl_global_init refcount; loops live on one thread */

long loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

loop *loop_new(const loop_options *opts, char *err, size_t errlen)
{
    long max_host = opts && opts->max_host_connections ? opts->max_host_connections : 256;
    loop *lp = calloc(1, sizeof *lp);
    if (!lp) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (g_curl_users++ == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        g_curl_users--;
        if (err && errlen)
            snprintf(err, errlen, "curl_global_init failed");
        free(lp);
        return NULL;
    }
    lp->multi = curl_multi_init();
    if (!lp->multi) {
        if (err && errlen)
            snprintf(err, errlen, "curl_multi_init failed");
        if (--g_curl_users == 0)
            curl_global_cleanup();
        free(lp);
        return NULL;
    }
    curl_multi_setopt(lp->multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_host);
    curl_multi_setopt(lp->multi, CURLMOPT_MAXCONNECTS, max_host + 4);
    return lp;
}

void loop_free(loop *lp)
{
    if (!lp)
        return;
    loop_cancel(lp, NULL);
    curl_multi_cleanup(lp->multi);
    if (--g_curl_users == 0)
        curl_global_cleanup();
    free(lp);
}

/* Counts x in flight, from now on; unlink undoes it. */
static void link_xfer(loop *lp, loop_xfer *x)
{
    x->prev = NULL;
    x->next = lp->head;
    if (lp->head)
        lp->head->prev = x;
    lp->head = x;
    lp->n_flight++;
}

static void unlink_xfer(loop *lp, loop_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        lp->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    lp->n_flight--;
}

int loop_add(loop *lp, loop_xfer *x, long delay_ms)
{
    if (lp->closing)
        return -1;
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    x->start_ms = loop_now_ms();
    if (delay_ms > 0)
        x->add_at = x->start_ms + delay_ms;
    else if (x->add_at = 0, curl_multi_add_handle(lp->multi, x->easy) != CURLM_OK)
        return -1;
    link_xfer(lp, x);
    return 0;
}

bool loop_closing(const loop *lp)
{
    return lp->closing > 0;
}

void loop_cancel(loop *lp, const void *owner)
{
    if (!lp)
        return;
    lp->closing++;
    for (loop_xfer *x = lp->head; x;) {
        if (owner && x->owner != owner) {
            x = x->next;
            continue;
        }
        if (!x->add_at)
            curl_multi_remove_handle(lp->multi, x->easy);
        unlink_xfer(lp, x);
        x->done(x, LOOP_CANCELLED, CURLE_OK);
        x = lp->head; /* the callback may have changed the list */
    }
    lp->closing--;
}

int loop_in_flight(const loop *lp)
{
    return lp ? lp->n_flight : 0;
}

void loop_wakeup(loop *lp)
{
    if (lp)
        curl_multi_wakeup(lp->multi);
}

/* Starts the delayed transfers whose time came and runs the ticks; one
 * that asks to stop is finished as aborted. Returns the callbacks run. */
static int run_ticks(loop *lp)
{
    int n = 0;
    for (loop_xfer *x = lp->head, *next; x; x = next) {
        next = x->next;
        bool stop = false;
        if (x->add_at && loop_now_ms() >= x->add_at) {
            x->add_at = 0;
            x->start_ms = loop_now_ms();
            if (curl_multi_add_handle(lp->multi, x->easy) != CURLM_OK)
                stop = true;
        }
        if (!stop && (!x->tick || !x->tick(x)))
            continue;
        if (!x->add_at)
            curl_multi_remove_handle(lp->multi, x->easy);
        unlink_xfer(lp, x);
        x->done(x, LOOP_ABORTED, CURLE_OK);
        n++;
        next = lp->head; /* the callback may have changed the list */
    }
    return n;
}

/* Hands every finished transfer to its done callback. */
static int dispatch(loop *lp)
{
    int n = 0, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(lp->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode cc = m->data.result;
        loop_xfer *x = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(lp->multi, e); /* m is invalid from here */
        if (!x)
            continue;
        unlink_xfer(lp, x);
        x->done(x, LOOP_DONE, cc);
        n++;
    }
    return n;
}

int loop_kick(loop *lp)
{
    int running = 0;
    CURLMcode mc = curl_multi_perform(lp->multi, &running);
    if (mc != CURLM_OK) {
        log_error("loop", "curl_multi_perform: %s", curl_multi_strerror(mc));
        return -1;
    }
    return 0;
}

int loop_poll(loop *lp, int timeout_ms)
{
    if (loop_kick(lp) < 0)
        return -1;
    int n = dispatch(lp) + run_ticks(lp);
    if (n > 0)
        return n; /* let the caller act on it before waiting */
    CURLMcode mc = curl_multi_poll(lp->multi, NULL, 0, timeout_ms > 0 ? timeout_ms : 0, NULL);
    if (mc != CURLM_OK) {
        log_error("loop", "curl_multi_poll: %s", curl_multi_strerror(mc));
        return -1;
    }
    if (loop_kick(lp) < 0)
        return -1;
    return dispatch(lp) + run_ticks(lp);
}

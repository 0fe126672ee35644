/*
 * deliver.c — webhook delivery of the fake Bot API (see deliver.h).
 *
 * Workers share the fake's lock: they pick an update under it, drop it for
 * the HTTP request (libcurl easy, one handle per worker so connections are
 * kept alive), and take it again to settle the outcome. Per-update retry
 * state lives here, only for updates in flight or failed at least once.
 */
#include "deliver.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define DL_MAX_WORKERS 100      /* Telegram's ceiling of max_connections */
#define DL_DEFAULT_CONNS 40     /* Telegram's default max_connections */
#define DL_RETRY_DEFAULT_MS 100
#define DL_TIMEOUT_MS 10000     /* one delivery, connect included */
#define DL_SCAN_CHATS 512       /* chats tracked per scan for ordering */

typedef struct dstate {
    int64_t id;
    int attempts;
    double not_before;          /* monotonic seconds */
    bool in_flight;
} dstate;

struct fake_dl {
    fake_tg *ft;
    char *proxy;                /* NULL: the URL as set (https read as http) */
    int retry_ms;
    int conns;                  /* workers allowed by opts */
    pthread_cond_t idle;        /* no webhook: workers sleep here (fake's lock) */
    pthread_t th[DL_MAX_WORKERS];
    int nthreads;
    atomic_int stop;
    dstate *st;
    size_t nst, capst;
    unsigned long delivered, failed;
};

typedef struct worker {
    fake_dl *d;
    int index;
} worker;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void abs_after(struct timespec *ts, double secs)
{
    clock_gettime(CLOCK_REALTIME, ts);
    long ns = (long)(secs * 1e9);
    ts->tv_sec += ns / 1000000000L;
    ts->tv_nsec += ns % 1000000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int64_t num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

/* The chat whose order an update belongs to (0: none). */
static int64_t chat_of(const cJSON *u)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(u, "message");
    if (!m) {
        const cJSON *cq = cJSON_GetObjectItemCaseSensitive(u, "callback_query");
        m = cJSON_GetObjectItemCaseSensitive(cq, "message");
        if (!m)
            return num(cJSON_GetObjectItemCaseSensitive(cq, "from"), "id");
    }
    return num(cJSON_GetObjectItemCaseSensitive(m, "chat"), "id");
}

static dstate *find_state(fake_dl *d, int64_t id)
{
    for (size_t i = 0; i < d->nst; i++)
        if (d->st[i].id == id)
            return &d->st[i];
    return NULL;
}

static dstate *add_state(fake_dl *d, int64_t id)
{
    if (d->nst == d->capst) {
        d->capst = d->capst ? d->capst * 2 : 64;
        d->st = realloc(d->st, d->capst * sizeof *d->st);
        if (!d->st)
            abort();
    }
    dstate *s = &d->st[d->nst++];
    memset(s, 0, sizeof *s);
    s->id = id;
    return s;
}

static void drop_state(fake_dl *d, int64_t id)
{
    dstate *s = find_state(d, id);
    if (s)
        *s = d->st[--d->nst];
}

/* Under the lock: the first update due whose chat has nothing earlier
 * queued or in flight. Returns its index, or -1 with *wait the seconds
 * until the next retry is due (or a default). */
static long pick(fake_dl *d, double *wait)
{
    fake_tg *ft = d->ft;
    int64_t chats[DL_SCAN_CHATS];
    int nchats = 0;
    double now = mono();
    *wait = 0.5;
    for (size_t i = 0; i < fake__nupdates(ft); i++) {
        const cJSON *u = fake__update(ft, i);
        if (!fake__update_allowed(ft, u)) /* Telegram never keeps those */
            continue;
        int64_t chat = chat_of(u);
        bool blocked = false;
        for (int k = 0; k < nchats && !blocked; k++)
            blocked = chats[k] == chat;
        if (blocked)
            continue;
        if (chat) {
            if (nchats == DL_SCAN_CHATS)
                break;
            chats[nchats++] = chat;
        }
        dstate *s = find_state(d, num(u, "update_id"));
        if (s && s->in_flight)
            continue;
        if (s && s->not_before > now) {
            if (s->not_before - now < *wait)
                *wait = s->not_before - now;
            continue;
        }
        return (long)i;
    }
    return -1;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t e)
{
    (void)a, (void)b, (void)c, (void)e;
    return atomic_load(&((fake_dl *)ud)->stop) ? 1 : 0;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    (void)p, (void)ud;
    return sz * n;
}

/* POST body to url; returns the HTTP status, 0 on a transport failure. */
static long post(fake_dl *d, CURL *h, const char *url, const char *secret, const char *body)
{
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Expect:");
    char sh[400];
    if (secret && *secret) {
        snprintf(sh, sizeof sh, "X-Telegram-Bot-Api-Secret-Token: %s", secret);
        hd = curl_slist_append(hd, sh);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)DL_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, d);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hd);
    return status;
}

/* Where a delivery goes: proxy + the path of url, or url with http://. */
static void target(const fake_dl *d, const char *url, char *out, size_t len)
{
    const char *rest = strstr(url, "://");
    rest = rest ? rest + 3 : url;
    const char *path = strchr(rest, '/');
    if (d->proxy)
        snprintf(out, len, "%s%s", d->proxy, path ? path : "/");
    else
        snprintf(out, len, "http://%s", rest);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    fake_dl *d = w->d;
    fake_tg *ft = d->ft;
    CURL *h = curl_easy_init();
    if (!h)
        abort();
    fake__lock(ft);
    while (!atomic_load(&d->stop) && !fake__stopping(ft)) {
        const char *url = fake__webhook_url(ft);
        int conns = fake__webhook_max_connections(ft);
        if (conns > d->conns)
            conns = d->conns;
        if (!url || w->index >= conns) {
            /* no webhook (or more workers than allowed): sleep apart from
             * the fake's condition, so polling mode pays nothing for us */
            struct timespec ts;
            abs_after(&ts, 1.0);
            fake__wait_on(ft, &d->idle, &ts);
            continue;
        }
        double wait;
        long i = pick(d, &wait);
        if (i < 0) {
            struct timespec ts;
            abs_after(&ts, wait);
            fake__wait(ft, &ts);
            continue;
        }
        const cJSON *u = fake__update(ft, (size_t)i);
        int64_t id = num(u, "update_id");
        dstate *s = find_state(d, id);
        if (!s)
            s = add_state(d, id);
        s->in_flight = true;
        char *body = cJSON_PrintUnformatted(u);
        char to[1200], secret[300];
        target(d, url, to, sizeof to);
        snprintf(secret, sizeof secret, "%s", fake__webhook_secret(ft));
        fake__unlock(ft);

        long status = body ? post(d, h, to, secret, body) : 0;
        free(body);

        fake__lock(ft);
        s = find_state(d, id);
        if (status >= 200 && status < 300) {
            d->delivered++;
            drop_state(d, id);
            fake__remove_update(ft, id);
        } else if (s) {
            d->failed++;
            s->in_flight = false;
            s->attempts++;
            int shift = s->attempts - 1 < 4 ? s->attempts - 1 : 4; /* up to ~10x */
            double delay = d->retry_ms / 1000.0 * (double)(1 << shift);
            if (delay > d->retry_ms * 10 / 1000.0)
                delay = d->retry_ms * 10 / 1000.0;
            s->not_before = mono() + delay;
        }
        fake__broadcast(ft);
    }
    fake__unlock(ft);
    curl_easy_cleanup(h);
    free(w);
    return NULL;
}

fake_dl *fake_dl_start(fake_tg *ft, const fake_tg_opts *o)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fake_dl *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->ft = ft;
    d->proxy = o && o->webhook_proxy ? strdup(o->webhook_proxy) : NULL;
    d->retry_ms = o && o->webhook_retry_ms > 0 ? o->webhook_retry_ms : DL_RETRY_DEFAULT_MS;
    d->conns = o && o->webhook_connections > 0 ? o->webhook_connections : DL_DEFAULT_CONNS;
    if (d->conns > DL_MAX_WORKERS)
        d->conns = DL_MAX_WORKERS;
    pthread_cond_init(&d->idle, NULL);
    atomic_init(&d->stop, 0);
    return d;
}

void fake_dl_webhook_changed(fake_dl *d)
{
    if (!d)
        return;
    int want = fake__webhook_url(d->ft) ? fake__webhook_max_connections(d->ft) : 0;
    if (want > d->conns)
        want = d->conns;
    while (d->nthreads < want) {
        worker *w = malloc(sizeof *w);
        if (!w)
            abort();
        w->d = d;
        w->index = d->nthreads;
        if (pthread_create(&d->th[d->nthreads], NULL, worker_main, w) != 0) {
            free(w);
            break;
        }
        d->nthreads++;
    }
    pthread_cond_broadcast(&d->idle);
}

void fake_dl_stop(fake_dl *d)
{
    if (!d)
        return;
    fake__lock(d->ft);
    atomic_store(&d->stop, 1);
    fake__broadcast(d->ft);
    pthread_cond_broadcast(&d->idle);
    int n = d->nthreads;
    fake__unlock(d->ft);
    for (int i = 0; i < n; i++)
        pthread_join(d->th[i], NULL);
    pthread_cond_destroy(&d->idle);
    free(d->st);
    free(d->proxy);
    free(d);
}

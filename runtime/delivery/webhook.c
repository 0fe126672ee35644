/*
 * webhook.c — the webhook receiver (see webhook.h).
 *
 * Life of a request in the server thread (on_request is called several
 * times per request by libmicrohttpd):
 *   1st call  headers only: path, method, secret and Content-Length are
 *             checked; a failure is answered now (the body is never read).
 *   body      chunks are appended up to max_body (then only counted).
 *   last call the body is checked (a scan, runtime/base/jsonscan.h); a good
 *             update is queued, the connection suspended and the main
 *             loop woken.
 *   resumed   after wh_drain set the verdict: the answer is queued.
 * A request's `wreq` belongs to its connection (freed in on_completed);
 * while queued or suspended only the main loop reads its update, and the
 * verdict crosses threads under the lock.
 */
#include "delivery/webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/log.h"

#define WH_MAX_BODY_DEFAULT ((size_t)1 << 20)
#define WH_TIMEOUT_DEFAULT 10
#define WH_MAX_CONN_DEFAULT 64
#define WH_DEADLINE_DEFAULT 5     /* s: headers and body of one request, in total */
#define WH_PER_ADDR_DEFAULT 20    /* connections from one address at once */
#define WH_SWEEP_MS 200           /* how often deadlines are checked */
#define WH_LOG_EVERY_MS 10000     /* one line per kind of server message this often */
#define WH_LOG_KINDS 16
#define WH_STOP_MS 1000 /* bound on answering parked requests at stop */
#define WH_HEADER_SECRET "X-Telegram-Bot-Api-Secret-Token"

typedef enum wstate { W_READING, W_QUEUED, W_DONE } wstate;

/* One connection, from its accept to its close (the connection-notify
 * callback): the deadline's clock. Listed under the server's lock; the
 * fd is valid while listed (libmicrohttpd notifies the close before it
 * closes the socket, and the notification takes the lock). */
typedef struct wconn {
    struct wconn *prev, *next;
    int fd;
    long since_ms;   /* start of the current request: the accept, or the end
                      * of the previous request on a kept-alive connection */
    bool parked;     /* waiting for the main loop: the bot's time, not the client's */
    bool cut;        /* shut down for its deadline */
} wconn;

/* One kind of libmicrohttpd message (its format string) and its pace. */
typedef struct wh_logkind {
    const char *fmt;
    long last_ms;
    unsigned long held;
} wh_logkind;

typedef struct wreq {
    struct wreq *next;          /* queue link (under the lock) */
    struct MHD_Connection *conn;
    wstate state;
    int status;                 /* verdict once W_DONE */
    char *body;
    size_t len, cap;
    bool too_big;
    /* body[0..len): the update's text once checked; read by the main
     * loop while queued */
} wreq;

struct wh_server {
    wh_config c;
    struct MHD_Daemon *d;
    uint16_t port;
    wh_wake_fn wake;
    void *wake_ud;

    pthread_mutex_t mu;
    pthread_cond_t cv;          /* signalled when a parked request completes */
    wreq *head, *tail;          /* waiting for wh_drain */
    size_t nwaiting;
    size_t nparked;             /* queued or resumed, not yet completed */
    bool stopping;
    wh_stats st;

    wconn *conns;               /* every open connection (under the lock) */
    pthread_t sweeper;          /* shuts down connections past their deadline */
    bool sweeper_started, sweeper_quit;
    pthread_cond_t sweep_cv;
    long cut_logged_ms;         /* when the sweeper last logged, and cuts since */
    unsigned long cut_unlogged;

    pthread_mutex_t logmu;      /* the pace of libmicrohttpd's messages */
    wh_logkind logkinds[WH_LOG_KINDS];
};

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- configuration ------------------------------------------------------- */

static void set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t len, const char *fmt, ...)
{
    if (!err || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

static const char SECRET_ALPHABET[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

int wh_random_secret(char *out, size_t len)
{
    unsigned char raw[WH_SECRET_MAX];
    if (len > sizeof raw)
        len = sizeof raw;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, raw + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    /* 64 symbols: each byte's low 6 bits pick one without bias. */
    for (size_t i = 0; i < len; i++)
        out[i] = SECRET_ALPHABET[raw[i] & 63];
    out[len] = '\0';
    return 0;
}

bool wh_secret_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > WH_SECRET_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!memchr(SECRET_ALPHABET, s[i], sizeof SECRET_ALPHABET - 1))
            return false;
    return true;
}

bool wh_secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Walk all of b whatever a holds: reading a[i % alen] keeps the access
     * pattern the same for any a, and the length difference is folded into
     * the same accumulator instead of returning early. */
    volatile unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < blen; i++) {
        unsigned char x = alen ? (unsigned char)a[i % alen] : 0;
        diff |= (unsigned char)(x ^ (unsigned char)b[i]);
    }
    return diff == 0 && blen > 0;
}

/* "https://host[:port]/path?q" -> "/path" ("/" when there is none). */
static int url_path(const char *url, char *out, size_t len)
{
    const char *p = strstr(url, "://");
    if (!p)
        return -1;
    p += 3;
    const char *slash = strchr(p, '/');
    if (slash == p)
        return -1; /* no host */
    if (!slash) {
        snprintf(out, len, "/");
        return 0;
    }
    size_t n = strcspn(slash, "?#");
    if (n >= len)
        return -1;
    memcpy(out, slash, n);
    out[n] = '\0';
    return 0;
}

/* An optional whole number lo..hi from the environment (def when unset). */
static int env_uint(const char *name, unsigned lo, unsigned hi, unsigned def, unsigned *out,
                    char *err, size_t errlen)
{
    const char *v = getenv(name);
    *out = def;
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || v[0] == '-' || n < lo || n > hi) {
        set_err(err, errlen, "%s=%s is not a whole number %u..%u", name, v, lo, hi);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

int wh_config_from_env(wh_config *c, char *err, size_t errlen)
{
    const char *url = getenv("WEBHOOK_URL");
    if (!url || !*url)
        return 0;
    memset(c, 0, sizeof *c);
    c->max_body = WH_MAX_BODY_DEFAULT;
    c->timeout_s = WH_TIMEOUT_DEFAULT;
    c->max_connections = WH_MAX_CONN_DEFAULT;
    /* Telegram's own ceiling of setWebhook's max_connections is 100 */
    if (env_uint("WEBHOOK_REQUEST_TIMEOUT", 1, 300, WH_DEADLINE_DEFAULT, &c->deadline_s, err,
                 errlen) ||
        env_uint("WEBHOOK_MAX_PER_ADDRESS", 1, 100, WH_PER_ADDR_DEFAULT, &c->max_per_address,
                 err, errlen))
        return -1;
    if (strlen(url) >= sizeof c->url) {
        set_err(err, errlen, "WEBHOOK_URL is longer than %zu bytes", sizeof c->url - 1);
        return -1;
    }
    if (strncmp(url, "https://", 8) != 0) {
        /* Telegram only delivers to HTTPS; TLS is the reverse proxy's job. */
        set_err(err, errlen, "WEBHOOK_URL must start with https:// (Telegram delivers over "
                             "TLS only; terminate it in a reverse proxy in front of "
                             "WEBHOOK_LISTEN)");
        return -1;
    }
    snprintf(c->url, sizeof c->url, "%s", url);
    if (url_path(url, c->path, sizeof c->path) != 0) {
        set_err(err, errlen, "WEBHOOK_URL has no host or an over-long path");
        return -1;
    }
    const char *listen = getenv("WEBHOOK_LISTEN");
    if (!listen || !*listen)
        listen = WH_LISTEN_DEFAULT;
    if (strlen(listen) >= sizeof c->listen) {
        set_err(err, errlen, "WEBHOOK_LISTEN is too long");
        return -1;
    }
    snprintf(c->listen, sizeof c->listen, "%s", listen);
    const char *secret = getenv("WEBHOOK_SECRET");
    if (secret && *secret) {
        if (!wh_secret_valid(secret)) {
            set_err(err, errlen, "WEBHOOK_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -");
            return -1;
        }
        snprintf(c->secret, sizeof c->secret, "%s", secret);
    } else if (wh_random_secret(c->secret, WH_SECRET_RANDOM_LEN) != 0) {
        set_err(err, errlen, "cannot read /dev/urandom for the webhook secret: %s",
                strerror(errno));
        return -1;
    }
    log_add_secret(c->secret);
    return 1;
}

cJSON *wh_set_params(const wh_config *c)
{
    cJSON *p = cJSON_CreateObject();
    cJSON *allowed = p ? cJSON_AddArrayToObject(p, "allowed_updates") : NULL;
    bool ok = allowed && cJSON_AddStringToObject(p, "url", c->url) &&
              cJSON_AddStringToObject(p, "secret_token", c->secret) &&
              cJSON_AddFalseToObject(p, "drop_pending_updates") &&
              /* Telegram's connections stay within the per-address cap */
              cJSON_AddNumberToObject(p, "max_connections",
                                      c->max_per_address ? c->max_per_address
                                                         : WH_PER_ADDR_DEFAULT);
    /* the same kinds the long poll asks for */
    static const char *const kinds[] = {"message", "callback_query"};
    for (size_t i = 0; ok && i < sizeof kinds / sizeof kinds[0]; i++) {
        cJSON *k = cJSON_CreateString(kinds[i]);
        if (!k || !cJSON_AddItemToArray(allowed, k)) {
            cJSON_Delete(k);
            ok = false;
        }
    }
    if (!ok) {
        cJSON_Delete(p);
        return NULL;
    }
    return p;
}

/* ---- the server thread --------------------------------------------------- */

/* libmicrohttpd's messages, at most one line per message kind (its format
 * string) every WH_LOG_EVERY_MS with how many were held back: a flood of
 * refused or cut connections must not flood the log. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    wh_server *s = cls;
    long now = mono_ms();
    unsigned long held = 0;
    bool say = true;
    pthread_mutex_lock(&s->logmu);
    wh_logkind *k = NULL;
    for (int i = 0; i < WH_LOG_KINDS && !k; i++)
        if (s->logkinds[i].fmt == fmt || !s->logkinds[i].fmt)
            k = &s->logkinds[i];
    if (k) {
        if (k->fmt && now - k->last_ms < WH_LOG_EVERY_MS) {
            k->held++;
            say = false;
        } else {
            held = k->held;
            k->held = 0;
            k->fmt = fmt;
            k->last_ms = now;
        }
    }
    pthread_mutex_unlock(&s->logmu);
    if (!say)
        return;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (held)
        log_warn("webhook", "http server: %s (and %lu more like it in the last %d s)", buf,
                 held, WH_LOG_EVERY_MS / 1000);
    else
        log_warn("webhook", "http server: %s", buf);
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static void count(wh_server *s, unsigned long *ctr)
{
    pthread_mutex_lock(&s->mu);
    (*ctr)++;
    pthread_mutex_unlock(&s->mu);
}

/* Whether a Content-Type is application/json (any case, parameters such as
 * "; charset=utf-8" allowed): what Telegram sends. */
static bool is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    ct += sizeof want - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* Headers only: the checks that need no body. Returns 0 or the status. */
static unsigned check_headers(wh_server *s, struct MHD_Connection *conn, const char *url,
                              const char *method)
{
    if (strcmp(url, s->c.path) != 0) {
        count(s, &s->st.other);
        return MHD_HTTP_NOT_FOUND;
    }
    if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
        count(s, &s->st.other);
        return MHD_HTTP_METHOD_NOT_ALLOWED;
    }
    const char *offered = NULL;
    size_t olen = 0;
    if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, WH_HEADER_SECRET,
                                      sizeof WH_HEADER_SECRET - 1, &offered, &olen) != MHD_YES)
        offered = NULL;
    if (!offered || !wh_secret_equal(offered, olen, s->c.secret, strlen(s->c.secret))) {
        /* the offered value is not logged: it may be a near miss of the real one */
        pthread_mutex_lock(&s->mu);
        unsigned long n = ++s->st.unauthorized;
        pthread_mutex_unlock(&s->mu);
        if (n <= 10 || n % 1000 == 0)
            log_warn("webhook", "request %s the secret token header answered 401 (%lu so far)",
                     offered ? "with a wrong value in" : "without", n);
        return MHD_HTTP_UNAUTHORIZED;
    }
    if (!is_json_type(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_CONTENT_TYPE))) {
        pthread_mutex_lock(&s->mu);
        unsigned long n = ++s->st.media_type;
        pthread_mutex_unlock(&s->mu);
        if (n <= 10 || n % 1000 == 0)
            log_warn("webhook", "a request whose Content-Type is not application/json "
                     "answered 415 (%lu so far)", n);
        return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || *end || n > s->c.max_body) {
            count(s, &s->st.too_large);
            return MHD_HTTP_CONTENT_TOO_LARGE;
        }
    }
    return 0;
}

/* The connection's deadline record (NULL when it could not be made). */
static wconn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

/* Whether the body is an update: one well-formed JSON object with an
 * integral update_id (checked by a scan; the inbox parses it). */
static bool is_update(const wreq *rq)
{
    jscan_span id;
    int64_t v;
    return rq->len && jscan_member(rq->body, rq->len, "update_id", &id) == 1 &&
           jscan_i64(id, &v) == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    wh_server *s = cls;
    wreq *rq = *con_cls;
    if (!rq) {
        unsigned st = check_headers(s, conn, url, method);
        if (st)
            return answer(conn, st, st == MHD_HTTP_UNAUTHORIZED ? "Unauthorized\n"
                                    : st == MHD_HTTP_NOT_FOUND ? "Not Found\n"
                                    : st == MHD_HTTP_UNSUPPORTED_MEDIA_TYPE
                                        ? "Unsupported Media Type: expected application/json\n"
                                    : st == MHD_HTTP_METHOD_NOT_ALLOWED ? "Method Not Allowed\n"
                                    : "Request Entity Too Large\n");
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        rq->conn = conn;
        *con_cls = rq;
        return MHD_YES;
    }
    if (rq->state == W_READING && *upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->too_big || n > s->c.max_body - rq->len) {
            rq->too_big = true; /* chunked and over the cap: drain, answer 413 */
            return MHD_YES;
        }
        if (rq->len + n + 1 > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 4096;
            while (cap < rq->len + n + 1)
                cap *= 2;
            if (cap > s->c.max_body + 1)
                cap = s->c.max_body + 1;
            char *b = realloc(rq->body, cap);
            if (!b)
                return MHD_NO;
            rq->body = b;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload_data, n);
        rq->len += n;
        return MHD_YES;
    }
    if (rq->state == W_READING) {
        if (rq->too_big) {
            count(s, &s->st.too_large);
            return answer(conn, MHD_HTTP_CONTENT_TOO_LARGE, "Request Entity Too Large\n");
        }
        if (!is_update(rq)) {
            pthread_mutex_lock(&s->mu);
            unsigned long nb = ++s->st.bad_request;
            pthread_mutex_unlock(&s->mu);
            if (nb <= 10 || nb % 1000 == 0)
                log_warn("webhook", "a request body that is not an update (JSON object with "
                         "an integer update_id) answered 400 (%lu so far)", nb);
            return answer(conn, MHD_HTTP_BAD_REQUEST, "Bad Request: expected a JSON Update\n");
        }
        pthread_mutex_lock(&s->mu);
        if (s->stopping) {
            s->st.retried++;
            pthread_mutex_unlock(&s->mu);
            return answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "Service Unavailable\n");
        }
        rq->state = W_QUEUED;
        wconn *wc = conn_of(conn);
        if (wc)
            wc->parked = true; /* the deadline is the client's, not the bot's */
        if (s->tail)
            s->tail->next = rq;
        else
            s->head = rq;
        s->tail = rq;
        s->nwaiting++;
        s->nparked++;
        /* suspend before unlocking: wh_drain may resume it right after */
        MHD_suspend_connection(conn);
        pthread_mutex_unlock(&s->mu);
        if (s->wake)
            s->wake(s->wake_ud);
        return MHD_YES;
    }
    /* resumed */
    pthread_mutex_lock(&s->mu);
    int status = rq->status;
    pthread_mutex_unlock(&s->mu);
    return status == MHD_HTTP_OK ? answer(conn, MHD_HTTP_OK, "")
                                 : answer(conn, (unsigned)status, "Service Unavailable\n");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    wh_server *s = cls;
    /* a kept-alive connection's next request gets a deadline of its own */
    wconn *wc = conn_of(conn);
    if (wc) {
        pthread_mutex_lock(&s->mu);
        wc->since_ms = mono_ms();
        wc->parked = false;
        pthread_mutex_unlock(&s->mu);
    }
    wreq *rq = *con_cls;
    if (!rq)
        return;
    if (rq->state != W_READING) {
        pthread_mutex_lock(&s->mu);
        s->nparked--;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    free(rq->body);
    free(rq);
    *con_cls = NULL;
}

/* Connection start and close (MHD_OPTION_NOTIFY_CONNECTION): the record
 * the sweeper checks. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    wh_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *i =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        wconn *wc = i ? calloc(1, sizeof *wc) : NULL;
        *socket_context = wc;
        if (!wc)
            return; /* untracked: only the idle timeout applies to it */
        wc->fd = i->connect_fd;
        wc->since_ms = mono_ms();
        pthread_mutex_lock(&s->mu);
        wc->next = s->conns;
        if (s->conns)
            s->conns->prev = wc;
        s->conns = wc;
        pthread_mutex_unlock(&s->mu);
        return;
    }
    wconn *wc = *socket_context;
    if (!wc)
        return;
    /* unlisted before libmicrohttpd closes the fd: the sweeper never shuts
     * down a descriptor that was reused */
    pthread_mutex_lock(&s->mu);
    if (wc->prev)
        wc->prev->next = wc->next;
    else
        s->conns = wc->next;
    if (wc->next)
        wc->next->prev = wc->prev;
    pthread_mutex_unlock(&s->mu);
    free(wc);
    *socket_context = NULL;
}

/* Shuts down (SHUT_RDWR) every connection whose request has not fully
 * arrived within the deadline; libmicrohttpd then sees the end of the
 * stream and closes it, freeing its slot. */
static void *sweeper_main(void *arg)
{
    wh_server *s = arg;
    long limit = (long)s->c.deadline_s * 1000;
    pthread_mutex_lock(&s->mu);
    while (!s->sweeper_quit) {
        long now = mono_ms();
        unsigned long cut = 0;
        for (wconn *wc = s->conns; wc; wc = wc->next) {
            if (wc->parked || wc->cut || now - wc->since_ms < limit)
                continue;
            wc->cut = true;
            shutdown(wc->fd, SHUT_RDWR);
            cut++;
            s->st.cut++;
        }
        /* one line at the first cut, then at most one per WH_LOG_EVERY_MS */
        s->cut_unlogged += cut;
        if (s->cut_unlogged && (s->st.cut == s->cut_unlogged ||
                                now - s->cut_logged_ms >= WH_LOG_EVERY_MS)) {
            log_warn("webhook", "%lu connection(s) closed: no complete request within %u s "
                     "(WEBHOOK_REQUEST_TIMEOUT; %lu so far)", s->cut_unlogged, s->c.deadline_s,
                     s->st.cut);
            s->cut_unlogged = 0;
            s->cut_logged_ms = now;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += WH_SWEEP_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->sweep_cv, &s->mu, &until);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------- */

/* host:port or [v6]:port (a bare port means 127.0.0.1). */
static int resolve_listen(const char *listen, struct sockaddr_storage *ss, bool *v6, char *err,
                          size_t errlen)
{
    char host[256];
    const char *port;
    const char *colon = strrchr(listen, ':');
    if (listen[0] == '[') {
        const char *close_b = strchr(listen, ']');
        if (!close_b || close_b[1] != ':' || (size_t)(close_b - listen - 1) >= sizeof host) {
            set_err(err, errlen, "WEBHOOK_LISTEN=%s is not host:port", listen);
            return -1;
        }
        memcpy(host, listen + 1, (size_t)(close_b - listen - 1));
        host[close_b - listen - 1] = '\0';
        port = close_b + 2;
    } else if (!colon) {
        snprintf(host, sizeof host, "127.0.0.1");
        port = listen;
    } else {
        if ((size_t)(colon - listen) >= sizeof host) {
            set_err(err, errlen, "WEBHOOK_LISTEN host is too long");
            return -1;
        }
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        port = colon + 1;
    }
    char *end;
    long pn = strtol(port, &end, 10);
    if (!*port || *end || pn < 0 || pn > 65535) {
        set_err(err, errlen, "WEBHOOK_LISTEN=%s has no valid port", listen);
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0 || !res) {
        set_err(err, errlen, "WEBHOOK_LISTEN=%s: %s", listen, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

wh_server *wh_new(const wh_config *c, wh_wake_fn wake, void *wake_ud, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    bool v6 = false;
    if (resolve_listen(c->listen, &ss, &v6, err, errlen) != 0)
        return NULL;
    if (!wh_secret_valid(c->secret)) {
        set_err(err, errlen, "the webhook secret is not a valid secret_token");
        return NULL;
    }
    wh_server *s = calloc(1, sizeof *s);
    if (!s) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    s->c = *c;
    if (!s->c.max_body)
        s->c.max_body = WH_MAX_BODY_DEFAULT;
    if (!s->c.timeout_s)
        s->c.timeout_s = WH_TIMEOUT_DEFAULT;
    if (!s->c.max_connections)
        s->c.max_connections = WH_MAX_CONN_DEFAULT;
    if (!s->c.deadline_s)
        s->c.deadline_s = WH_DEADLINE_DEFAULT;
    if (!s->c.max_per_address)
        s->c.max_per_address = WH_PER_ADDR_DEFAULT;
    if (s->c.max_per_address > s->c.max_connections)
        s->c.max_per_address = s->c.max_connections;
    if (!s->c.path[0])
        snprintf(s->c.path, sizeof s->c.path, "/");
    s->wake = wake;
    s->wake_ud = wake_ud;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->sweep_cv, NULL);
    pthread_mutex_init(&s->logmu, NULL);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, s->c.timeout_s,
                            MHD_OPTION_CONNECTION_LIMIT, s->c.max_connections,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->c.max_per_address,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)128,
                            MHD_OPTION_END);
    if (!s->d) {
        set_err(err, errlen, "cannot listen on %s (WEBHOOK_LISTEN): address in use or not "
                             "local", c->listen);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        pthread_cond_destroy(&s->sweep_cv);
        pthread_mutex_destroy(&s->logmu);
        free(s);
        return NULL;
    }
    if (pthread_create(&s->sweeper, NULL, sweeper_main, s) != 0) {
        set_err(err, errlen, "cannot start the webhook's deadline thread");
        MHD_stop_daemon(s->d);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        pthread_cond_destroy(&s->sweep_cv);
        pthread_mutex_destroy(&s->logmu);
        free(s);
        return NULL;
    }
    s->sweeper_started = true;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return s;
}

void wh_free(wh_server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    s->sweeper_quit = true;
    pthread_cond_broadcast(&s->sweep_cv);
    pthread_mutex_unlock(&s->mu);
    if (s->sweeper_started)
        pthread_join(s->sweeper, NULL);
    pthread_mutex_lock(&s->mu);
    /* every parked request must be resumed before the daemon stops */
    for (wreq *rq = s->head, *next; rq; rq = next) {
        next = rq->next;
        rq->next = NULL;
        rq->status = MHD_HTTP_SERVICE_UNAVAILABLE;
        rq->state = W_DONE;
        s->st.retried++;
        MHD_resume_connection(rq->conn);
    }
    s->head = s->tail = NULL;
    s->nwaiting = 0;
    /* give the resumed requests up to WH_STOP_MS to get their answers out */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WH_STOP_MS / 1000;
    while (s->nparked > 0)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0)
            break;
    pthread_mutex_unlock(&s->mu);
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->sweep_cv);
    pthread_mutex_destroy(&s->logmu);
    free(s);
}

uint16_t wh_port(const wh_server *s)
{
    return s->port;
}

int wh_drain(wh_server *s, int max, wh_accept_fn accept, void *ud)
{
    int n = 0;
    while (max <= 0 || n < max) {
        pthread_mutex_lock(&s->mu);
        wreq *rq = s->head;
        if (rq) {
            s->head = rq->next;
            if (!s->head)
                s->tail = NULL;
            rq->next = NULL;
            s->nwaiting--;
        }
        pthread_mutex_unlock(&s->mu);
        if (!rq)
            break;
        /* the server thread leaves a queued request alone until resumed */
        int status = accept(rq->body, rq->len, ud) == 0 ? MHD_HTTP_OK
                                                        : MHD_HTTP_SERVICE_UNAVAILABLE;
        pthread_mutex_lock(&s->mu);
        rq->status = status;
        rq->state = W_DONE;
        if (status == MHD_HTTP_OK)
            s->st.accepted++;
        else
            s->st.retried++;
        MHD_resume_connection(rq->conn);
        pthread_mutex_unlock(&s->mu);
        n++;
    }
    return n;
}

int wh_drain_batch(wh_server *s, int max, wh_batch_fn accept_batch, void *ud)
{
    pthread_mutex_lock(&s->mu);
    wreq *first = s->head, *last = NULL;
    int n = 0;
    for (wreq *rq = first; rq && (max <= 0 || n < max); rq = rq->next) {
        last = rq;
        n++;
    }
    if (last) {
        s->head = last->next;
        if (!s->head)
            s->tail = NULL;
        last->next = NULL;
        s->nwaiting -= (size_t)n;
    }
    pthread_mutex_unlock(&s->mu);
    if (!n)
        return 0;
    /* the texts stay owned by their requests */
    jscan_span *texts = malloc((size_t)n * sizeof *texts);
    int k = 0;
    for (wreq *rq = first; texts && rq; rq = rq->next)
        texts[k++] = (jscan_span){rq->body, rq->body + rq->len};
    int status = texts && accept_batch(texts, n, ud) == 0 ? MHD_HTTP_OK
                                                          : MHD_HTTP_SERVICE_UNAVAILABLE;
    free(texts);
    pthread_mutex_lock(&s->mu);
    for (wreq *rq = first, *next; rq; rq = next) {
        next = rq->next;
        rq->next = NULL;
        rq->status = status;
        rq->state = W_DONE;
        if (status == MHD_HTTP_OK)
            s->st.accepted++;
        else
            s->st.retried++;
        MHD_resume_connection(rq->conn);
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t wh_waiting(wh_server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nwaiting;
    pthread_mutex_unlock(&s->mu);
    return n;
}

wh_stats wh_get_stats(wh_server *s)
{
    pthread_mutex_lock(&s->mu);
    wh_stats st = s->st;
    pthread_mutex_unlock(&s->mu);
    return st;
}

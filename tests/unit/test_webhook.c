/*
 * test_webhook.c — the webhook receiver over real loopback HTTP (libcurl
 * easy handles as Telegram, runtime/delivery/webhook.c as the bot's server).
 *
 * A "main loop" thread stands in for the bot: it waits for the wake call
 * and runs wh_drain, recording every update it accepted. Requests that fail
 * a check must never reach it.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "../fake_tg/fake_tg.h"
#include "base/log.h"
#include "delivery/webhook.h"

#define SECRET "Test_Secret-0123456789abcdefghijklmnopqrstuvwxyz"
#define PATH "/tg/hook"

/* ---- the stand-in main loop --------------------------------------------- */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static bool g_woken, g_quit;
static int64_t g_ids[64];
static int g_nids;
static int g_verdict;        /* what accept returns */
static int g_accept_delay_ms;
static volatile int g_committed; /* set at the end of accept */
static int g_refuse;             /* refuse (503) this many more first */

static void wake(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&g_mu);
    g_woken = true;
    pthread_cond_signal(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The update_id of an update's text, -1 when it has none. */
static int64_t update_id_of(const char *json, size_t len)
{
    jscan_span v;
    int64_t id;
    if (jscan_member(json, len, "update_id", &v) != 1 || jscan_i64(v, &id) != 0)
        return -1;
    return id;
}

static int accept_update(const char *json, size_t len, void *ud)
{
    (void)ud;
    if (g_accept_delay_ms)
        sleep_ms(g_accept_delay_ms);
    if (g_nids < 64)
        g_ids[g_nids++] = update_id_of(json, len);
    g_committed = 1;
    if (g_refuse > 0) {
        g_refuse--;
        return -1;
    }
    return g_verdict;
}

static void *loop_main(void *arg)
{
    wh_server *s = arg;
    pthread_mutex_lock(&g_mu);
    while (!g_quit) {
        while (!g_woken && !g_quit)
            pthread_cond_wait(&g_cv, &g_mu);
        g_woken = false;
        pthread_mutex_unlock(&g_mu);
        wh_drain(s, 0, accept_update, NULL);
        pthread_mutex_lock(&g_mu);
    }
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

typedef struct fixture {
    wh_server *s;
    pthread_t th;
    char url[128];
} fixture;

static unsigned g_deadline_s; /* the next start's deadline (0: the default) */

static void start(fixture *f, size_t max_body, bool with_loop)
{
    wh_config c;
    memset(&c, 0, sizeof c);
    c.deadline_s = g_deadline_s;
    snprintf(c.url, sizeof c.url, "https://bot.example" PATH);
    snprintf(c.path, sizeof c.path, PATH);
    snprintf(c.listen, sizeof c.listen, "127.0.0.1:0");
    snprintf(c.secret, sizeof c.secret, SECRET);
    c.max_body = max_body;
    c.timeout_s = 2;
    c.max_per_address = 64; /* every client here is Telegram, from 127.0.0.1 */
    char err[256];
    f->s = wh_new(&c, wake, NULL, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f->s);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u" PATH, (unsigned)wh_port(f->s));
    g_nids = 0;
    g_verdict = 0;
    g_accept_delay_ms = 0;
    g_quit = g_woken = false;
    if (with_loop)
        pthread_create(&f->th, NULL, loop_main, f->s);
    else
        f->th = 0;
}

static void stop(fixture *f)
{
    if (f->th) {
        pthread_mutex_lock(&g_mu);
        g_quit = true;
        pthread_cond_signal(&g_cv);
        pthread_mutex_unlock(&g_mu);
        pthread_join(f->th, NULL);
    }
    wh_free(f->s);
}

/* ---- the client ------------------------------------------------------------ */

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

/* One request; returns the HTTP status (0 on a transport error). secret NULL
 * = no header; chunked sends the body without Content-Length; ctype the
 * Content-Type header's line ("Content-Type:" alone: none at all). */
static long request_ct(const char *url, const char *method, const char *secret,
                       const char *body, size_t len, bool chunked, const char *ctype)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, ctype);
    hd = curl_slist_append(hd, "Expect:");
    char sh[512];
    if (secret) {
        snprintf(sh, sizeof sh, "X-Telegram-Bot-Api-Secret-Token: %s", secret);
        hd = curl_slist_append(hd, sh);
    }
    if (chunked)
        hd = curl_slist_append(hd, "Transfer-Encoding: chunked");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        if (!chunked)
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return status;
}

static long request(const char *url, const char *method, const char *secret, const char *body,
                    size_t len, bool chunked)
{
    return request_ct(url, method, secret, body, len, chunked, "Content-Type: application/json");
}

static long post(const char *url, const char *secret, const char *body)
{
    return request(url, "POST", secret, body, strlen(body), false);
}

#define UPDATE "{\"update_id\":870000001,\"message\":{\"message_id\":1,\"date\":1,\"chat\":{\"id\":5,\"type\":\"private\"},\"text\":\"hi\"}}"

/* ---- tests ---------------------------------------------------------------------- */

static void test_secret_equal(void)
{
    const char *s = SECRET;
    size_t n = strlen(s);
    CU_ASSERT_TRUE(wh_secret_equal(s, n, s, n));
    char other[128];
    snprintf(other, sizeof other, "%s", s);
    other[0] ^= 1; /* differs at the first byte */
    CU_ASSERT_FALSE(wh_secret_equal(other, n, s, n));
    snprintf(other, sizeof other, "%s", s);
    other[n - 1] ^= 1; /* at the last */
    CU_ASSERT_FALSE(wh_secret_equal(other, n, s, n));
    CU_ASSERT_FALSE(wh_secret_equal(s, n - 1, s, n)); /* a prefix */
    snprintf(other, sizeof other, "%sx", s);
    CU_ASSERT_FALSE(wh_secret_equal(other, n + 1, s, n)); /* longer */
    /* a value that repeats the secret's prefix cyclically is no match */
    CU_ASSERT_FALSE(wh_secret_equal("Test", 4, "TestTest", 8));
    CU_ASSERT_FALSE(wh_secret_equal("", 0, s, n));
    CU_ASSERT_FALSE(wh_secret_equal("", 0, "", 0)); /* no secret never matches */
}

static void test_random_secret(void)
{
    char a[WH_SECRET_RANDOM_LEN + 1], b[WH_SECRET_RANDOM_LEN + 1];
    CU_ASSERT_EQUAL(wh_random_secret(a, WH_SECRET_RANDOM_LEN), 0);
    CU_ASSERT_EQUAL(wh_random_secret(b, WH_SECRET_RANDOM_LEN), 0);
    CU_ASSERT_EQUAL(strlen(a), WH_SECRET_RANDOM_LEN);
    CU_ASSERT_TRUE(wh_secret_valid(a));
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_FALSE(wh_secret_valid(""));
    CU_ASSERT_FALSE(wh_secret_valid("has space"));
    CU_ASSERT_FALSE(wh_secret_valid("semi;colon"));
}

static void test_config(void)
{
    wh_config c;
    char err[256];
    unsetenv("WEBHOOK_URL");
    unsetenv("WEBHOOK_LISTEN");
    unsetenv("WEBHOOK_SECRET");
    CU_ASSERT_EQUAL(wh_config_from_env(&c, err, sizeof err), 0);
    setenv("WEBHOOK_URL", "http://bot.example/hook", 1);
    CU_ASSERT_EQUAL(wh_config_from_env(&c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "https://"));
    setenv("WEBHOOK_URL", "https://bot.example:8443/tg/hook?x=1", 1);
    CU_ASSERT_EQUAL(wh_config_from_env(&c, err, sizeof err), 1);
    CU_ASSERT_STRING_EQUAL(c.path, "/tg/hook");
    CU_ASSERT_STRING_EQUAL(c.listen, "127.0.0.1:8080");
    CU_ASSERT_EQUAL(strlen(c.secret), WH_SECRET_RANDOM_LEN);
    CU_ASSERT_EQUAL(c.max_body, (size_t)1 << 20);
    setenv("WEBHOOK_URL", "https://bot.example", 1);
    setenv("WEBHOOK_LISTEN", "0.0.0.0:9000", 1);
    setenv("WEBHOOK_SECRET", "bad secret!", 1);
    CU_ASSERT_EQUAL(wh_config_from_env(&c, err, sizeof err), -1);
    setenv("WEBHOOK_SECRET", "abc_DEF-123", 1);
    CU_ASSERT_EQUAL(wh_config_from_env(&c, err, sizeof err), 1);
    CU_ASSERT_STRING_EQUAL(c.path, "/");
    CU_ASSERT_STRING_EQUAL(c.listen, "0.0.0.0:9000");
    CU_ASSERT_STRING_EQUAL(c.secret, "abc_DEF-123");

    cJSON *p = wh_set_params(&c);
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(p, "url")), "https://bot.example");
    CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(p, "secret_token")), "abc_DEF-123");
    CU_ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(p, "drop_pending_updates")));
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(p, "allowed_updates")), 2);
    CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "max_connections")), 20);
    cJSON_Delete(p);
    CU_ASSERT_EQUAL(c.deadline_s, 5);
    CU_ASSERT_EQUAL(c.max_per_address, 20);
    setenv("WEBHOOK_REQUEST_TIMEOUT", "0", 1);
    CU_ASSERT_EQUAL(wh_config_from_env(&c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "WEBHOOK_REQUEST_TIMEOUT"));
    setenv("WEBHOOK_REQUEST_TIMEOUT", "3", 1);
    setenv("WEBHOOK_MAX_PER_ADDRESS", "101", 1);
    CU_ASSERT_EQUAL(wh_config_from_env(&c, err, sizeof err), -1);
    setenv("WEBHOOK_MAX_PER_ADDRESS", "8", 1);
    CU_ASSERT_EQUAL(wh_config_from_env(&c, err, sizeof err), 1);
    CU_ASSERT_EQUAL(c.deadline_s, 3);
    CU_ASSERT_EQUAL(c.max_per_address, 8);
    unsetenv("WEBHOOK_REQUEST_TIMEOUT");
    unsetenv("WEBHOOK_MAX_PER_ADDRESS");

    /* a listen address that cannot be bound is an error, not a crash */
    c.listen[0] = '\0';
    snprintf(c.listen, sizeof c.listen, "127.0.0.1:notaport");
    CU_ASSERT_PTR_NULL(wh_new(&c, wake, NULL, err, sizeof err));
    unsetenv("WEBHOOK_URL");
    unsetenv("WEBHOOK_LISTEN");
    unsetenv("WEBHOOK_SECRET");
}

static void test_accepts_update(void)
{
    fixture f;
    start(&f, 0, true);
    g_accept_delay_ms = 200; /* a slow commit: 200 must wait for it */
    g_committed = 0;
    CU_ASSERT_EQUAL(post(f.url, SECRET, UPDATE), 200);
    CU_ASSERT_EQUAL(g_committed, 1);
    CU_ASSERT_EQUAL(g_nids, 1);
    CU_ASSERT_EQUAL(g_ids[0], 870000001);
    g_accept_delay_ms = 0;
    g_verdict = -1; /* the main loop could not take it: Telegram retries */
    CU_ASSERT_EQUAL(post(f.url, SECRET, UPDATE), 503);
    wh_stats st = wh_get_stats(f.s);
    CU_ASSERT_EQUAL(st.accepted, 1);
    CU_ASSERT_EQUAL(st.retried, 1);
    stop(&f);
}

static void test_rejections(void)
{
    fixture f;
    start(&f, 1024, true);
    char wrong[] = SECRET;
    wrong[sizeof wrong - 2] ^= 1;
    CU_ASSERT_EQUAL(post(f.url, NULL, UPDATE), 401);
    CU_ASSERT_EQUAL(post(f.url, wrong, UPDATE), 401);
    CU_ASSERT_EQUAL(post(f.url, "Test_Secret", UPDATE), 401);
    CU_ASSERT_EQUAL(post(f.url, "", UPDATE), 401);

    char *big = malloc(4096);
    memset(big, ' ', 4095);
    memcpy(big, "{\"update_id\":1,\"x\":\"", 20);
    big[4093] = '"';
    big[4094] = '}';
    big[4095] = '\0';
    CU_ASSERT_EQUAL(request(f.url, "POST", SECRET, big, 4095, false), 413);
    CU_ASSERT_EQUAL(request(f.url, "POST", SECRET, big, 4095, true), 413); /* no Content-Length */
    free(big);

    CU_ASSERT_EQUAL(post(f.url, SECRET, "not json"), 400);
    CU_ASSERT_EQUAL(post(f.url, SECRET, "[1,2]"), 400);
    CU_ASSERT_EQUAL(post(f.url, SECRET, "{\"message\":{}}"), 400);
    CU_ASSERT_EQUAL(post(f.url, SECRET, "{\"update_id\":\"7\"}"), 400);
    CU_ASSERT_EQUAL(post(f.url, SECRET, ""), 400);
    CU_ASSERT_EQUAL(post(f.url, SECRET, "{\"update_id\":1.5}"), 400);
    CU_ASSERT_EQUAL(post(f.url, SECRET, "{\"update_id\":1} {}"), 400);

    CU_ASSERT_EQUAL(request(f.url, "GET", SECRET, NULL, 0, false), 405);
    CU_ASSERT_EQUAL(request(f.url, "PUT", SECRET, UPDATE, strlen(UPDATE), false), 405);
    char other[160];
    snprintf(other, sizeof other, "http://127.0.0.1:%u/other", (unsigned)wh_port(f.s));
    CU_ASSERT_EQUAL(post(other, SECRET, UPDATE), 404);

    CU_ASSERT_EQUAL(g_nids, 0); /* none of them reached the bot */
    /* a good one still goes through on the same server */
    CU_ASSERT_EQUAL(post(f.url, SECRET, UPDATE), 200);
    CU_ASSERT_EQUAL(g_nids, 1);
    wh_stats st = wh_get_stats(f.s);
    CU_ASSERT_EQUAL(st.unauthorized, 4);
    CU_ASSERT_EQUAL(st.too_large, 2);
    CU_ASSERT_EQUAL(st.bad_request, 7);
    CU_ASSERT_EQUAL(st.other, 3);
    stop(&f);
}

/* Telegram sends application/json: any other Content-Type (or none) is
 * refused with 415 before the body is read, after the secret check. */
static void test_content_type(void)
{
    fixture f;
    start(&f, 1024, true);
    size_t n = strlen(UPDATE);
    CU_ASSERT_EQUAL(request_ct(f.url, "POST", SECRET, UPDATE, n, false, "Content-Type: text/plain"),
                    415);
    CU_ASSERT_EQUAL(request_ct(f.url, "POST", SECRET, UPDATE, n, false, "Content-Type:"), 415);
    CU_ASSERT_EQUAL(request_ct(f.url, "POST", SECRET, UPDATE, n, false,
                               "Content-Type: application/x-www-form-urlencoded"), 415);
    CU_ASSERT_EQUAL(request_ct(f.url, "POST", SECRET, UPDATE, n, false,
                               "Content-Type: application/jsonp"), 415);
    /* the secret is checked first: a stranger learns nothing more */
    CU_ASSERT_EQUAL(request_ct(f.url, "POST", NULL, UPDATE, n, false, "Content-Type: text/plain"),
                    401);
    CU_ASSERT_EQUAL(g_nids, 0);
    CU_ASSERT_EQUAL(request_ct(f.url, "POST", SECRET, UPDATE, n, false,
                               "Content-Type: Application/JSON; charset=utf-8"), 200);
    CU_ASSERT_EQUAL(g_nids, 1);
    CU_ASSERT_EQUAL(wh_get_stats(f.s).media_type, 4);
    stop(&f);
}

/* A raw connection to the server that sends `what` (may be ""); -1 on
 * failure. */
static int raw_connect(uint16_t port, const char *what)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        send(fd, what, strlen(what), MSG_NOSIGNAL) != (ssize_t)strlen(what)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Milliseconds until the server closes fd (reads and drops what comes), up
 * to max_ms (then max_ms). */
static long ms_until_closed(int fd, long max_ms)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long el = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= max_ms)
            return max_ms;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            char b[256];
            if (recv(fd, b, sizeof b, 0) <= 0)
                return el;
        }
    }
}

/* Slow clients: a connection whose request has not fully arrived within
 * the deadline (1 s here) is shut down although it keeps sending (the idle
 * timeout, 2 s, never fires), and so is one that sends nothing; a request
 * parked for the bot is not cut, whatever the time it waits. */
static void test_deadline(void)
{
    fixture f;
    g_deadline_s = 1;
    start(&f, 0, false); /* no loop: a good update stays parked */
    g_deadline_s = 0;
    int slow = raw_connect(wh_port(f.s), "POST " PATH " HTTP/1.1\r\nHost: x\r\nX-A: ");
    int idle = raw_connect(wh_port(f.s), "");
    CU_ASSERT_FATAL(slow >= 0 && idle >= 0);
    /* a byte every 300 ms: under the idle timeout, not the deadline */
    long lived = 0;
    for (int i = 0; i < 20 && lived == 0; i++) {
        sleep_ms(300);
        if (send(slow, "a", 1, MSG_NOSIGNAL) != 1 || ms_until_closed(slow, 1) < 1)
            lived = (i + 1) * 300;
    }
    CU_ASSERT(lived >= 900 && lived <= 2400);
    CU_ASSERT(ms_until_closed(idle, 3000) < 3000);
    close(slow);
    close(idle);
    CU_ASSERT(wh_get_stats(f.s).cut >= 2);
    /* parked: waits past the deadline with no answer and no cut */
    char hdr[1024];
    snprintf(hdr, sizeof hdr,
             "POST " PATH " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "X-Telegram-Bot-Api-Secret-Token: " SECRET "\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(UPDATE), UPDATE);
    int parked = raw_connect(wh_port(f.s), hdr);
    CU_ASSERT_FATAL(parked >= 0);
    CU_ASSERT_EQUAL(ms_until_closed(parked, 2500), 2500);
    CU_ASSERT_EQUAL(wh_waiting(f.s), 1);
    close(parked);
    stop(&f);
}

/* The offered value of a wrong secret header never reaches the log; nor
 * does the real secret. */
static void test_secret_never_logged(void)
{
    char path[] = "/tmp/test_webhook_log_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    log_set_level(LOG_DEBUG);
    log_add_secret(SECRET);

    fixture f;
    start(&f, 0, true);
    CU_ASSERT_EQUAL(post(f.url, "Offered_Guess_42", UPDATE), 401);
    CU_ASSERT_EQUAL(post(f.url, SECRET, "nope"), 400);
    log_msg(LOG_INFO, "test", "a careless line: %s", SECRET);
    stop(&f);

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    log_set_level(LOG_INFO);
    char buf[65536];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    CU_ASSERT_FATAL(n > 0);
    buf[n] = '\0';
    CU_ASSERT_PTR_NULL(strstr(buf, "Offered_Guess_42"));
    CU_ASSERT_PTR_NULL(strstr(buf, SECRET));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "401"));
}

typedef struct bg_post {
    const char *url;
    long status;
} bg_post;

static void *bg_post_main(void *arg)
{
    bg_post *b = arg;
    b->status = post(b->url, SECRET, UPDATE);
    return NULL;
}

/* Requests parked for a main loop that never drains them get 503 when the
 * server stops: nothing is answered 200 that the bot did not take. */
static void test_free_answers_waiting(void)
{
    fixture f;
    start(&f, 0, false);
    bg_post b[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        b[i].url = f.url;
        b[i].status = -1;
        pthread_create(&th[i], NULL, bg_post_main, &b[i]);
    }
    for (int i = 0; i < 500 && wh_waiting(f.s) < 3; i++)
        sleep_ms(10);
    CU_ASSERT_EQUAL(wh_waiting(f.s), 3);
    stop(&f);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(b[i].status, 503);
    }
    CU_ASSERT_EQUAL(g_nids, 0);
}

static int g_batches, g_batch_size;

static int accept_batch(const jscan_span *updates, int n, void *ud)
{
    (void)ud;
    g_batches++;
    g_batch_size = n;
    for (int i = 0; i < n; i++)
        if (update_id_of(updates[i].p, (size_t)(updates[i].end - updates[i].p)) < 0)
            return -1;
    return g_verdict;
}

/* Parked requests go to the main loop as one array (one commit), and each
 * gets the batch's verdict. */
static void test_drain_batch(void)
{
    fixture f;
    start(&f, 0, false);
    enum { N = 5 };
    bg_post b[N];
    pthread_t th[N];
    for (int round = 0; round < 2; round++) {
        g_verdict = round == 0 ? 0 : -1;
        for (int i = 0; i < N; i++) {
            b[i].url = f.url;
            b[i].status = -1;
            pthread_create(&th[i], NULL, bg_post_main, &b[i]);
        }
        for (int i = 0; i < 500 && wh_waiting(f.s) < N; i++)
            sleep_ms(10);
        CU_ASSERT_EQUAL(wh_waiting(f.s), N);
        g_batches = 0;
        CU_ASSERT_EQUAL(wh_drain_batch(f.s, 0, accept_batch, NULL), N);
        CU_ASSERT_EQUAL(g_batches, 1);
        CU_ASSERT_EQUAL(g_batch_size, N);
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            CU_ASSERT_EQUAL(b[i].status, round == 0 ? 200 : 503);
        }
    }
    CU_ASSERT_EQUAL(wh_drain_batch(f.s, 0, accept_batch, NULL), 0);
    stop(&f);
}

/* Many concurrent deliveries: every one answered 200 and accepted once. */
static void *many_main(void *arg)
{
    bg_post *b = arg;
    b->status = post(b->url, SECRET, UPDATE);
    return NULL;
}

static void test_concurrent(void)
{
    fixture f;
    start(&f, 0, true);
    enum { N = 40 };
    bg_post b[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        b[i].url = f.url;
        pthread_create(&th[i], NULL, many_main, &b[i]);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += b[i].status == 200;
    }
    CU_ASSERT_EQUAL(ok, N);
    stop(&f);
    CU_ASSERT_EQUAL(g_nids, N > 64 ? 64 : N);
}

/* A Bot API call to the fake; returns the HTTP status. */
static long fake_call(fake_tg *ft, const char *method, const char *json)
{
    char base[64], url[256];
    fake_tg_base_url(ft, base, sizeof base);
    snprintf(url, sizeof url, "%s/bot%s/%s", base, fake_tg_token(ft), method);
    return post(url, NULL, json);
}

static bool wait_delivered(fake_tg *ft, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (fake_tg_pending_updates(ft) == 0)
            return true;
        sleep_ms(10);
    }
    return fake_tg_pending_updates(ft) == 0;
}

/* The fake Bot API delivers to this server like Telegram: with the secret
 * header, again after a refusal, never to getUpdates while the webhook is
 * set, and back to getUpdates after deleteWebhook. */
static void test_fake_delivery(void)
{
    fixture f;
    start(&f, 0, true);
    char proxy[64], err[256];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", (unsigned)wh_port(f.s));
    fake_tg_opts o = {.webhook_proxy = proxy, .webhook_retry_ms = 20, .allow_unknown_chats = true};
    fake_tg *ft = fake_tg_new(&o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ft);

    CU_ASSERT_EQUAL(fake_call(ft, "setWebhook", "{\"url\":\"http://plain.example" PATH "\"}"), 400);
    CU_ASSERT_EQUAL(fake_call(ft, "setWebhook", "{\"url\":\"https://bot.example" PATH
                                                "\",\"secret_token\":\"" SECRET "\"}"), 200);
    CU_ASSERT_EQUAL(fake_call(ft, "getUpdates", "{}"), 409);
    fake_tg_user u = {.id = 5, .first_name = "Ann"};
    g_refuse = 2; /* two 503s, then accepted */
    int64_t id = fake_tg_push_text(ft, &u, "hello");
    CU_ASSERT_TRUE(wait_delivered(ft, 5000));
    CU_ASSERT_EQUAL(g_nids, 3);
    for (int i = 0; i < g_nids; i++)
        CU_ASSERT_EQUAL(g_ids[i], id);

    /* per-chat order: a burst from one chat arrives in order */
    g_nids = 0;
    int64_t first = 0;
    for (int i = 0; i < 10; i++) {
        int64_t k = fake_tg_push_text(ft, &u, "burst");
        if (!i)
            first = k;
    }
    CU_ASSERT_TRUE(wait_delivered(ft, 5000));
    CU_ASSERT_EQUAL(g_nids, 10);
    for (int i = 0; i < g_nids; i++)
        CU_ASSERT_EQUAL(g_ids[i], first + i);

    /* a wrong secret: 401 from the bot, so the update stays queued */
    CU_ASSERT_EQUAL(fake_call(ft, "setWebhook", "{\"url\":\"https://bot.example" PATH
                                                "\",\"secret_token\":\"wrong\"}"), 200);
    g_nids = 0;
    fake_tg_push_text(ft, &u, "lost?");
    sleep_ms(200);
    CU_ASSERT_EQUAL(fake_tg_pending_updates(ft), 1);
    CU_ASSERT_EQUAL(g_nids, 0);
    CU_ASSERT_TRUE(wh_get_stats(f.s).unauthorized >= 2); /* retried */
    /* deleteWebhook: the update is there for getUpdates */
    CU_ASSERT_EQUAL(fake_call(ft, "deleteWebhook", "{}"), 200);
    CU_ASSERT_EQUAL(fake_call(ft, "getUpdates", "{}"), 200);
    CU_ASSERT_EQUAL(fake_tg_pending_updates(ft), 1);
    fake_tg_free(ft);
    stop(&f);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("webhook", NULL, NULL);
    CU_add_test(s, "constant-time secret compare", test_secret_equal);
    CU_add_test(s, "random secret", test_random_secret);
    CU_add_test(s, "config from environment", test_config);
    CU_add_test(s, "200 only after the main loop took it; 503 when not", test_accepts_update);
    CU_add_test(s, "401 / 413 / 400 / 405 / 404", test_rejections);
    CU_add_test(s, "secrets never logged", test_secret_never_logged);
    CU_add_test(s, "415 for a Content-Type other than application/json", test_content_type);
    CU_add_test(s, "slow and idle clients cut at the deadline, parked ones not", test_deadline);
    CU_add_test(s, "stop answers parked requests 503", test_free_answers_waiting);
    CU_add_test(s, "concurrent deliveries", test_concurrent);
    CU_add_test(s, "parked requests drained as one batch", test_drain_batch);
    CU_add_test(s, "fake Bot API delivers, retries, keeps chat order", test_fake_delivery);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    curl_global_cleanup();
    return fails ? 1 : 0;
}

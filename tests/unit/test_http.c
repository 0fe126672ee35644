/*
 * test_http.c — the HTTP client (net/http.h) on a loop, over real loopback
 * to a tiny local server (support/tiny_http.h): GETs, their caps and
 * errors, streamed POSTs with their callbacks, delays and aborts, cancel.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "base/log.h"
#include "net/http.h"
#include "net/loop.h"
#include "support/tiny_http.h"

static char g_base[64];

typedef struct got {
    int calls;
    http_err err;
    long status;
    int retry_after;
    size_t body_len;
    char body[256];   /* the body's start */
    char desc[256];
    int data_calls;   /* streams: on_data */
    size_t data_len;
    char data[256];
    int ticks;
    int stop_data;    /* on_data returns this */
    int stop_tick_at; /* tick returns 1 from this tick on, 0 = never */
} got;

static void on_done(const http_result *r, void *ud)
{
    got *g = ud;
    g->calls++;
    g->err = r->err;
    g->status = r->status;
    g->retry_after = r->retry_after;
    g->body_len = r->body_len;
    snprintf(g->body, sizeof g->body, "%.*s", (int)(r->body_len < 255 ? r->body_len : 255),
             r->body ? r->body : "");
    snprintf(g->desc, sizeof g->desc, "%s", r->description);
}

static int on_data(void *ud, long status, const char *data, size_t n)
{
    got *g = ud;
    g->data_calls++;
    size_t room = sizeof g->data - 1 - g->data_len;
    size_t k = n < room ? n : room;
    memcpy(g->data + g->data_len, data, k);
    g->data_len += k;
    g->data[g->data_len] = '\0';
    g->status = status;
    return g->stop_data;
}

static int on_tick(void *ud)
{
    got *g = ud;
    g->ticks++;
    return g->stop_tick_at && g->ticks >= g->stop_tick_at;
}

static long ms_now(void)
{
    return loop_now_ms();
}

/* Polls until g's callback ran (or 10 s). */
static void wait_done(loop *lp, got *g)
{
    long end = ms_now() + 10000;
    while (g->calls == 0 && ms_now() < end)
        loop_poll(lp, 50);
    CU_ASSERT_EQUAL(g->calls, 1);
}

static got get(loop *lp, const char *path, long timeout_ms, size_t max_body)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", g_base, path);
    got g = {0};
    CU_ASSERT_EQUAL_FATAL(http_get(lp, url, timeout_ms, max_body, on_done, &g), HTTP_OK);
    wait_done(lp, &g);
    return g;
}

static void test_get(void)
{
    loop *lp = loop_new(NULL, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lp);
    int before = tiny_http_connections();
    got g = get(lp, "/hello", 0, 0);
    CU_ASSERT_EQUAL(g.err, HTTP_OK);
    CU_ASSERT_EQUAL(g.status, 200);
    CU_ASSERT_STRING_EQUAL(g.body, "hello");
    CU_ASSERT_STRING_EQUAL(g.desc, "");
    g = get(lp, "/hello", 0, 0);
    CU_ASSERT_EQUAL(g.err, HTTP_OK);
    /* the loop's connection cache: the second GET reused the first's */
    CU_ASSERT_EQUAL(tiny_http_connections() - before, 1);

    /* a non-2xx answer: its body and Retry-After come along */
    g = get(lp, "/status?code=429&retry_after=7", 0, 0);
    CU_ASSERT_EQUAL(g.err, HTTP_ERR_STATUS);
    CU_ASSERT_EQUAL(g.status, 429);
    CU_ASSERT_EQUAL(g.retry_after, 7);
    CU_ASSERT_STRING_EQUAL(g.body, "status 429");
    CU_ASSERT_STRING_EQUAL(g.desc, "HTTP 429");
    g = get(lp, "/nowhere", 0, 0);
    CU_ASSERT_EQUAL(g.err, HTTP_ERR_STATUS);
    CU_ASSERT_EQUAL(g.status, 404);
    CU_ASSERT_EQUAL(g.retry_after, 0);
    CU_ASSERT_EQUAL(loop_in_flight(lp), 0);
    loop_free(lp);
}

static void test_body_caps(void)
{
    loop *lp = loop_new(NULL, NULL, 0);
    /* Content-Length over the cap: refused before a byte is kept */
    got g = get(lp, "/bytes?n=2000", 0, 1000);
    CU_ASSERT_EQUAL(g.err, HTTP_ERR_TOOBIG);
    CU_ASSERT_STRING_EQUAL(g.desc, "response over 1000 bytes");
    /* exactly the cap is fine */
    g = get(lp, "/bytes?n=1000", 0, 1000);
    CU_ASSERT_EQUAL(g.err, HTTP_OK);
    CU_ASSERT_EQUAL(g.body_len, 1000);
    /* a chunked body that never ends: stopped at the cap (default 1 MiB) */
    g = get(lp, "/endless", 0, 0);
    CU_ASSERT_EQUAL(g.err, HTTP_ERR_TOOBIG);
    /* the default cap is 1 MiB */
    g = get(lp, "/bytes?n=1048577", 0, 0);
    CU_ASSERT_EQUAL(g.err, HTTP_ERR_TOOBIG);
    g = get(lp, "/bytes?n=1048576", 0, 0);
    CU_ASSERT_EQUAL(g.err, HTTP_OK);
    CU_ASSERT_EQUAL(g.body_len, 1048576);
    loop_free(lp);
}

static void test_network_errors(void)
{
    loop *lp = loop_new(NULL, NULL, 0);
    /* a port nobody listens on */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    bind(s, (struct sockaddr *)&sa, sizeof sa);
    getsockname(s, (struct sockaddr *)&sa, &sl);
    close(s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/hello", ntohs(sa.sin_port));
    got g = {0};
    CU_ASSERT_EQUAL(http_get(lp, url, 2000, 0, on_done, &g), HTTP_OK);
    wait_done(lp, &g);
    CU_ASSERT_EQUAL(g.err, HTTP_ERR_NETWORK);
    CU_ASSERT_EQUAL(g.status, 0);
    CU_ASSERT(g.desc[0] != '\0');

    /* the total timeout ends a stalled request */
    long t0 = ms_now();
    g = get(lp, "/slow?ms=1500", 300, 0);
    CU_ASSERT_EQUAL(g.err, HTTP_ERR_NETWORK);
    CU_ASSERT(ms_now() - t0 < 1300);

    /* refused at once: not http(s), no loop */
    CU_ASSERT_EQUAL(http_get(lp, "ftp://127.0.0.1/x", 0, 0, on_done, &g), HTTP_ERR_CONFIG);
    CU_ASSERT_EQUAL(http_get(NULL, url, 0, 0, on_done, &g), HTTP_ERR_CONFIG);
    http_stream_opts so = {.url = "file:///etc/passwd", .body = ""};
    CU_ASSERT_EQUAL(http_stream(lp, &so, on_data, NULL, on_done, &g), HTTP_ERR_CONFIG);
    CU_ASSERT_EQUAL(loop_in_flight(lp), 0);
    loop_free(lp);
}

static http_err stream(loop *lp, const char *path, const char *body, long delay_ms, got *g)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", g_base, path);
    const char *hdrs[] = {"Content-Type: application/json", "X-Test: yes", NULL};
    http_stream_opts so = {.url = url, .body = body, .headers = hdrs, .delay_ms = delay_ms};
    return http_stream(lp, &so, on_data, on_tick, on_done, g);
}

static void test_stream(void)
{
    loop *lp = loop_new(NULL, NULL, 0);
    got g = {0};
    CU_ASSERT_EQUAL_FATAL(stream(lp, "/echo", "{\"q\":1}", 0, &g), HTTP_OK);
    wait_done(lp, &g);
    CU_ASSERT_EQUAL(g.err, HTTP_OK);
    CU_ASSERT_EQUAL(g.status, 200);
    CU_ASSERT_STRING_EQUAL(g.data, "application/json|yes|{\"q\":1}");
    CU_ASSERT_EQUAL(g.body_len, 0); /* nothing buffered: it all went to on_data */
    CU_ASSERT(g.ticks >= 1);

    /* an error status: the body went to on_data too */
    g = (got){0};
    CU_ASSERT_EQUAL_FATAL(stream(lp, "/status?code=503&retry_after=3", "{}", 0, &g), HTTP_OK);
    wait_done(lp, &g);
    CU_ASSERT_EQUAL(g.err, HTTP_ERR_STATUS);
    CU_ASSERT_EQUAL(g.status, 503);
    CU_ASSERT_EQUAL(g.retry_after, 3);
    CU_ASSERT_STRING_EQUAL(g.data, "status 503");

    /* on_data asks to stop */
    g = (got){.stop_data = 1};
    CU_ASSERT_EQUAL_FATAL(stream(lp, "/endless", "{}", 0, &g), HTTP_OK);
    wait_done(lp, &g);
    CU_ASSERT_EQUAL(g.err, HTTP_ERR_CANCELLED);
    CU_ASSERT_STRING_EQUAL(g.desc, "aborted");
    CU_ASSERT_EQUAL(g.data_calls, 1);

    /* a tick asks to stop (a deadline curl does not know) */
    g = (got){.stop_tick_at = 3};
    CU_ASSERT_EQUAL_FATAL(stream(lp, "/slow?ms=3000", "{}", 0, &g), HTTP_OK);
    long t0 = ms_now();
    wait_done(lp, &g);
    CU_ASSERT_EQUAL(g.err, HTTP_ERR_CANCELLED);
    CU_ASSERT_STRING_EQUAL(g.desc, "aborted");
    CU_ASSERT_EQUAL(g.ticks, 3);
    CU_ASSERT(ms_now() - t0 < 2500);
    CU_ASSERT_EQUAL(loop_in_flight(lp), 0);
    loop_free(lp);
}

static void test_stream_delay(void)
{
    loop *lp = loop_new(NULL, NULL, 0);
    int before = tiny_http_hits("/echo");
    got g = {0};
    long t0 = ms_now();
    CU_ASSERT_EQUAL_FATAL(stream(lp, "/echo", "later", 300, &g), HTTP_OK);
    CU_ASSERT_EQUAL(loop_in_flight(lp), 1);
    /* nothing on the wire during the delay, while its ticks run */
    while (ms_now() - t0 < 200)
        loop_poll(lp, 20);
    CU_ASSERT_EQUAL(tiny_http_hits("/echo"), before);
    CU_ASSERT_EQUAL(g.calls, 0);
    CU_ASSERT(g.ticks >= 2);
    wait_done(lp, &g);
    CU_ASSERT(ms_now() - t0 >= 300);
    CU_ASSERT_EQUAL(g.err, HTTP_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(g.data, "|yes|later"));
    CU_ASSERT_EQUAL(tiny_http_hits("/echo"), before + 1);

    /* cancelled while it waits out its delay */
    g = (got){0};
    CU_ASSERT_EQUAL_FATAL(stream(lp, "/echo", "never", 10000, &g), HTTP_OK);
    loop_poll(lp, 10);
    loop_cancel(lp, NULL);
    CU_ASSERT_EQUAL(g.calls, 1);
    CU_ASSERT_EQUAL(g.err, HTTP_ERR_CANCELLED);
    CU_ASSERT_STRING_EQUAL(g.desc, "cancelled at shutdown");
    loop_free(lp);
}

/* A request started from a cancelled one's callback is refused. */
static loop *g_cancel_lp;
static http_err g_restart;

static void on_done_restart(const http_result *r, void *ud)
{
    on_done(r, ud);
    char url[128];
    snprintf(url, sizeof url, "%s/hello", g_base);
    g_restart = http_get(g_cancel_lp, url, 0, 0, on_done, ud);
}

static void test_cancel(void)
{
    loop *lp = loop_new(NULL, NULL, 0);
    g_cancel_lp = lp;
    char url[128];
    snprintf(url, sizeof url, "%s/slow?ms=2000", g_base);
    got a = {0}, b = {0};
    CU_ASSERT_EQUAL_FATAL(http_get(lp, url, 0, 0, on_done_restart, &a), HTTP_OK);
    CU_ASSERT_EQUAL_FATAL(http_get(lp, url, 0, 0, on_done, &b), HTTP_OK);
    loop_poll(lp, 50);
    CU_ASSERT_EQUAL(loop_in_flight(lp), 2);
    g_restart = HTTP_OK;
    loop_free(lp); /* cancels both */
    CU_ASSERT_EQUAL(a.calls, 1);
    CU_ASSERT_EQUAL(b.calls, 1);
    CU_ASSERT_EQUAL(a.err, HTTP_ERR_CANCELLED);
    CU_ASSERT_EQUAL(b.err, HTTP_ERR_CANCELLED);
    CU_ASSERT_EQUAL(g_restart, HTTP_ERR_CANCELLED);
}

int main(void)
{
    log_init_from_env();
    if (tiny_http_start(g_base, sizeof g_base) != 0) {
        fprintf(stderr, "cannot start the test server\n");
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("http", NULL, NULL);
    CU_add_test(s, "GET over loopback: body, status, Retry-After, reuse", test_get);
    CU_add_test(s, "response caps", test_body_caps);
    CU_add_test(s, "connect refused, timeout, refusals", test_network_errors);
    CU_add_test(s, "streamed POST: headers, body, on_data, ticks, aborts", test_stream);
    CU_add_test(s, "a stream's delay; cancelled while waiting", test_stream_delay);
    CU_add_test(s, "cancel: callbacks run, new requests refused", test_cancel);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    tiny_http_stop();
    return fails ? 1 : 0;
}

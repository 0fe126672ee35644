/*
 * test_loop.c — the event loop (net/loop.h) with bare libcurl transfers
 * (no HTTP client: the loop knows no protocol) against a tiny local server
 * (support/tiny_http.h): done callbacks, owners and cancel, delays and
 * ticks, and a wake-up from another thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <curl/curl.h>

#include "base/log.h"
#include "net/loop.h"
#include "support/tiny_http.h"

static char g_base[64];

/* A bare transfer: the loop_xfer first, what the test looks at after. */
typedef struct xfer {
    loop_xfer x;
    int done;
    loop_end how;
    CURLcode cc;
    int ticks, stop_tick_at;
    loop *restart_on; /* from done: try to start another transfer here */
    int restart_rc;
} xfer;

static size_t discard(char *data, size_t size, size_t nmemb, void *ud)
{
    return size * nmemb;
}

static void on_done(loop_xfer *x, loop_end how, CURLcode cc)
{
    xfer *t = (xfer *)x;
    t->done++;
    t->how = how;
    t->cc = cc;
    if (t->restart_on) {
        static xfer again;
        again.x.easy = t->x.easy;
        again.x.done = on_done;
        t->restart_rc = loop_add(t->restart_on, &again.x, 0);
    }
}

static int on_tick(loop_xfer *x)
{
    xfer *t = (xfer *)x;
    t->ticks++;
    return t->stop_tick_at && t->ticks >= t->stop_tick_at;
}

static void xfer_init(xfer *t, const char *path, const void *owner)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", g_base, path);
    memset(t, 0, sizeof *t);
    t->x.easy = curl_easy_init();
    curl_easy_setopt(t->x.easy, CURLOPT_URL, url);
    curl_easy_setopt(t->x.easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(t->x.easy, CURLOPT_NOSIGNAL, 1L);
    t->x.done = on_done;
    t->x.tick = on_tick;
    t->x.owner = owner;
}

static void wait_done(loop *lp, xfer *t)
{
    long end = loop_now_ms() + 10000;
    while (!t->done && loop_now_ms() < end)
        loop_poll(lp, 50);
    CU_ASSERT_EQUAL(t->done, 1);
}

static void test_done(void)
{
    loop *lp = loop_new(NULL, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lp);
    xfer t;
    xfer_init(&t, "/hello", NULL);
    CU_ASSERT_EQUAL_FATAL(loop_add(lp, &t.x, 0), 0);
    CU_ASSERT_EQUAL(loop_in_flight(lp), 1);
    wait_done(lp, &t);
    CU_ASSERT_EQUAL(t.how, LOOP_DONE);
    CU_ASSERT_EQUAL(t.cc, CURLE_OK);
    CU_ASSERT_EQUAL(loop_in_flight(lp), 0);
    long status = 0;
    curl_easy_getinfo(t.x.easy, CURLINFO_RESPONSE_CODE, &status);
    CU_ASSERT_EQUAL(status, 200);
    /* the handle is the owner's again: it can go once more */
    t.done = 0;
    CU_ASSERT_EQUAL_FATAL(loop_add(lp, &t.x, 0), 0);
    CU_ASSERT_EQUAL(loop_kick(lp), 0); /* on the wire, no callback yet */
    CU_ASSERT_EQUAL(t.done, 0);
    wait_done(lp, &t);
    CU_ASSERT_EQUAL(t.cc, CURLE_OK);
    curl_easy_cleanup(t.x.easy);
    loop_free(lp);
}

static void test_delay_and_ticks(void)
{
    loop *lp = loop_new(NULL, NULL, 0);
    int before = tiny_http_hits("/hello");
    xfer t;
    xfer_init(&t, "/hello", NULL);
    long t0 = loop_now_ms();
    CU_ASSERT_EQUAL_FATAL(loop_add(lp, &t.x, 250), 0);
    while (loop_now_ms() - t0 < 150)
        loop_poll(lp, 20);
    CU_ASSERT_EQUAL(tiny_http_hits("/hello"), before); /* not started yet */
    CU_ASSERT(t.ticks >= 2);
    wait_done(lp, &t);
    CU_ASSERT(loop_now_ms() - t0 >= 250);
    CU_ASSERT_EQUAL(tiny_http_hits("/hello"), before + 1);
    CU_ASSERT_EQUAL(t.how, LOOP_DONE);
    CU_ASSERT_EQUAL(t.cc, CURLE_OK);
    curl_easy_cleanup(t.x.easy);

    /* a tick that asks to stop ends the transfer as aborted */
    xfer_init(&t, "/slow?ms=2000", NULL);
    t.stop_tick_at = 2;
    t0 = loop_now_ms();
    CU_ASSERT_EQUAL_FATAL(loop_add(lp, &t.x, 0), 0);
    wait_done(lp, &t);
    CU_ASSERT_EQUAL(t.how, LOOP_ABORTED);
    CU_ASSERT_EQUAL(t.ticks, 2);
    CU_ASSERT(loop_now_ms() - t0 < 1500);
    CU_ASSERT_EQUAL(loop_in_flight(lp), 0);
    curl_easy_cleanup(t.x.easy);
    loop_free(lp);
}

static void test_cancel_by_owner(void)
{
    loop *lp = loop_new(NULL, NULL, 0);
    int owner_a, owner_b;
    xfer a1, a2, b1;
    xfer_init(&a1, "/slow?ms=2000", &owner_a);
    xfer_init(&a2, "/slow?ms=2000", &owner_a);
    xfer_init(&b1, "/slow?ms=2000", &owner_b);
    CU_ASSERT_EQUAL_FATAL(loop_add(lp, &a1.x, 0), 0);
    CU_ASSERT_EQUAL_FATAL(loop_add(lp, &a2.x, 5000), 0); /* still waiting out its delay */
    CU_ASSERT_EQUAL_FATAL(loop_add(lp, &b1.x, 0), 0);
    loop_poll(lp, 50);
    CU_ASSERT_EQUAL(loop_in_flight(lp), 3);
    loop_cancel(lp, &owner_a);
    CU_ASSERT_EQUAL(a1.done, 1);
    CU_ASSERT_EQUAL(a2.done, 1);
    CU_ASSERT_EQUAL(a1.how, LOOP_CANCELLED);
    CU_ASSERT_EQUAL(a2.how, LOOP_CANCELLED);
    CU_ASSERT_EQUAL(b1.done, 0);
    CU_ASSERT_EQUAL(loop_in_flight(lp), 1);
    CU_ASSERT(!loop_closing(lp));

    /* what a cancelled transfer's callback starts is refused */
    b1.restart_on = lp;
    loop_free(lp);
    CU_ASSERT_EQUAL(b1.done, 1);
    CU_ASSERT_EQUAL(b1.how, LOOP_CANCELLED);
    CU_ASSERT_EQUAL(b1.restart_rc, -1);
    curl_easy_cleanup(a1.x.easy);
    curl_easy_cleanup(a2.x.easy);
    curl_easy_cleanup(b1.x.easy);
}

static void *wake_later(void *ud)
{
    usleep(150 * 1000);
    loop_wakeup(ud);
    return NULL;
}

static void test_wakeup_from_thread(void)
{
    loop *lp = loop_new(NULL, NULL, 0);
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, wake_later, lp), 0);
    long t0 = loop_now_ms();
    CU_ASSERT_EQUAL(loop_poll(lp, 5000), 0); /* nothing in flight: it waits */
    long waited = loop_now_ms() - t0;
    pthread_join(th, NULL);
    CU_ASSERT(waited >= 100);
    CU_ASSERT(waited < 2000);
    /* with nothing to do and no wake-up it sleeps its time out */
    t0 = loop_now_ms();
    CU_ASSERT_EQUAL(loop_poll(lp, 100), 0);
    CU_ASSERT(loop_now_ms() - t0 >= 90);
    loop_free(lp);
}

int main(void)
{
    log_init_from_env();
    curl_global_init(CURL_GLOBAL_DEFAULT); /* the test's own handles outlive its loops */
    if (tiny_http_start(g_base, sizeof g_base) != 0) {
        fprintf(stderr, "cannot start the test server\n");
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("loop", NULL, NULL);
    CU_add_test(s, "a bare transfer's done callback; the handle reused", test_done);
    CU_add_test(s, "a delayed start; a tick that stops a transfer", test_delay_and_ticks);
    CU_add_test(s, "cancel by owner; refused while cancelling", test_cancel_by_owner);
    CU_add_test(s, "a wake-up from another thread ends a wait", test_wakeup_from_thread);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    tiny_http_stop();
    curl_global_cleanup();
    return fails ? 1 : 0;
}

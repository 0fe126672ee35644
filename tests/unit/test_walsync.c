/*
 * test_walsync.c — the sync thread (runtime/walsync.h): tickets in order,
 * requests that pile up share a sync, the wake callback after each, a file
 * that cannot be opened counted as a failure (nothing confirmed), and a
 * request made just before walsync_free still served.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "walsync.h"

static atomic_int wakes;

static void count_wake(void *ud)
{
    (void)ud;
    atomic_fetch_add(&wakes, 1);
}

/* A real file in a fresh temporary directory; the caller frees the path. */
static char *temp_file(char *dir, size_t dirlen)
{
    snprintf(dir, dirlen, "/tmp/botc-walsync-XXXXXX");
    if (!mkdtemp(dir))
        return NULL;
    size_t n = strlen(dir) + sizeof "/bot.db-wal";
    char *path = malloc(n);
    snprintf(path, n, "%s/bot.db-wal", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("frames", f);
        fclose(f);
    }
    return path;
}

static void test_tickets(void)
{
    char dir[64];
    char *path = temp_file(dir, sizeof dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    atomic_store(&wakes, 0);
    walsync *w = walsync_new(path, count_wake, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_EQUAL(walsync_done(w), 0);

    uint64_t t1 = walsync_request(w);
    CU_ASSERT_EQUAL(t1, 1);
    CU_ASSERT_EQUAL(walsync_wait(w, t1), 0);
    CU_ASSERT(walsync_done(w) >= t1);
    for (int i = 0; i < 1000 && atomic_load(&wakes) < 1; i++)
        usleep(1000);
    CU_ASSERT(atomic_load(&wakes) >= 1);

    /* a burst: every ticket is covered by the sync that follows it */
    uint64_t last = 0;
    for (int i = 0; i < 50; i++)
        last = walsync_request(w);
    CU_ASSERT_EQUAL(last, 51);
    CU_ASSERT_EQUAL(walsync_wait(w, last), 0);
    CU_ASSERT_EQUAL(walsync_done(w), last);
    CU_ASSERT(atomic_load(&wakes) <= 51); /* piled-up requests shared syncs */
    CU_ASSERT_EQUAL(walsync_failures(w), 0);

    /* asked right before free: served, not dropped or hung */
    walsync_request(w);
    walsync_free(w);

    unlink(path);
    rmdir(dir);
    free(path);
}

static void test_failure(void)
{
    atomic_store(&wakes, 0);
    walsync *w = walsync_new("/nonexistent-botc-dir/bot.db-wal", count_wake, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    uint64_t t = walsync_request(w);
    CU_ASSERT_EQUAL(walsync_wait(w, t), -1); /* nothing may be confirmed */
    CU_ASSERT_EQUAL(walsync_done(w), 0);
    CU_ASSERT_EQUAL(walsync_failures(w), 1);
    /* the loop still hears of it (wake runs right after the waiters are
     * released, so give it a moment) */
    for (int i = 0; i < 1000 && atomic_load(&wakes) < 1; i++)
        usleep(1000);
    CU_ASSERT_EQUAL(atomic_load(&wakes), 1);
    /* the next request tries again (and fails again) */
    t = walsync_request(w);
    CU_ASSERT_EQUAL(walsync_wait(w, t), -1);
    CU_ASSERT_EQUAL(walsync_failures(w), 2);
    walsync_free(w);
    walsync_free(NULL);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("walsync", NULL, NULL);
    CU_add_test(s, "tickets, bursts, free with a request pending", test_tickets);
    CU_add_test(s, "a file that cannot be synced confirms nothing", test_failure);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

/*
 * test_memvec.c — the vectors of memory items kept without one
 * (ai/memvec.h), against the fake embeddings server (tests/fake_llm/): every
 * such item embedded, 32 a call, by its owner's row; nothing read or asked
 * when nothing was kept; a failed call not retried at once; a vector not
 * stored for an item forgotten while its call was in flight.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "../fake_llm/fake_llm.h"
#include "ai/embed.h"
#include "ai/memvec.h"
#include "base/log.h"
#include "net/loop.h"
#include "storage/store.h"
#include "storage/store_memory.h"
#include "support/sql_int.h"
#include "support/tiny_machine.h"

static fakellm *g_f;
static loop *g_lp;
static char dir[64];

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Pumps v and polls the loop until it embedded `want` items (or 10 s). */
static void pump_until(memvec *v, long want)
{
    long end = mono_ms() + 10000;
    while (memvec_embedded(v) < want && mono_ms() < end) {
        memvec_pump(v);
        loop_poll(g_lp, 20);
    }
    CU_ASSERT_EQUAL(memvec_embedded(v), want);
}

static void add(store_memory *sm, int64_t user, const char *text, int64_t *id)
{
    CU_ASSERT_EQUAL(store_memory_add(sm, user, "summary", text, "", 0, id), 0);
}

static void test_fills_missing(void)
{
    char db[128], err[256];
    snprintf(db, sizeof db, "%s/fill.db", dir);
    store *st = store_open(db, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    store_memory *sm = store_memory_open(st, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sm);
    embed_options o = {.base = fakellm_base(g_f), .model = "fake-embed", .batch = 64,
                       .total_ms = 5000};
    embed_client *ec = embed_new(g_lp, &o, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ec);

    /* 40 items of two users, one with a vector already */
    int64_t id, first = 0;
    for (int i = 0; i < 40; i++) {
        char t[64];
        snprintf(t, sizeof t, "summary number %d of a session", i);
        add(sm, i % 2 ? 7 : 8, t, &id);
        if (!first)
            first = id;
    }
    float one[3] = {1, 0, 0};
    CU_ASSERT_EQUAL(store_memory_put_vec(sm, 8, first, "fake-embed", one, 3), 0);
    fakellm_reset(g_f);
    memvec *v = memvec_new(sm, ec);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    pump_until(v, 39);
    int inputs = 0;
    CU_ASSERT_EQUAL(fakellm_embed_requests(g_f, &inputs), 2); /* 32 + 7 */
    CU_ASSERT_EQUAL(inputs, 39);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM memory_vectors WHERE model = 'fake-embed'"),
                    40);
    /* each vector is its item's owner's */
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM memory_vectors v JOIN memory_items i"
                                  " ON i.id = v.item_id WHERE i.user_id != v.user_id"), 0);
    /* the one that had a vector kept it */
    CU_ASSERT_EQUAL(store_int(st, "SELECT dims FROM memory_vectors WHERE item_id ="
                                  " (SELECT min(id) FROM memory_items)"), 3);

    /* nothing kept since: no request */
    for (int i = 0; i < 10; i++) {
        memvec_pump(v);
        loop_poll(g_lp, 10);
    }
    CU_ASSERT_EQUAL(fakellm_embed_requests(g_f, NULL), 2);

    /* one more kept: embedded at the next pump */
    add(sm, 7, "a new fact", &id);
    memvec_dirty(v);
    pump_until(v, 40);
    CU_ASSERT_EQUAL(fakellm_embed_requests(g_f, NULL), 3);

    /* a failed call is not retried at once */
    add(sm, 7, "another fact", &id);
    memvec_dirty(v);
    fakellm_error(g_f, 500, NULL, 1, 0);
    long end = mono_ms() + 2000;
    while (mono_ms() < end && store_int(st, "SELECT count(*) FROM memory_vectors") < 42) {
        memvec_pump(v);
        loop_poll(g_lp, 20);
    }
    CU_ASSERT_EQUAL(memvec_embedded(v), 40);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM memory_vectors WHERE item_id = (SELECT"
                                  " max(id) FROM memory_items)"), 0);

    /* forgotten while its call was in flight: no vector for it */
    memvec_free(v);
    v = memvec_new(sm, ec);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    fakellm_delay(g_f, 300, 0);
    memvec_pump(v); /* asks for "another fact" */
    CU_ASSERT_EQUAL(store_memory_forget(sm, 7, id), 1);
    end = mono_ms() + 3000;
    while (mono_ms() < end && fakellm_embed_requests(g_f, NULL) < 4)
        loop_poll(g_lp, 20);
    for (int i = 0; i < 10; i++)
        loop_poll(g_lp, 20);
    /* the call was answered (the fourth with 200; the 500 is not counted),
     * and the 41 items left keep their 41 vectors, none for the gone one */
    CU_ASSERT_EQUAL(fakellm_embed_requests(g_f, NULL), 4);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM memory_items"), 41);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM memory_vectors"), 41);
    fakellm_delay(g_f, 0, 0);

    memvec_free(v);
    embed_free(ec);
    store_memory_free(sm);
    store_close(st);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/botc_memvec_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    char err[256];
    g_f = fakellm_start(0, err, sizeof err);
    g_lp = loop_new(NULL, err, sizeof err);
    if (!g_f || !g_lp) {
        fprintf(stderr, "setup: %s\n", err);
        return 1;
    }
    log_set_level(LOG_ERROR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("memvec", NULL, NULL);
    CU_add_test(s, "items without a vector get one; failures wait; forgotten ones stay without",
                test_fills_missing);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    loop_free(g_lp);
    fakellm_stop(g_f);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return fails ? 1 : 0;
}

/*
 * test_token_limits.c — daily token limits with a fake clock: the day ends at
 * midnight in the spec's zone (Europe/Belgrade here, UTC+1 / +2 in summer),
 * including the 23-hour DST day; admin and managers exempt; the
 * BOT_DAILY_TOKENS override.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ai/token_limits.h"
#include "storage/store.h"
#include "support/tiny_machine.h"
#include "ai/usage.h"

static time_t fake_now;
static time_t fake_clock(void *ud)
{
    (void)ud;
    return fake_now;
}

/* 2025-03-29T22:30:00Z etc.: UTC calendar time to time_t without the TZ. */
static time_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi};
    return timegm(&tm);
}

static const char *day_at(time_t t)
{
    static char buf[16];
    lim_day(t, buf, sizeof buf);
    return buf;
}

static void test_local_day(void)
{
    CU_ASSERT_EQUAL(lim_zone_setup("Europe/Belgrade"), 0);
    /* winter, UTC+1: 22:59Z is 23:59 local, 23:00Z is the next day */
    CU_ASSERT_STRING_EQUAL(day_at(utc(2025, 1, 14, 22, 59)), "2025-01-14");
    CU_ASSERT_STRING_EQUAL(day_at(utc(2025, 1, 14, 23, 0)), "2025-01-15");
    /* summer, UTC+2 */
    CU_ASSERT_STRING_EQUAL(day_at(utc(2025, 7, 14, 21, 59)), "2025-07-14");
    CU_ASSERT_STRING_EQUAL(day_at(utc(2025, 7, 14, 22, 0)), "2025-07-15");
    /* 2025-03-30 has 23 hours (02:00 -> 03:00): it starts at 23:00Z on the
     * 29th and ends at 22:00Z on the 30th */
    CU_ASSERT_STRING_EQUAL(day_at(utc(2025, 3, 29, 22, 59)), "2025-03-29");
    CU_ASSERT_STRING_EQUAL(day_at(utc(2025, 3, 29, 23, 0)), "2025-03-30");
    CU_ASSERT_STRING_EQUAL(day_at(utc(2025, 3, 30, 1, 30)), "2025-03-30");
    CU_ASSERT_STRING_EQUAL(day_at(utc(2025, 3, 30, 21, 59)), "2025-03-30");
    CU_ASSERT_STRING_EQUAL(day_at(utc(2025, 3, 30, 22, 0)), "2025-03-31");
    /* 2025-10-26 has 25 hours: 22:00Z on the 25th to 23:00Z on the 26th */
    CU_ASSERT_STRING_EQUAL(day_at(utc(2025, 10, 25, 22, 0)), "2025-10-26");
    CU_ASSERT_STRING_EQUAL(day_at(utc(2025, 10, 26, 22, 30)), "2025-10-26");
    CU_ASSERT_STRING_EQUAL(day_at(utc(2025, 10, 26, 23, 0)), "2025-10-27");
}

static void test_unknown_zone(void)
{
    CU_ASSERT_EQUAL(lim_zone_setup("Mars/Olympus_Mons"), -1);
    CU_ASSERT_EQUAL(lim_zone_setup("../etc/passwd"), -1);
    CU_ASSERT_STRING_EQUAL(day_at(utc(2025, 1, 14, 23, 30)), "2025-01-14"); /* UTC */
    CU_ASSERT_EQUAL(lim_zone_setup("Europe/Belgrade"), 0);
}

static void test_limit_and_reset(void)
{
    char err[256];
    CU_ASSERT_EQUAL(lim_zone_setup("Europe/Belgrade"), 0);
    store *st = store_open(":memory:", &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    lim *l = lim_new(st, 1000, 42, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    lim_set_clock(l, fake_clock, NULL);

    /* usage.c prunes rows older than 40 days of the real clock: use next
     * year's spring-forward day (the last Sunday of March, 01:00Z) */
    time_t real = time(NULL);
    struct tm now_tm;
    gmtime_r(&real, &now_tm);
    int y = now_tm.tm_year + 1900 + 1;
    int sun = 31;
    for (;; sun--) {
        struct tm tm;
        time_t t = utc(y, 3, sun, 12, 0);
        gmtime_r(&t, &tm);
        if (tm.tm_wday == 0)
            break;
    }
    time_t dst = utc(y, 3, sun, 1, 0);
    char eve[48], day[48], next[48];
    snprintf(eve, sizeof eve, "%04d-03-%02d", y, sun - 1);
    snprintf(day, sizeof day, "%04d-03-%02d", y, sun);
    snprintf(next, sizeof next, "%04d-%02d-%02d", y, sun == 31 ? 4 : 3, sun == 31 ? 1 : sun + 1);

    /* 23:50 local on the DST day's eve */
    fake_now = dst - (2 * 3600 + 10 * 60);
    CU_ASSERT_STRING_EQUAL(day_at(fake_now), eve);
    CU_ASSERT_EQUAL(lim_check(l, 7, 0), 1);
    CU_ASSERT_EQUAL(lim_record(l, 7, 600), 0);
    CU_ASSERT_EQUAL(lim_check(l, 7, 0), 1);
    CU_ASSERT_EQUAL(lim_record(l, 7, 400), 0);
    CU_ASSERT_EQUAL(lim_check(l, 7, 0), 0);    /* 1000 of 1000 */
    CU_ASSERT_EQUAL(lim_check(l, 8, 0), 1);    /* another user */
    CU_ASSERT_EQUAL(lim_check(l, 7, 1), 1);    /* a manager */
    CU_ASSERT_EQUAL(lim_record(l, 42, 5000), 0);
    CU_ASSERT_EQUAL(lim_check(l, 42, 0), 1);   /* the admin */
    /* 00:10 local (still the eve in UTC): a new day */
    fake_now = dst - (3600 + 50 * 60);
    CU_ASSERT_STRING_EQUAL(day_at(fake_now), day);
    CU_ASSERT_EQUAL(lim_check(l, 7, 0), 1);
    CU_ASSERT_EQUAL(lim_record(l, 7, 1000), 0);
    CU_ASSERT_EQUAL(lim_check(l, 7, 0), 0);
    /* 23:30 local on the 23-hour day: still the same day */
    fake_now = dst + 20 * 3600 + 30 * 60;
    CU_ASSERT_STRING_EQUAL(day_at(fake_now), day);
    CU_ASSERT_EQUAL(lim_check(l, 7, 0), 0);
    /* midnight local = 22:00Z after the switch to summer time */
    fake_now = dst + 21 * 3600;
    CU_ASSERT_STRING_EQUAL(day_at(fake_now), next);
    CU_ASSERT_EQUAL(lim_check(l, 7, 0), 1);

    /* what the LLM client writes with usage_add is what the limit reads */
    usage *u = usage_open(st, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    CU_ASSERT_EQUAL(usage_add(u, 9, next, 1000), 0);
    CU_ASSERT_EQUAL(lim_check(l, 9, 0), 0);
    usage_free(u);
    lim_free(l);

    /* no limit */
    l = lim_new(st, 0, 0, err, sizeof err);
    lim_set_clock(l, fake_clock, NULL);
    CU_ASSERT_EQUAL(lim_check(l, 7, 0), 1);
    lim_free(l);
    store_close(st);
}

static void test_env(void)
{
    unsetenv("BOT_DAILY_TOKENS");
    CU_ASSERT_EQUAL(lim_tokens_from_env(20000), 20000);
    setenv("BOT_DAILY_TOKENS", "50", 1);
    CU_ASSERT_EQUAL(lim_tokens_from_env(20000), 50);
    setenv("BOT_DAILY_TOKENS", "0", 1);
    CU_ASSERT_EQUAL(lim_tokens_from_env(20000), 0);
    setenv("BOT_DAILY_TOKENS", "lots", 1);
    CU_ASSERT_EQUAL(lim_tokens_from_env(20000), 20000);
    unsetenv("BOT_DAILY_TOKENS");
    setenv("ADMIN_USER_ID", "1234", 1);
    CU_ASSERT_EQUAL(lim_admin_from_env(), 1234);
    setenv("ADMIN_USER_ID", "x", 1);
    CU_ASSERT_EQUAL(lim_admin_from_env(), 0);
    unsetenv("ADMIN_USER_ID");
    CU_ASSERT_EQUAL(lim_admin_from_env(), 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("limits", NULL, NULL);
    CU_add_test(s, "local day in Europe/Belgrade, DST days", test_local_day);
    CU_add_test(s, "unknown zone falls back to UTC", test_unknown_zone);
    CU_add_test(s, "limit, exemptions, midnight reset", test_limit_and_reset);
    CU_add_test(s, "BOT_DAILY_TOKENS, ADMIN_USER_ID", test_env);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}

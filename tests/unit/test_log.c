/*
 * test_log.c — runtime/base/log.c: format of a line, levels, and redaction of
 * registered secrets, raw and URL-encoded.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

/* Capture what log_msg writes to stderr while fn runs. */
static char captured[16384];

static void capture(void (*fn)(void))
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(tmp);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(captured, 1, sizeof captured - 1, tmp);
    captured[n] = '\0';
    fclose(tmp);
}

static void emit_lines(void)
{
    log_info("tg", "GET https://api.telegram.org/bot123456:AB-cd_EF/getUpdates");
    log_warn("tg", "encoded token=123456%%3AAB-cd_EF and lower 123456%%3aAB-cd_EF");
    log_debug("tg", "hidden at info level");
    log_error("store", "line one\nforged line");
}

static void test_redaction(void)
{
    log_set_level(LOG_INFO);
    log_add_secret("123456:AB-cd_EF");
    log_add_secret("");
    log_add_secret(NULL);
    capture(emit_lines);
    CU_ASSERT_PTR_NULL(strstr(captured, "AB-cd_EF"));
    CU_ASSERT_PTR_NOT_NULL(strstr(captured, " INFO  tg: GET https://api.telegram.org/bot***/getUpdates\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(captured, " WARN  tg: encoded token=*** and lower ***\n"));
    CU_ASSERT_PTR_NULL(strstr(captured, "hidden"));
    CU_ASSERT_PTR_NOT_NULL(strstr(captured, " ERROR store: line one forged line\n"));
    /* ISO 8601 UTC timestamp at the start of each line */
    CU_ASSERT(strlen(captured) > 21 && captured[4] == '-' && captured[10] == 'T' && captured[19] == 'Z');
    int lines = 0;
    for (const char *p = captured; *p; p++)
        lines += *p == '\n';
    CU_ASSERT_EQUAL(lines, 3);
}

static void emit_long(void)
{
    char big[10000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_info("x", "%s 123456:AB-cd_EF", big);
}

static void test_long_line(void)
{
    capture(emit_long);
    CU_ASSERT(strlen(captured) <= 4097);
    CU_ASSERT_PTR_NULL(strstr(captured, "AB-cd"));
}

static void test_levels(void)
{
    setenv("BOT_LOG_LEVEL", "error", 1);
    log_init_from_env();
    CU_ASSERT_FALSE(log_enabled(LOG_WARN));
    CU_ASSERT_TRUE(log_enabled(LOG_ERROR));
    setenv("BOT_LOG_LEVEL", "DEBUG", 1);
    log_init_from_env();
    CU_ASSERT_TRUE(log_enabled(LOG_DEBUG));
    log_set_level(LOG_INFO);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("log", NULL, NULL);
    CU_add_test(s, "redaction", test_redaction);
    CU_add_test(s, "long line", test_long_line);
    CU_add_test(s, "levels", test_levels);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}

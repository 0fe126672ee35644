/*
 * test_jsonw.c — the JSON writer (runtime/base/jsonw.h): commas and nesting,
 * escapes that cJSON reads back to the same strings, 64-bit numbers, and
 * refusing what is not one whole value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "base/jsonw.h"
#include "base/json.h"

static void test_shape(void)
{
    jw w;
    jw_init(&w);
    jw_obj(&w);
    jw_key(&w, "chat_id");
    jw_i64(&w, -1001234567890LL);
    jw_key(&w, "text");
    jw_str(&w, "hi");
    jw_key(&w, "reply_markup");
    jw_obj(&w);
    jw_key(&w, "inline_keyboard");
    jw_arr(&w);
    jw_arr(&w);
    jw_obj(&w);
    jw_key(&w, "text");
    jw_str(&w, "A");
    jw_end(&w);
    jw_obj(&w);
    jw_key(&w, "text");
    jw_str(&w, "B");
    jw_end(&w);
    jw_end(&w);
    jw_arr(&w);
    jw_end(&w);
    jw_end(&w);
    jw_key(&w, "is_persistent");
    jw_bool(&w, true);
    jw_key(&w, "x");
    jw_raw(&w, "[1,2]");
    jw_end(&w);
    jw_end(&w);
    char *s = jw_take(&w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "{\"chat_id\":-1001234567890,\"text\":\"hi\",\"reply_markup\":"
                              "{\"inline_keyboard\":[[{\"text\":\"A\"},{\"text\":\"B\"}],[]],"
                              "\"is_persistent\":true,\"x\":[1,2]}}");
    free(s);
}

/* Every byte 1..255 in a string comes back the same through cJSON. */
static void test_escapes(void)
{
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    const char *const samples[] = {all, "quote \" backslash \\ slash / tab\tnl\ncr\r",
                                   "Привет, Аня! 🚗 €25", ""};
    for (size_t k = 0; k < sizeof samples / sizeof *samples; k++) {
        jw w;
        jw_init(&w);
        jw_arr(&w);
        jw_str(&w, samples[k]);
        jw_end(&w);
        char *s = jw_take(&w);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        cJSON *j = cJSON_Parse(s);
        CU_ASSERT_TRUE_FATAL(cJSON_IsArray(j));
        const cJSON *v = cJSON_GetArrayItem(j, 0);
        CU_ASSERT_TRUE(cJSON_IsString(v) && !strcmp(v->valuestring, samples[k]));
        cJSON_Delete(j);
        free(s);
    }
}

static void test_numbers(void)
{
    const int64_t vals[] = {0, 1, -1, 4294967296LL, 9007199254740992LL, -9007199254740992LL};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        jw w;
        jw_init(&w);
        jw_obj(&w);
        jw_key(&w, "id");
        jw_i64(&w, vals[i]);
        jw_end(&w);
        char *s = jw_take(&w);
        cJSON *j = s ? cJSON_Parse(s) : NULL;
        int64_t got = 0;
        CU_ASSERT_EQUAL(json_i64(j, "id", &got), 0);
        CU_ASSERT_EQUAL(got, vals[i]);
        cJSON_Delete(j);
        free(s);
    }
}

/* The digits themselves, to the ends of the range (written by hand, not
 * by printf). */
static void test_number_text(void)
{
    static const struct { int64_t v; const char *text; } cases[] = {
        {0, "[0]"}, {7, "[7]"}, {-1001234567890LL, "[-1001234567890]"},
        {INT64_MAX, "[9223372036854775807]"}, {INT64_MIN, "[-9223372036854775808]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        jw w;
        jw_init(&w);
        jw_arr(&w);
        jw_i64(&w, cases[i].v);
        jw_end(&w);
        char *s = jw_take(&w);
        CU_ASSERT_STRING_EQUAL(s ? s : "", cases[i].text);
        free(s);
    }
}

static void test_refusals(void)
{
    jw w;
    jw_init(&w);
    jw_obj(&w);
    jw_key(&w, "open");
    jw_str(&w, "never closed");
    CU_ASSERT_PTR_NULL(jw_take(&w)); /* an object still open */
    jw_init(&w);
    jw_end(&w); /* nothing to close */
    CU_ASSERT_PTR_NULL(jw_take(&w));
    jw_init(&w);
    CU_ASSERT_PTR_NULL(jw_take(&w)); /* nothing at all */
    jw_init(&w);
    for (int i = 0; i < JW_DEPTH + 1; i++)
        jw_arr(&w);
    for (int i = 0; i < JW_DEPTH + 1; i++)
        jw_end(&w);
    CU_ASSERT_PTR_NULL(jw_take(&w)); /* nested deeper than JW_DEPTH */
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("jsonw", NULL, NULL);
    CU_add_test(s, "commas and nesting", test_shape);
    CU_add_test(s, "escapes read back the same", test_escapes);
    CU_add_test(s, "64-bit ids", test_numbers);
    CU_add_test(s, "64-bit ids as text, INT64_MIN included", test_number_text);
    CU_add_test(s, "not one whole value: NULL", test_refusals);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

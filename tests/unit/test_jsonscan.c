/*
 * test_jsonscan.c — the allocation-free JSON checks (runtime/jsonscan.h):
 * what they accept and refuse, member lookup, array walking, and that no
 * cut of a real Bot API answer passes for an accepted call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "jsonscan.h"

static int valid(const char *s)
{
    const char *end = s + strlen(s);
    const char *e = jscan_value(s, end);
    if (!e)
        return 0;
    while (e < end && (*e == ' ' || *e == '\n'))
        e++;
    return e == end;
}

static void test_values(void)
{
    static const char *const good[] = {
        "0", "-0", "12", "-3.25", "1e9", "2E-3", "1.5e+2", "\"\"", "\"a\\\"b\\\\c\\/\\n\"",
        "\"\\u0416\\ud83d\\ude00\"", "\"ж😀\"", "true", "false", "null", "[]", "{}",
        " [1, \"x\", {\"a\": [null]}] ", "{\"ok\":true,\"result\":{\"message_id\":5}}",
    };
    static const char *const bad[] = {
        "", " ", "01", "+1", "1.", ".5", "1e", "-", "tru", "nul", "\"abc", "\"a\\x\"",
        "\"\\u12g4\"", "\"tab\there\"", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{a:1}",
        "{\"a\":1,}", "[1 2]", "{\"a\":1 \"b\":2}", "[", "{", "]", "1 2",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (!valid(good[i]))
            printf("\n  refused valid: %s", good[i]);
        CU_ASSERT_TRUE(valid(good[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (valid(bad[i]))
            printf("\n  accepted invalid: %s", bad[i]);
        CU_ASSERT_FALSE(valid(bad[i]));
    }
    /* nesting is bounded */
    char deep[2 * JSCAN_DEPTH + 8];
    size_t n = 0;
    for (int i = 0; i < JSCAN_DEPTH + 2; i++)
        deep[n++] = '[';
    for (int i = 0; i < JSCAN_DEPTH + 2; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    CU_ASSERT_FALSE(valid(deep));
}

static int member(const char *obj, const char *key, char *out, size_t outlen)
{
    jscan_span v;
    int rc = jscan_member(obj, strlen(obj), key, &v);
    if (rc == 1)
        snprintf(out, outlen, "%.*s", (int)(v.end - v.p), v.p);
    return rc;
}

static void test_members(void)
{
    char v[128];
    const char *reply = " {\"ok\" : true, \"result\": [1, {\"ok\":false}], \"x\":\"ok\"} ";
    CU_ASSERT_EQUAL(member(reply, "ok", v, sizeof v), 1);
    CU_ASSERT_STRING_EQUAL(v, "true"); /* the top level's, not the nested one */
    CU_ASSERT_EQUAL(member(reply, "result", v, sizeof v), 1);
    CU_ASSERT_STRING_EQUAL(v, "[1, {\"ok\":false}]");
    CU_ASSERT_EQUAL(member(reply, "description", v, sizeof v), 0);
    CU_ASSERT_EQUAL(member(reply, "o", v, sizeof v), 0); /* whole names only */
    CU_ASSERT_EQUAL(member("{}", "ok", v, sizeof v), 0);
    CU_ASSERT_EQUAL(member("[1]", "ok", v, sizeof v), -1);
    CU_ASSERT_EQUAL(member("{\"ok\":true} x", "ok", v, sizeof v), -1); /* trailing bytes */
    CU_ASSERT_EQUAL(member("{\"ok\":true,\"result\":[1,2}", "ok", v, sizeof v), -1);

    const char *const keys[] = {"result", "ok", "nope"};
    jscan_span s[3];
    CU_ASSERT_EQUAL(jscan_members(reply, strlen(reply), keys, s, 3), 2);
    CU_ASSERT_PTR_NOT_NULL(s[0].p);
    CU_ASSERT_PTR_NOT_NULL(s[1].p);
    CU_ASSERT_PTR_NULL(s[2].p);
}

static void test_items(void)
{
    const char *arr = "[ {\"update_id\":1}, [2], \"three\" ,4 ]";
    jscan_iter it = jscan_items((jscan_span){arr, arr + strlen(arr)});
    jscan_span item;
    char got[4][32];
    int n = 0, rc;
    while ((rc = jscan_next(&it, &item)) == 1 && n < 4) {
        snprintf(got[n], sizeof got[n], "%.*s", (int)(item.end - item.p), item.p);
        n++;
    }
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT_STRING_EQUAL(got[0], "{\"update_id\":1}");
    CU_ASSERT_STRING_EQUAL(got[1], "[2]");
    CU_ASSERT_STRING_EQUAL(got[2], "\"three\"");
    CU_ASSERT_STRING_EQUAL(got[3], "4");
    CU_ASSERT_EQUAL(jscan_next(&it, &item), 0); /* stays at the end */

    const char *empty = " [ ] ";
    it = jscan_items((jscan_span){empty, empty + strlen(empty)});
    CU_ASSERT_EQUAL(jscan_next(&it, &item), 0);

    static const char *const broken[] = {"{}", "[1,", "[1 2]", "[,]", "[1,]"};
    for (size_t i = 0; i < sizeof broken / sizeof *broken; i++) {
        it = jscan_items((jscan_span){broken[i], broken[i] + strlen(broken[i])});
        while ((rc = jscan_next(&it, &item)) == 1) {
        }
        CU_ASSERT_EQUAL(rc, -1);
    }
}

/* Every cut of a real answer is refused; the whole is accepted, and agrees
 * with cJSON on where "result" is. */
static void test_cuts(void)
{
    const char *reply =
        "{\"ok\":true,\"result\":{\"message_id\":42,\"from\":{\"id\":1234567890,\"is_bot\":true,"
        "\"first_name\":\"Rent\",\"username\":\"rent_bot\"},\"chat\":{\"id\":7100000001,"
        "\"first_name\":\"Ann\",\"type\":\"private\"},\"date\":1763700000,\"text\":"
        "\"\\u041f\\u0440\\u0438\\u0432\\u0435\\u0442 \\ud83d\\ude97 Cars \\\"from\\\" \\u20ac25\","
        "\"reply_markup\":{\"inline_keyboard\":[[{\"text\":\"SUV\",\"callback_data\":\"c:1\"}]]}}}";
    size_t n = strlen(reply);
    jscan_span v;
    CU_ASSERT_EQUAL(jscan_member(reply, n, "result", &v), 1);
    cJSON *whole = cJSON_Parse(reply);
    cJSON *from_scan = cJSON_ParseWithLength(v.p, (size_t)(v.end - v.p));
    CU_ASSERT_TRUE(cJSON_Compare(cJSON_GetObjectItem(whole, "result"), from_scan, 1));
    cJSON_Delete(whole);
    cJSON_Delete(from_scan);
    int accepted = 0;
    for (size_t cut = 0; cut < n; cut++)
        accepted += jscan_member(reply, cut, "ok", &v) >= 0;
    CU_ASSERT_EQUAL(accepted, 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("jsonscan", NULL, NULL);
    CU_add_test(s, "values: RFC 8259 grammar, bounded nesting", test_values);
    CU_add_test(s, "members: top level only, whole names, one pass", test_members);
    CU_add_test(s, "array items", test_items);
    CU_add_test(s, "a cut answer never passes", test_cuts);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

/*
 * test_jsonscan.c — the allocation-free JSON checks (runtime/base/jsonscan.h):
 * what they accept and refuse, member lookup, array walking, and that no
 * cut of a real Bot API answer passes for an accepted call.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "base/jsonscan.h"
#include "base/text.h"

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

/* jscan_members_of finds in a validated object what jscan_members finds,
 * and stays inside its span on any text (every cut of every prefix). */
static void test_members_of(void)
{
    const char *obj = "{\"a\":{\"x\":\"}\\\"{\",\"y\":[1,{\"z\":2}]},\"b\" : -12 ,\"c\":\"s\\\\\","
                      "\"d\":[[],{}],\"e\":true,\"a\":0,\"f\":null}";
    static const char *const keys[] = {"a", "b", "c", "d", "e", "f", "g"};
    jscan_span want[7], got[7];
    size_t n = strlen(obj);
    CU_ASSERT_EQUAL(jscan_members(obj, n, keys, want, 7), 6);
    CU_ASSERT_EQUAL(jscan_members_of((jscan_span){obj, obj + n}, keys, got, 7), 6);
    for (int i = 0; i < 7; i++)
        CU_ASSERT(want[i].p == got[i].p && want[i].end == got[i].end);
    /* nested: the member's value as jscan_members found it */
    static const char *const inner[] = {"y", "x"};
    CU_ASSERT_EQUAL(jscan_members_of(want[0], inner, got, 2), 2);
    CU_ASSERT_EQUAL(got[0].end - got[0].p, 11);
    CU_ASSERT_EQUAL(strncmp(got[1].p, "\"}\\\"{\"", 6), 0);
    CU_ASSERT_EQUAL(jscan_members_of((jscan_span){"[1]", NULL}, keys, got, 1), -1);
    /* bounded on text never validated: copies of exactly the cut */
    for (size_t cut = 0; cut <= n; cut++) {
        char *c = malloc(cut ? cut : 1);
        memcpy(c, obj, cut);
        int r = jscan_members_of((jscan_span){c, c + cut}, keys, got, 7);
        for (int i = 0; r > 0 && i < 7; i++)
            CU_ASSERT(!got[i].p || (got[i].p >= c && got[i].end <= c + cut));
        free(c);
    }
}

/* The decoded form of a string literal, or NULL when jscan_str refuses
 * it; out has exactly the room the header promises is enough. */
static char *decode(const char *lit)
{
    size_t n = strlen(lit);
    char *out = malloc(n > 1 ? n - 1 : 1);
    if (!out || jscan_str((jscan_span){lit, lit + n}, out, n > 1 ? n - 1 : 0) < 0) {
        free(out);
        return NULL;
    }
    return out;
}

static void test_strings(void)
{
    static const char *const pairs[][2] = {
        {"\"\"", ""},
        {"\"plain\"", "plain"},
        {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t"},
        {"\"\\u0041\\u00e9\\u0416\\u20ac\"", "A\xc3\xa9\xd0\x96\xe2\x82\xac"},
        {"\"\\ud83d\\ude97\"", "\xf0\x9f\x9a\x97"},
        {"\"\\uD83D\\uDE00x\"", "\xf0\x9f\x98\x80x"},
        {"\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf"}, /* U+10FFFF */
        {"\"\\u007f\\u0080\\u07ff\\u0800\\uffff\"", "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf"},
        {"\"\xd0\x96 raw\"", "\xd0\x96 raw"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        char *got = decode(pairs[i][0]);
        if (!got || strcmp(got, pairs[i][1]))
            printf("\n  %s decoded wrong", pairs[i][0]);
        CU_ASSERT_PTR_NOT_NULL(got);
        CU_ASSERT(got && !strcmp(got, pairs[i][1]));
        /* cJSON, the reference, agrees */
        cJSON *ref = cJSON_Parse(pairs[i][0]);
        CU_ASSERT(got && cJSON_IsString(ref) && !strcmp(ref->valuestring, got));
        cJSON_Delete(ref);
        free(got);
    }
    /* one rule for what is not text: a lone surrogate escape and \u0000
     * become U+FFFD, each escape by itself (issue #16) */
    static const char *const replaced[][2] = {
        {"\"\\ud83d\"", "\xef\xbf\xbd"},
        {"\"\\ud83dx\"", "\xef\xbf\xbdx"},
        {"\"\\ude00\"", "\xef\xbf\xbd"},
        {"\"\\ud83d\\u0041\"", "\xef\xbf\xbd" "A"},
        {"\"\\ud83d\\ud83d\"", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\"\\ud83d\\ud83d\\ude00\"", "\xef\xbf\xbd\xf0\x9f\x98\x80"},
        {"\"\\ud83d\\n\"", "\xef\xbf\xbd\n"},
        {"\"a\\u0000b\"", "a\xef\xbf\xbd" "b"},
    };
    for (size_t i = 0; i < sizeof replaced / sizeof *replaced; i++) {
        char *got = decode(replaced[i][0]);
        if (!got || strcmp(got, replaced[i][1]))
            printf("\n  %s not replaced as expected", replaced[i][0]);
        CU_ASSERT(got && !strcmp(got, replaced[i][1]));
        free(got);
    }
    static const char *const bad[] = {
        "\"\\x\"", "\"\\u12\"",
        "\"\\u12g4\"", "\"a\tb\"", "\"a\"b\"", "\"abc", "abc\"", "\"", "", "12", "\"\\\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *got = decode(bad[i]);
        if (got)
            printf("\n  accepted bad string: %s", bad[i]);
        CU_ASSERT_PTR_NULL(got);
        free(got);
    }
    /* too little room is refused, never overrun */
    char small[4];
    const char *s = "\"abcdef\"";
    CU_ASSERT_EQUAL(jscan_str((jscan_span){s, s + strlen(s)}, small, sizeof small), -1);
}

/* Raw bytes that are not UTF-8 become U+FFFD, one for each byte, the
 * same rule as for escapes: FF FE, C3 28 (a lead byte without its
 * continuation), C0 AF (overlong), ED A0 80 (an encoded surrogate), a
 * 4-byte sequence cut by the closing quote. JSCAN_STR_CAP is room enough;
 * the quoted length alone is not, and is refused, never overrun. */
static void test_strings_invalid_utf8(void)
{
    static const char *const cases[][2] = {
        {"\"Al\xffice\"", "Al\xef\xbf\xbdice"},
        {"\"\xff\xfe\"", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\"\xc3\x28\"", "\xef\xbf\xbd("},
        {"\"\xc0\xaf\"", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\"\xed\xa0\x80\"", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\"ok \xf0\x9f\x98\"", "ok \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\"\xd0\x96\xd0\"", "\xd0\x96\xef\xbf\xbd"},
        {"\"\xf0\x9f\x98\x80\\u00e9\"", "\xf0\x9f\x98\x80\xc3\xa9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *lit = cases[i][0];
        size_t n = strlen(lit);
        char *out = malloc(JSCAN_STR_CAP(n));
        long got = jscan_str((jscan_span){lit, lit + n}, out, JSCAN_STR_CAP(n));
        if (got < 0 || strcmp(out, cases[i][1]))
            printf("\n  invalid UTF-8 case %zu decoded wrong", i);
        CU_ASSERT(got == (long)strlen(cases[i][1]) && !strcmp(out, cases[i][1]));
        CU_ASSERT(got >= 0 && text_utf8_valid(out, (size_t)got));
        free(out);
    }
    const char *s = "\"\xff\xff\xff\"";
    char tight[4]; /* the quoted length less one: enough for valid text only */
    CU_ASSERT_EQUAL(jscan_str((jscan_span){s, s + strlen(s)}, tight, sizeof tight), -1);
}

/* Runs of plain bytes: every special byte found at every offset of a
 * string of every length up to 24. */
static void test_string_runs(void)
{
    static const struct {
        const char *ins;
        int ok;
    } cases[] = {
        {"\xc3\xa9", 1}, {"\x7f", 1}, {" ", 1}, {"\\n", 1}, {"\\u0416", 1}, {"\\\"", 1},
        {"\t", 0}, {"\x1f", 0}, {"\x01", 0}, {"\"", 0}, {"\\", 0},
    };
    char buf[64];
    for (int len = 0; len <= 24; len++)
        for (int at = 0; at <= len; at++)
            for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
                size_t n = 0;
                buf[n++] = '"';
                for (int i = 0; i < at; i++)
                    buf[n++] = 'a';
                memcpy(buf + n, cases[c].ins, strlen(cases[c].ins));
                n += strlen(cases[c].ins);
                for (int i = at; i < len; i++)
                    buf[n++] = 'x'; /* after a lone '\\': an unknown escape */
                buf[n++] = '"';
                buf[n] = '\0';
                if (valid(buf) != cases[c].ok)
                    printf("\n  string run wrong at len %d offset %d: %s", len, at, buf);
                CU_ASSERT_EQUAL(valid(buf), cases[c].ok);
                char *d = decode(buf);
                CU_ASSERT_EQUAL(d != NULL, cases[c].ok);
                free(d);
            }
}

static int i64_of(const char *s, int64_t *v)
{
    return jscan_i64((jscan_span){s, s + strlen(s)}, v);
}

static void test_integers(void)
{
    int64_t v = 0;
    CU_ASSERT(i64_of("0", &v) == 0 && v == 0);
    CU_ASSERT(i64_of("-0", &v) == 0 && v == 0);
    CU_ASSERT(i64_of("-1001234567890", &v) == 0 && v == -1001234567890LL);
    CU_ASSERT(i64_of("9007199254740993", &v) == 0 && v == 9007199254740993LL); /* > 2^53 */
    CU_ASSERT(i64_of("9223372036854775807", &v) == 0 && v == INT64_MAX);
    CU_ASSERT(i64_of("-9223372036854775808", &v) == 0 && v == INT64_MIN);
    static const char *const bad[] = {
        "9223372036854775808", "-9223372036854775809", "99999999999999999999", "1.0",
        "1e3", "1E3", "-", "", "01", "+1", "\"1\"", "true", "null", "1 ", " 1", "0x10",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        v = 42;
        if (i64_of(bad[i], &v) == 0)
            printf("\n  accepted bad integer: %s", bad[i]);
        CU_ASSERT_EQUAL(i64_of(bad[i], &v), -1);
        CU_ASSERT_EQUAL(v, 42);
    }
    CU_ASSERT_EQUAL(jscan_i64((jscan_span){NULL, NULL}, &v), -1);
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
    CU_add_test(s, "members of a validated object", test_members_of);
    CU_add_test(s, "strings decoded: escapes, surrogate pairs, refusals", test_strings);
    CU_add_test(s, "strings decoded: invalid UTF-8 becomes U+FFFD", test_strings_invalid_utf8);
    CU_add_test(s, "string runs: every special byte at every offset", test_string_runs);
    CU_add_test(s, "exact 64-bit integers", test_integers);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

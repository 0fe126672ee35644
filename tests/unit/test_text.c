/*
 * test_text.c — runtime/base/text.c: placeholders, UTF-8, UTF-16 lengths,
 * cutting and splitting without breaking a character.
 */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"

static const char *lookup(void *ud, const char *name, size_t len)
{
    (void)ud;
    if (len == 4 && !memcmp(name, "name", 4))
        return "Ann";
    if (len == 10 && !memcmp(name, "form.field", 10))
        return "{not expanded again}";
    if (len == 5 && !memcmp(name, "emoji", 5))
        return "😀😀";
    return NULL;
}

static void check_expand(const char *tmpl, size_t max, const char *want)
{
    char *got = text_expand(tmpl, lookup, NULL, max);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    if (strcmp(got, want))
        fprintf(stderr, "\nexpand '%s': got '%s', want '%s'\n", tmpl, got, want);
    CU_ASSERT_STRING_EQUAL(got, want);
    free(got);
}

static void test_expand(void)
{
    check_expand("Hello, {name}!", 100, "Hello, Ann!");
    check_expand("{name}{name}", 100, "AnnAnn");
    check_expand("{form.field}", 100, "{not expanded again}");
    check_expand("{{name}} {{ }}", 100, "{name} { }");
    check_expand("{unknown} {name", 100, "{unknown} {name");
    check_expand("{} {bad name} }", 100, "{} {bad name} }");
    check_expand("", 100, "");
    check_expand("no braces", 100, "no braces");
    check_expand("ab{name}", 4, "abAn");
    /* the cap never cuts inside a character: 😀 is 4 bytes */
    check_expand("x{emoji}", 6, "x😀");
    char *n = text_expand(NULL, lookup, NULL, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_STRING_EQUAL(n, "");
    free(n);
}

static void test_utf8(void)
{
    static const char *good[] = {"", "abc", "привет", "😀", "ℹ️ Info", "\xEF\xBF\xBD"};
    static const char *bad[] = {"\xC0\x80", "\x80", "abc\xFF", "\xED\xA0\x80", "\xE2\x82",
                                "\xF4\x90\x80\x80", "\xF0\x8F\xBF\xBF"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CU_ASSERT_TRUE(text_utf8_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_FALSE(text_utf8_valid(bad[i], strlen(bad[i])));
}

static void test_lengths(void)
{
    CU_ASSERT_EQUAL(text_utf16_len("abc", 3), 3);
    CU_ASSERT_EQUAL(text_utf16_len("привет", strlen("привет")), 6);
    CU_ASSERT_EQUAL(text_utf16_len("😀", 4), 2);
    CU_ASSERT_EQUAL(text_utf16_len("a😀b", 6), 4);
    CU_ASSERT_EQUAL(text_utf16_len("\xFF\xFE", 2), 2);

    const char *p = "при"; /* 6 bytes */
    CU_ASSERT_EQUAL(text_utf8_prefix(p, 6, 3), 2);
    CU_ASSERT_EQUAL(text_utf8_prefix(p, 6, 6), 6);
    CU_ASSERT_EQUAL(text_utf8_prefix(p, 6, 1), 0);
    CU_ASSERT_EQUAL(text_utf16_prefix("a😀b", 6, 2), 1);
    CU_ASSERT_EQUAL(text_utf16_prefix("a😀b", 6, 3), 5);
    CU_ASSERT_EQUAL(text_utf16_prefix("a😀b", 6, 10), 6);
}

static void test_truncate(void)
{
    char *t = text_truncate("hello world", 5);
    CU_ASSERT_STRING_EQUAL(t, "hell…");
    free(t);
    t = text_truncate("hello", 5);
    CU_ASSERT_STRING_EQUAL(t, "hello");
    free(t);
    t = text_truncate("😀😀😀", 4);
    CU_ASSERT_STRING_EQUAL(t, "😀…");
    free(t);
    /* a flag (two regional indicators, 4 units) is not halved */
    t = text_truncate("ab🇷🇸🇷🇺", 6);
    CU_ASSERT_STRING_EQUAL(t, "ab…");
    free(t);
    t = text_truncate("ab🇷🇸🇷🇺", 7);
    CU_ASSERT_STRING_EQUAL(t, "ab🇷🇸…");
    free(t);
}

static void check_split(const char *s, size_t max, int n, const char *const *want)
{
    char **parts;
    int got;
    CU_ASSERT_EQUAL_FATAL(text_split(s, max, &parts, &got), 0);
    CU_ASSERT_EQUAL(got, n);
    for (int i = 0; i < got && i < n; i++) {
        if (strcmp(parts[i], want[i]))
            fprintf(stderr, "\nsplit part %d: got '%s', want '%s'\n", i, parts[i], want[i]);
        CU_ASSERT_STRING_EQUAL(parts[i], want[i]);
    }
    text_parts_free(parts, got);
}

static void test_split(void)
{
    check_split("short", 10, 1, (const char *[]){"short"});
    check_split("", 10, 0, NULL);
    check_split("aaaa\n\nbb\nb", 8, 2, (const char *[]){"aaaa", "bb\nb"});
    check_split("aaa\nbbb\nccc", 7, 2, (const char *[]){"aaa\nbbb", "ccc"});
    check_split("one two three four", 9, 3, (const char *[]){"one two", "three", "four"});
    check_split("abcdefghij", 4, 3, (const char *[]){"abcd", "efgh", "ij"});
    check_split("😀😀😀", 3, 3, (const char *[]){"😀", "😀", "😀"});
    check_split("ab cd", 2, 2, (const char *[]){"ab", "cd"});
}

static void test_split_long(void)
{
    /* a long Cyrillic text with emoji: every part within Telegram's limit,
     * valid UTF-8, and nothing but separators lost */
    size_t n = 0;
    char *s = malloc(40000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (int i = 0; n < 30000; i++) {
        const char *w = i % 50 == 49 ? "\n\n" : i % 7 == 6 ? "😀 " : "слово ";
        memcpy(s + n, w, strlen(w));
        n += strlen(w);
    }
    s[n] = '\0';
    char **parts;
    int got;
    CU_ASSERT_EQUAL_FATAL(text_split(s, TEXT_TG_MAX, &parts, &got), 0);
    CU_ASSERT(got >= 3);
    size_t total = 0;
    for (int i = 0; i < got; i++) {
        size_t l = strlen(parts[i]);
        CU_ASSERT(l > 0);
        CU_ASSERT(text_utf16_len(parts[i], l) <= TEXT_TG_MAX);
        CU_ASSERT(text_utf8_valid(parts[i], l));
        total += l;
    }
    CU_ASSERT(total <= n && total + (size_t)got * 2 >= n - 2);
    text_parts_free(parts, got);
    free(s);
}

static void test_buf(void)
{
    text_buf b;
    text_buf_init(&b, 8);
    CU_ASSERT_EQUAL(text_buf_adds(&b, "abc"), 0);
    CU_ASSERT_FALSE(b.overflow);
    CU_ASSERT_EQUAL(text_buf_adds(&b, "дом"), 0); /* 6 bytes: only 2 chars fit */
    CU_ASSERT_TRUE(b.overflow);
    CU_ASSERT_EQUAL(b.len, 7);
    char *s = text_buf_take(&b);
    CU_ASSERT_STRING_EQUAL(s, "abcдо");
    free(s);
    s = text_buf_take(&b);
    CU_ASSERT_STRING_EQUAL(s, "");
    free(s);
    text_buf_free(&b);
}

/* Code points at every length boundary become the bytes UTF-8 has for
 * them, and those bytes validate. */
static void test_utf8_put(void)
{
    static const struct { uint32_t cp; const char *utf8; } cases[] = {
        {0x41, "A"}, {0x7F, "\x7f"}, {0x80, "\xc2\x80"}, {0x7FF, "\xdf\xbf"},
        {0x800, "\xe0\xa0\x80"}, {0x42F, "\xd0\xaf"}, {0xFFFF, "\xef\xbf\xbf"},
        {0x10000, "\xf0\x90\x80\x80"}, {0x1F600, "\xf0\x9f\x98\x80"},
        {0x10FFFF, "\xf4\x8f\xbf\xbf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[4];
        size_t n = text_utf8_put(cases[i].cp, out);
        CU_ASSERT_EQUAL(n, strlen(cases[i].utf8));
        CU_ASSERT(n <= 4 && memcmp(out, cases[i].utf8, n) == 0);
        CU_ASSERT(text_utf8_valid(out, n));
    }
}

static void test_equal_fold(void)
{
    CU_ASSERT_TRUE(text_equal_fold("economy", "Economy"));
    CU_ASSERT_TRUE(text_equal_fold("ЭКОНОМ", "эконом"));
    CU_ASSERT_TRUE(text_equal_fold("Ёлка", "ёЛКА"));
    CU_ASSERT_TRUE(text_equal_fold("Čačak ŠUMADIJA Đ", "čačak šumadija đ"));
    CU_ASSERT_TRUE(text_equal_fold("ÉTÉ", "été"));
    CU_ASSERT_TRUE(text_equal_fold("", ""));
    CU_ASSERT_FALSE(text_equal_fold("econom", "economy"));
    CU_ASSERT_FALSE(text_equal_fold("эконом", "экономия"));
    CU_ASSERT_FALSE(text_equal_fold("×", "÷")); /* not letters */
    CU_ASSERT_FALSE(text_equal_fold("\xC9", "É")); /* an invalid byte is no letter */
    CU_ASSERT_TRUE(text_equal_fold("\xC9x", "\xC9X"));
    CU_ASSERT_FALSE(text_equal_fold("SUV 🚙", "suv 🚗"));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("text", NULL, NULL);
    CU_add_test(s, "expand", test_expand);
    CU_add_test(s, "utf8 validation", test_utf8);
    CU_add_test(s, "lengths and prefixes", test_lengths);
    CU_add_test(s, "truncate", test_truncate);
    CU_add_test(s, "split", test_split);
    CU_add_test(s, "split a long text", test_split_long);
    CU_add_test(s, "capped buffer", test_buf);
    CU_add_test(s, "code points written as UTF-8", test_utf8_put);
    CU_add_test(s, "equal but for letter case", test_equal_fold);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}

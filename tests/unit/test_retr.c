/*
 * test_retr.c — runtime/ai/retr.c on small passages: folding, whole-stem
 * matching, synonyms (phrases, the word as written before its stem),
 * typos, numbers, languages, the coverage of unknown words, and the
 * contracts of retr_synonyms and retr_add.
 */
#include <CUnit/Basic.h>
#include <string.h>

#include "ai/retr.h"

static retr *g_r;

static int setup(void)
{
    char err[128];
    g_r = retr_open(err, sizeof err);
    if (!g_r)
        return 1;
    if (retr_synonyms(g_r, "crash = collision = accident") ||
        retr_synonyms(g_r, "amex = american express") ||
        retr_synonyms(g_r, "лето = летом = высокий сезон") || retr_synonyms(g_r, "лет = возраст"))
        return 1;
    retr_begin(g_r);
    int rc = retr_add(g_r, 1, "Fleet", "Škoda Octavia, Nissan Qashqai and Toyota Yaris.", "en") |
             retr_add(g_r, 2, "Accident", "In an accident call the police at once.", "en") |
             retr_add(g_r, 3, "Payment", "We accept Visa and American Express cards.", "en") |
             retr_add(g_r, 4, "Insurance", "The insurance excess is 500 euros.", "en") |
             retr_add(g_r, 5, "Высокий сезон", "В высокий сезон цены выше на 20%.", "ru") |
             retr_add(g_r, 6, "Возраст водителя", "Водителю должно быть не меньше 21 года.", "ru") |
             retr_add(g_r, 7, "Unlimited mileage", "Rentals of 3 days have unlimited mileage.", "en");
    return rc || retr_commit(g_r);
}

static int teardown(void)
{
    retr_free(g_r);
    return 0;
}

/* The id of the first hit for q (lang may be NULL), 0 when none. */
static int64_t top(const char *q, const char *lang)
{
    retr_hit h[4];
    int n = retr_search(g_r, q, lang, h, 4);
    CU_ASSERT(n >= 0);
    return n > 0 ? h[0].id : 0;
}

static void test_words(void)
{
    CU_ASSERT_EQUAL(top("skoda", "en"), 1);          /* diacritics folded */
    CU_ASSERT_EQUAL(top("ŠKODA?", "en"), 1);
    CU_ASSERT_EQUAL(top("Niš", "en"), 0);            /* "nis" is not "nissan" */
    CU_ASSERT_EQUAL(top("limit", "en"), 0);          /* nor "limit" "unlimited" */
    CU_ASSERT_EQUAL(top("accidents", "en"), 2);      /* stems */
    CU_ASSERT_EQUAL(top("the of and", "en"), 0);     /* stop words only */
    CU_ASSERT_EQUAL(retr_terms(g_r, "how much is the Octavia 2024?"), 1); /* numbers unsearched */
    CU_ASSERT(!retr_has_words("15.08.2027 10:30 ?!"));
    CU_ASSERT(retr_has_words("5 seats"));
}

static void test_synonyms(void)
{
    CU_ASSERT_EQUAL(top("what if I crash?", "en"), 2);
    CU_ASSERT_EQUAL(top("do you take Amex", "en"), 3);   /* a phrase member */
    CU_ASSERT_EQUAL(top("Летом дороже?", "ru"), 5);      /* "летом" as written */
    CU_ASSERT_EQUAL(top("мне 20 лет", "ru"), 6);         /* "лет" is years */
    /* a group needs two members that can be searched */
    CU_ASSERT_EQUAL(retr_synonyms(g_r, "the = a"), 1);
    CU_ASSERT_EQUAL(retr_synonyms(g_r, "amex"), 1);
}

static void test_typos(void)
{
    CU_ASSERT_EQUAL(top("insurence excess", "en"), 4);
    /* a typo of a stop word is dropped, not weighed as unknown */
    retr_hit h[2];
    CU_ASSERT_EQUAL_FATAL(retr_search(g_r, "сколко сезон", "ru", h, 2) > 0, 1);
    CU_ASSERT_EQUAL(h[0].id, 5);
    CU_ASSERT(h[0].coverage > 0.99);
}

static void test_coverage_and_languages(void)
{
    retr_hit h[4];
    /* a name the passages never mention weighs the most */
    int n = retr_search(g_r, "do you have a Toyota Supra", "en", h, 4);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT(h[0].coverage < RETR_MIN_COVERAGE);
    n = retr_search(g_r, "Toyota Yaris", "en", h, 4);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT(h[0].coverage >= RETR_MIN_COVERAGE);
    /* a language restricts, NULL does not */
    CU_ASSERT_EQUAL(top("Visa", "ru"), 0);
    CU_ASSERT_EQUAL(top("Visa", NULL), 3);
}

static void test_ids(void)
{
    CU_ASSERT_EQUAL(retr_add(g_r, 0, "x", "zero", NULL), -1);
    CU_ASSERT_EQUAL(retr_add(g_r, (int64_t)RETR_MAX_ID + 1, "x", "too far", NULL), -1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("retr", setup, teardown);
    CU_add_test(s, "words: folding, stems, stop words, numbers", test_words);
    CU_add_test(s, "synonyms", test_synonyms);
    CU_add_test(s, "typos", test_typos);
    CU_add_test(s, "coverage and languages", test_coverage_and_languages);
    CU_add_test(s, "ids", test_ids);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}

/*
 * test_kb.c — runtime/ai/kb.c on the rental bot's real knowledge
 * (spec/rental/company_context.txt and its Russian twin): chunking,
 * retrieval in both languages, the threshold that hands a question to a
 * human, the extractive answer, the system prompt and the marker watcher.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/kb.h"
#include "support/slurp.h"

#define EN_FILE "spec/rental/company_context.txt"
#define RU_FILE "spec/rental/company_context.ru.txt"

static char *g_en, *g_ru;
static kb *g_kb;

static int setup(void)
{
    g_en = slurp(EN_FILE);
    g_ru = slurp(RU_FILE);
    if (!g_en || !g_ru)
        return 1;
    kb_doc docs[2] = {
        {"company_context.txt", "en", g_en, strlen(g_en)},
        {"company_context.ru.txt", "ru", g_ru, strlen(g_ru)},
    };
    char err[256];
    g_kb = kb_open(docs, 2, NULL, 0, err, sizeof err);
    if (!g_kb)
        fprintf(stderr, "kb_open: %s\n", err);
    return g_kb ? 0 : 1;
}

static int teardown(void)
{
    kb_free(g_kb);
    free(g_en);
    free(g_ru);
    return 0;
}

static size_t chars(const char *s)
{
    size_t c = 0;
    for (; *s; s++)
        c += ((unsigned char)*s & 0xC0) != 0x80;
    return c;
}

static void test_split(void)
{
    char **v;
    int n;
    CU_ASSERT_EQUAL_FATAL(kb_split(g_en, strlen(g_en), &v, &n), 0);
    CU_ASSERT(n >= 20);
    for (int i = 0; i < n; i++) {
        CU_ASSERT(chars(v[i]) <= KB_CHUNK_MAX);
        CU_ASSERT(v[i][0] != '#');
    }
    /* the preamble under the "#" title (instructions for the model) was
     * served to a customer once: it is no chunk */
    CU_ASSERT(!strncmp(v[0], "About the company\nDunav Drive rents cars", 40));
    for (int i = 0; i < n; i++)
        CU_ASSERT(strstr(v[i], "The assistant answers") == NULL);
    text_parts_free(v, n);

    /* without "##", the "#" headings are the sections; text before the
     * first heading is in none */
    const char *flat = "Notes for the writer.\n\n# Hours\nOpen 8-20.\n\n# Phone\nCall us.\n";
    CU_ASSERT_EQUAL_FATAL(kb_split(flat, strlen(flat), &v, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(v[0], "Hours\nOpen 8-20.");
    CU_ASSERT_STRING_EQUAL(v[1], "Phone\nCall us.");
    text_parts_free(v, n);

    /* a long section is cut at paragraphs, each chunk repeating the
     * heading and overlapping by one paragraph */
    text_buf b;
    text_buf_init(&b, 1 << 20);
    text_buf_adds(&b, "## Long\n\n");
    for (int p = 0; p < 6; p++) {
        char para[400];
        memset(para, 'a' + p, 300);
        para[300] = '\0';
        text_buf_adds(&b, para);
        text_buf_adds(&b, "\n\n");
    }
    CU_ASSERT_EQUAL_FATAL(kb_split(b.p, b.len, &v, &n), 0);
    CU_ASSERT_EQUAL(n, 3);
    for (int i = 0; i < n; i++) {
        CU_ASSERT(!strncmp(v[i], "Long\n", 5));
        CU_ASSERT(chars(v[i]) <= KB_CHUNK_MAX);
    }
    /* chunk 1 ends with c's, chunk 2 starts with them */
    CU_ASSERT(strstr(v[0], "ccc") != NULL);
    CU_ASSERT(!strncmp(v[1], "Long\nccc", 8));
    text_parts_free(v, n);
    text_buf_free(&b);

    /* a paragraph longer than a chunk is cut at sentence ends */
    text_buf_init(&b, 1 << 20);
    text_buf_adds(&b, "## Sentences\n");
    for (int s = 0; s < 40; s++)
        text_buf_adds(&b, "This sentence is about fifty characters long, ok. ");
    CU_ASSERT_EQUAL_FATAL(kb_split(b.p, b.len, &v, &n), 0);
    CU_ASSERT(n >= 2);
    for (int i = 0; i < n; i++) {
        CU_ASSERT(chars(v[i]) <= KB_CHUNK_MAX);
        size_t l = strlen(v[i]);
        CU_ASSERT(l > 0 && v[i][l - 1] == '.');
    }
    text_parts_free(v, n);
    text_buf_free(&b);
}

static void expect_top(const char *q, const char *lang, const char *heading)
{
    kb_hit h[5];
    int n = kb_search(g_kb, q, lang, h, 5);
    CU_ASSERT_FATAL(n > 0);
    if (strncmp(h[0].text, heading, strlen(heading)))
        fprintf(stderr, "\n'%s': top is '%.40s' (coverage %.2f)\n", q, h[0].text, h[0].coverage);
    CU_ASSERT(!strncmp(h[0].text, heading, strlen(heading)));
    if (!kb_answers(&h[0]))
        fprintf(stderr, "\n'%s': coverage %.2f\n", q, h[0].coverage);
    CU_ASSERT(kb_answers(&h[0]));
}

static void test_search(void)
{
    expect_top("how much is the deposit?", "en", "Deposit\n");
    expect_top("сколько стоит депозит?", "ru", "Депозит\n");
    expect_top("Какой залог за минивэн?", "ru", "Депозит\n");
    expect_top("do you deliver to the airport?", "en", "Airport delivery\n");
    expect_top("можно поехать в Черногорию?", "ru", "Выезд за границу\n");
    expect_top("What documents do I need?", "en", "Documents at pick-up\n");
    expect_top("Do you have child seats?", "en", "Child seats and extras\n");
    expect_top("Škoda automatic", "en", "Fleet and car classes\n");

    kb_hit h[5];
    int n = kb_search(g_kb, "сколько стоит депозит?", "ru", h, 5);
    CU_ASSERT(n > 0);
    for (int i = 0; i < n; i++)
        CU_ASSERT_STRING_EQUAL(h[i].lang, "ru");
    CU_ASSERT_STRING_EQUAL(h[0].source, "company_context.ru.txt");
    /* nothing but stop words: nothing to search */
    CU_ASSERT_EQUAL(kb_search(g_kb, "how much is it?", "en", h, 5), 0);
}

static void test_threshold(void)
{
    /* the Golf is in the fleet list, but whether one is free on 12 May is
     * for a manager: below the threshold (in English "may" is a stop
     * word and the fleet's "Golf" covers most of the question, so the
     * spec's handoff_patterns catch that one: rental_offline.e2e) */
    char *a = NULL;
    CU_ASSERT_EQUAL(kb_extract(g_kb, "свободен ли Гольф 12 мая?", "ru", &a), 0);
    CU_ASSERT_PTR_NULL(a);
    CU_ASSERT_EQUAL(kb_extract(g_kb, "do you sell bitcoin mining rigs?", "en", &a), 0);
    CU_ASSERT_EQUAL(kb_extract(g_kb, "", "en", &a), 0);
    /* whole stems, no prefixes: "Niš" is not "Nissan" */
    CU_ASSERT_EQUAL(kb_extract(g_kb, "Can you deliver a car to Niš?", "en", &a), 0);
    kb_hit h[4];
    int n = kb_search(g_kb, "Niš", "en", h, 4);
    CU_ASSERT_EQUAL(n, 0);
    /* numbers, dates, times and punctuation are no question */
    CU_ASSERT(!kb_is_question("5"));
    CU_ASSERT(!kb_is_question("15.08.2027"));
    CU_ASSERT(!kb_is_question("10:30 ?!"));
    CU_ASSERT(kb_is_question("5 seats?"));
    CU_ASSERT_EQUAL(kb_extract(g_kb, "15.08.2027", "en", &a), 0);
    CU_ASSERT_EQUAL(kb_extract(g_kb, "5", "ru", &a), 0);
}

static void test_extract(void)
{
    char *a = NULL;
    CU_ASSERT_EQUAL_FATAL(kb_extract(g_kb, "how much is the deposit?", "en", &a), 1);
    CU_ASSERT(!strncmp(a, "Deposit\nEvery rental needs a refundable security deposit", 56));
    CU_ASSERT(strstr(a, "Economy €200") != NULL);
    free(a);
    CU_ASSERT_EQUAL_FATAL(kb_extract(g_kb, "сколько стоит депозит?", "ru", &a), 1);
    CU_ASSERT(!strncmp(a, "Депозит\n", strlen("Депозит\n")));
    CU_ASSERT(strstr(a, "Эконом 200 €") != NULL);
    free(a);
    /* a Russian user asking in English falls back to the English text */
    CU_ASSERT_EQUAL_FATAL(kb_extract(g_kb, "deposit", "ru", &a), 1);
    CU_ASSERT(!strncmp(a, "Deposit\n", 8));
    free(a);
}

static void test_prompt(void)
{
    kb_hit h[3];
    int n = kb_search(g_kb, "how much is the deposit?", "en", h, 3);
    CU_ASSERT_FATAL(n > 0);
    char *p = kb_system_prompt("You are the assistant of Dunav Drive.", NULL, true, "en", h, n,
                               6000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static const char head[] = "You are the assistant of Dunav Drive.\n\nRules:\n";
    CU_ASSERT(!strncmp(p, head, sizeof head - 1));
    CU_ASSERT(strstr(p, "Answer only from the CONTEXT") != NULL);
    CU_ASSERT(strstr(p, "reply with exactly [[CONTACT_MANAGER]]") != NULL);
    CU_ASSERT(strstr(p, "\"en\"") != NULL);
    CU_ASSERT(strstr(p, "[1] Deposit\n") != NULL);
    free(p);
    /* the context is capped */
    p = kb_system_prompt(NULL, "Policy.", false, "ru", h, n, 10);
    CU_ASSERT(strstr(p, "[1]") == NULL);
    CU_ASSERT(strstr(p, "general knowledge") != NULL);
    CU_ASSERT(!strncmp(p, "Policy.\n\n", 9));
    free(p);
}

/* Feed `s` cut at every position pair; what is shown and found. */
static void check_marker(const char *s, const char *want_show, bool want_found)
{
    size_t n = strlen(s);
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            kb_marker m;
            kb_marker_init(&m);
            text_buf show;
            text_buf_init(&show, 1 << 16);
            kb_marker_feed(&m, s, a, &show);
            kb_marker_feed(&m, s + a, b - a, &show);
            kb_marker_feed(&m, s + b, n - b, &show);
            kb_marker_end(&m, &show);
            const char *got = show.p ? show.p : "";
            if (strcmp(got, want_show) || m.found != want_found) {
                fprintf(stderr, "\nmarker '%s' cut %zu/%zu: shown '%s' found %d\n", s, a, b, got,
                        m.found);
                CU_FAIL("marker");
                text_buf_free(&show);
                return;
            }
            text_buf_free(&show);
        }
    }
}

static void test_marker(void)
{
    check_marker("[[CONTACT_MANAGER]]", "", true);
    check_marker("Sorry. [[CONTACT_MANAGER]] ignored", "Sorry. ", true);
    check_marker("a [[b]] [[CONTACT_MAN", "a [[b]] [[CONTACT_MAN", false);
    check_marker("[[[CONTACT_MANAGER]]", "[", true);
    check_marker("Цена — 200 € [x]", "Цена — 200 € [x]", false);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("kb", setup, teardown);
    CU_add_test(s, "chunking", test_split);
    CU_add_test(s, "retrieval in English and Russian", test_search);
    CU_add_test(s, "questions the knowledge does not answer", test_threshold);
    CU_add_test(s, "extractive answers", test_extract);
    CU_add_test(s, "system prompt", test_prompt);
    CU_add_test(s, "marker split across deltas", test_marker);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}

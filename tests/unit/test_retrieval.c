/*
 * test_retrieval.c — the offline answerer and the retrieval for the model,
 * scored on tests/retrieval/questions.tsv against the rental bot's
 * knowledge. Prints the scores and every miss.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/kb.h"
#include "support/slurp.h"

#define QUESTIONS "tests/retrieval/questions.tsv"
#define EN_FILE "spec/rental/company_context.txt"
#define RU_FILE "spec/rental/company_context.ru.txt"

typedef struct scores {
    int answerable, unanswerable;
    int right;        /* answerable, answered with the expected section */
    int handed_off;   /* unanswerable, handed off */
    int wrong;        /* answerable, answered with another section */
    int at1, at4;     /* answerable, the expected section in the first 1 / 4 hits */
} scores;

/* True when chunk text starts with the heading line `h`. */
static bool is_section(const char *text, const char *h)
{
    size_t n = strlen(h);
    return text && !strncmp(text, h, n) && (text[n] == '\n' || text[n] == '\0');
}

static void heading_of(const char *text, char *out, size_t cap)
{
    size_t n = strcspn(text, "\n");
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), text);
}

static void score_one(kb *k, const char *lang, const char *want, const char *q, scores *s)
{
    bool handoff = !strcmp(want, "handoff");
    char *answer = NULL;
    int found = kb_extract(k, q, lang, &answer);
    CU_ASSERT(found >= 0);
    char got[128] = "handoff";
    if (found > 0)
        heading_of(answer, got, sizeof got);
    if (handoff) {
        s->unanswerable++;
        s->handed_off += found == 0;
    } else {
        s->answerable++;
        s->right += found > 0 && is_section(answer, want);
        s->wrong += found > 0 && !is_section(answer, want);
        kb_hit h[4];
        int n = kb_search(k, q, lang, h, 4);
        CU_ASSERT(n >= 0);
        for (int i = 0; i < n; i++)
            if (is_section(h[i].text, want)) {
                s->at1 += i == 0;
                s->at4++;
                break;
            }
    }
    if (handoff ? found != 0 : found <= 0 || !is_section(answer, want))
        printf("  miss [%s] %s\n       want %s, got %s\n", lang, q, want, got);
    free(answer);
}

static void pct(const char *what, int a, int b)
{
    printf("  %-52s %2d / %2d  %5.1f%%\n", what, a, b, b ? 100.0 * a / b : 0.0);
}

static void test_questions(void)
{
    char *en = slurp(EN_FILE), *ru = slurp(RU_FILE), *qs = slurp(QUESTIONS);
    CU_ASSERT_FATAL(en && ru && qs);
    kb_doc docs[2] = {
        {"company_context.txt", "en", en, strlen(en)},
        {"company_context.ru.txt", "ru", ru, strlen(ru)},
    };
    char err[256];
    kb *k = kb_open(docs, 2, err, sizeof err);
    CU_ASSERT_FATAL(k != NULL);
    scores s = {0};
    printf("\n");
    for (char *line = strtok(qs, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        CU_ASSERT_FATAL(t2 != NULL);
        *t1 = *t2 = '\0';
        score_one(k, line, t1 + 1, t2 + 1, &s);
    }
    int all = s.answerable + s.unanswerable;
    printf("  questions: %d answerable, %d not (%s)\n", s.answerable, s.unanswerable, QUESTIONS);
    pct("offline: answerable answered with the right section", s.right, s.answerable);
    pct("offline: unanswerable handed off", s.handed_off, s.unanswerable);
    pct("offline: wrong passages (answerable, other section)", s.wrong, all);
    pct("retrieval: recall@1", s.at1, s.answerable);
    pct("retrieval: recall@4", s.at4, s.answerable);
    CU_ASSERT(s.answerable >= 40 && s.unanswerable >= 40);
    kb_free(k);
    free(en);
    free(ru);
    free(qs);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("retrieval", NULL, NULL);
    CU_add_test(s, "the question set", test_questions);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}

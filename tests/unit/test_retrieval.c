/*
 * test_retrieval.c — the offline answerer and the retrieval for the model,
 * scored on tests/retrieval/questions.tsv against the rental bot's
 * knowledge, as its spec configures it (knowledge files, synonyms: loaded
 * by botc's front half). Prints the scores and every miss, and holds them
 * to the targets of issue 13.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ai/kb.h"
#include "load.h"
#include "support/slurp.h"

#define QUESTIONS "tests/retrieval/questions.tsv"
#define SPEC "spec/rental/bot.yaml"

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
    if (handoff ? found != 0 : found <= 0 || !is_section(answer, want)) {
        kb_hit h[2];
        char top[128] = "none";
        int n = kb_search(k, q, lang, h, 2);
        if (n > 0)
            heading_of(h[0].text, top, sizeof top);
        printf("  miss [%s] %s\n       want %s, got %s (best hit: %s, coverage %.2f)\n", lang, q,
               want, got, top, n > 0 ? h[0].coverage : 0.0);
    }
    free(answer);
}

static void pct(const char *what, int a, int b)
{
    printf("  %-52s %2d / %2d  %5.1f%%\n", what, a, b, b ? 100.0 * a / b : 0.0);
}

static void test_questions(void)
{
    char *qs = slurp(QUESTIONS);
    arena *a = arena_new();
    diag_list *d = NULL;
    ir_spec *spec = load_spec(a, SPEC, &d);
    CU_ASSERT_FATAL(qs && spec && diag_errors(d) == 0);
    const ir_llm *l = &spec->llm;
    kb_doc docs[8];
    CU_ASSERT_FATAL(l->n_knowledge > 0 && l->n_knowledge <= 8);
    for (int i = 0; i < l->n_knowledge; i++)
        docs[i] = (kb_doc){.name = l->knowledge[i].file, .lang = spec->langs[l->knowledge[i].lang],
                           .text = l->knowledge[i].text, .len = l->knowledge[i].len};
    char err[256];
    kb *k = kb_open(docs, l->n_knowledge, l->synonyms, l->n_synonyms, err, sizeof err);
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
    /* the targets: ≥ 90% right, ≥ 90% handed off, ≤ 2% wrong passages,
     * recall@1 ≥ 80%, recall@4 ≥ 97% */
    CU_ASSERT(s.right * 10 >= s.answerable * 9);
    CU_ASSERT(s.handed_off * 10 >= s.unanswerable * 9);
    CU_ASSERT(s.wrong * 50 <= all);
    CU_ASSERT(s.at1 * 5 >= s.answerable * 4);
    CU_ASSERT(s.at4 * 100 >= s.answerable * 97);
    kb_free(k);
    diag_free(d);
    arena_free(a);
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

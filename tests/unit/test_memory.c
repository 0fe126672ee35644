/*
 * test_memory.c — long-term memory (actions/memory.h): what memory_keep
 * stores, what memory_recall finds for a question (a related one gets the
 * fact, an unrelated one nothing; stems, synonyms, Russian), that it reads
 * only the asking user's items (a canary planted in one user's memory
 * never reaches another's recall), its budget, the per-user cap, and
 * retr_rank itself.
 */
#include <CUnit/Basic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/memory.h"
#include "ai/retr.h"
#include "base/log.h"
#include "dialogue/bot.h"
#include "storage/store.h"
#include "support/sql_int.h"
#include "support/tiny_machine.h"

static char dir[64];
static int n_db;

static bot *fresh(void)
{
    char db[128], err[256];
    snprintf(db, sizeof db, "%s/bot%d.db", dir, n_db++);
    bot *b = bot_new(&tiny_machine, db, err, sizeof err);
    if (!b)
        fprintf(stderr, "bot_new: %s\n", err);
    return b;
}

static bool recalls(bot *b, int64_t user, const char *q, const char *what)
{
    char *m = memory_recall(b, user, q);
    bool yes = m && strstr(m, what);
    free(m);
    return yes;
}

static void test_keep_and_recall(void)
{
    bot *b = fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(memory_keep(b, 1, "fact", "My dog is called Rex", 0), 0);
    CU_ASSERT_EQUAL(memory_keep(b, 1, "fact", "I prefer Python for scripting", 0), 0);
    CU_ASSERT_EQUAL(memory_keep(b, 1, "summary", "We planned the trip to Lisbon in May", 7), 0);
    CU_ASSERT_EQUAL(memory_keep(b, 1, "fact", "   \n ", 0), 0); /* blank: nothing kept */
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM memory_items"), 3);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT session_id FROM memory_items WHERE kind ="
                                            " 'summary'"), 7);
    /* session 7 continued and closed again: its summary is replaced, not
     * doubled; another session's and the facts stay */
    CU_ASSERT_EQUAL(memory_keep(b, 1, "summary", "We booked the flights to Lisbon for May", 7), 0);
    CU_ASSERT_EQUAL(memory_keep(b, 1, "summary", "We compared laptops", 8), 0);
    CU_ASSERT_EQUAL(memory_keep(b, 2, "summary", "Another user's session 7", 7), 0);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM memory_items WHERE user_id = 1"
                                            " AND session_id = 7"), 1);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM memory_items WHERE user_id = 1"
                                            " AND text LIKE '%booked the flights%'"), 1);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM memory_items WHERE user_id = 1"), 4);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM memory_items WHERE user_id = 2"), 1);

    char *m = memory_recall(b, 1, "what are my dogs called?"); /* a stem: dogs ~ dog */
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(m, "Long-term memory"));
    CU_ASSERT_PTR_NOT_NULL(strstr(m, "- (fact) My dog is called Rex\n"));
    CU_ASSERT_PTR_NULL(strstr(m, "Python"));
    free(m);
    CU_ASSERT_TRUE(recalls(b, 1, "When do we go to Lisbon?", "(summary) We booked the flights"));
    /* nothing of the memory concerns it: no block at all */
    m = memory_recall(b, 1, "how do I bake bread?");
    CU_ASSERT_PTR_NULL(m);
    free(m);
    CU_ASSERT_PTR_NULL(memory_recall(b, 1, "12.05.2026"));
    /* a user with no memory */
    CU_ASSERT_PTR_NULL(memory_recall(b, 2, "what is my dog called?"));
    bot_free(b);
}

static void test_russian_and_synonyms(void)
{
    bot *b = fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(memory_keep(b, 5, "fact", "я живу в Белграде", 0), 0);
    CU_ASSERT_EQUAL(memory_keep(b, 5, "fact", "мои документы лежат в синей папке", 0), 0);
    CU_ASSERT_TRUE(recalls(b, 5, "Что интересного в Белграде?", "я живу в Белграде"));
    /* the built-in synonyms: бумаги = документы */
    CU_ASSERT_TRUE(recalls(b, 5, "где мои бумаги?", "синей папке"));
    bot_free(b);
}

/* The canary: 50 users keep the same kinds of facts; user 13's secret is
 * never recalled for anyone else, whatever they ask. */
static void test_scoped_to_the_user(void)
{
    bot *b = fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    for (int64_t u = 1; u <= 50; u++) {
        char fact[96];
        snprintf(fact, sizeof fact, "my locker code is %lld and my cat is grey", (long long)u);
        CU_ASSERT_EQUAL(memory_keep(b, u, "fact", fact, 0), 0);
    }
    CU_ASSERT_EQUAL(memory_keep(b, 13, "fact", "the canary password is zebra-7431", 0), 0);
    CU_ASSERT_TRUE(recalls(b, 13, "what is the canary password?", "zebra-7431"));
    int leaks = 0;
    for (int64_t u = 1; u <= 50; u++) {
        if (u == 13)
            continue;
        const char *qs[] = {"what is the canary password?", "zebra-7431", "password locker cat"};
        for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
            char *m = memory_recall(b, u, qs[i]);
            leaks += m && strstr(m, "zebra");
            /* and the user's own fact, not another's */
            char mine[64];
            snprintf(mine, sizeof mine, "locker code is %lld and", (long long)u);
            if (i == 2)
                CU_ASSERT_TRUE(m && strstr(m, mine));
            free(m);
        }
    }
    CU_ASSERT_EQUAL(leaks, 0);
    bot_free(b);
}

static void test_budget_and_cap(void)
{
    bot *b = fresh();
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    /* ten long items about the same thing: the budget takes what fits */
    char big[MEMORY_MAX_TEXT + 200];
    for (int i = 0; i < 10; i++) {
        int n = snprintf(big, sizeof big, "garden note %d:", i);
        while (n < (int)sizeof big - 8)
            n += snprintf(big + n, sizeof big - (size_t)n, " garden");
        CU_ASSERT_EQUAL(memory_keep(b, 3, "fact", big, 0), 0);
    }
    /* each item was cut to MEMORY_MAX_TEXT bytes */
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT max(length(CAST(text AS BLOB))) FROM"
                                            " memory_items"), MEMORY_MAX_TEXT);
    char *m = memory_recall(b, 3, "what about the garden?");
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_TRUE(strlen(m) < 300 + (size_t)MEMORY_TOKENS * 4);
    free(m);
    /* a Cyrillic text is cut at a character, not inside one */
    char ru[MEMORY_MAX_TEXT + 10] = "";
    for (size_t n = 0; n + 3 < sizeof ru;)
        n += (size_t)snprintf(ru + n, sizeof ru - n, "ж");
    memmove(ru + 1, ru, strlen(ru) + 1 > sizeof ru - 1 ? sizeof ru - 1 : strlen(ru) + 1);
    ru[0] = 'a'; /* odd byte count before the cut */
    ru[sizeof ru - 1] = '\0';
    CU_ASSERT_EQUAL(memory_keep(b, 4, "fact", ru, 0), 0);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT length(CAST(text AS BLOB)) FROM memory_items"
                                            " WHERE user_id = 4"), MEMORY_MAX_TEXT - 1);
    /* the cap: the oldest go */
    CU_ASSERT_EQUAL(store_begin(bot_store(b)), 0);
    for (int i = 0; i < MEMORY_MAX_ITEMS + 5; i++) {
        char f[48];
        snprintf(f, sizeof f, "fact number %d", i);
        CU_ASSERT_EQUAL(memory_keep(b, 9, "fact", f, 0), 0);
    }
    CU_ASSERT_EQUAL(store_commit(bot_store(b)), 0);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM memory_items WHERE user_id = 9"),
                    MEMORY_MAX_ITEMS);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM memory_items WHERE user_id = 9"
                                            " AND text = 'fact number 4'"), 0);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM memory_items WHERE user_id = 9"
                                            " AND text = 'fact number 5'"), 1);
    bot_free(b);
}

/* Inserts a vector of dims floats for user's item whose text is `text`. */
static void put_vec(bot *b, int64_t user, const char *text, const float *v, int dims)
{
    sqlite3_stmt *st;
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(sql_store_db(bot_store(b)),
                                             "INSERT INTO memory_vectors(item_id, user_id, model,"
                                             " dims, vec, at) SELECT id, user_id, 'm', ?3, ?4, 0"
                                             " FROM memory_items WHERE user_id = ?1 AND text = ?2",
                                             -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, user);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, dims);
    sqlite3_bind_blob(st, 4, v, dims * (int)sizeof(float), SQLITE_STATIC);
    CU_ASSERT_EQUAL(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

/* Hybrid: an item whose vector is near the question's is recalled with no
 * word in common; a far one is not; another user's vectors are never
 * read (the same vector asked for another user recalls nothing). */
static void test_hybrid(void)
{
    setenv("EMBEDDINGS_BASE", "http://127.0.0.1:9/v1", 1);
    setenv("EMBEDDINGS_MODEL", "m", 1);
    bot *b = fresh();
    unsetenv("EMBEDDINGS_BASE");
    unsetenv("EMBEDDINGS_MODEL");
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(memory_keep(b, 1, "fact", "I prefer Python", 0), 0);
    CU_ASSERT_EQUAL(memory_keep(b, 1, "fact", "My flat is on the fifth floor", 0), 0);
    CU_ASSERT_EQUAL(memory_keep(b, 2, "fact", "the canary is zebra-7431", 0), 0);
    CU_ASSERT_FALSE(memory_wants_vector(b, 1));
    float py[4] = {1, 0, 0, 0}, flat[4] = {0, 1, 0, 0}, canary[4] = {0, 0, 1, 0};
    put_vec(b, 1, "I prefer Python", py, 4);
    put_vec(b, 1, "My flat is on the fifth floor", flat, 4);
    put_vec(b, 2, "the canary is zebra-7431", canary, 4);
    CU_ASSERT_TRUE(memory_wants_vector(b, 1));
    CU_ASSERT_FALSE(memory_wants_vector(b, 3));

    float q[4] = {0.9f, 0.1f, 0, 0}; /* "which language should I code in?" */
    char *m = memory_recall_hybrid(b, 1, "which language should I code in?", q, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(m, "(fact) I prefer Python"));
    CU_ASSERT_PTR_NULL(strstr(m, "fifth floor")); /* cosine 0.11: below the minimum */
    free(m);
    /* words only, the same question finds nothing */
    CU_ASSERT_PTR_NULL(memory_recall(b, 1, "which language should I code in?"));
    /* a vector of another size is not compared */
    CU_ASSERT_PTR_NULL(memory_recall_hybrid(b, 1, "which language should I code in?", q, 3));
    /* user 2's vector matches this one exactly: never read for user 1 */
    float qc[4] = {0, 0, 1, 0};
    CU_ASSERT_PTR_NULL(memory_recall_hybrid(b, 1, "tell me something", qc, 4));
    m = memory_recall_hybrid(b, 2, "tell me something", qc, 4);
    CU_ASSERT_TRUE(m && strstr(m, "zebra-7431"));
    free(m);
    /* words and vectors together: both items */
    m = memory_recall_hybrid(b, 1, "which floor is my flat on?", q, 4);
    CU_ASSERT_TRUE(m && strstr(m, "fifth floor") && strstr(m, "Python"));
    free(m);
    /* forgetting an item takes its vector */
    CU_ASSERT_EQUAL(store_int(bot_store(b), "DELETE FROM memory_items WHERE text ="
                                            " 'I prefer Python' RETURNING 1"), 1);
    CU_ASSERT_EQUAL(store_int(bot_store(b), "SELECT count(*) FROM memory_vectors WHERE"
                                            " user_id = 1"), 1);
    bot_free(b);
}

static void test_rank(void)
{
    char err[128];
    retr *r = retr_open(err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(retr_synonyms(r, "laptop = notebook"), 0);
    const char *texts[] = {"I work on a ThinkPad notebook", "My favourite colour is green",
                           "green tea every morning, green walls"};
    char *docs[3];
    for (int i = 0; i < 3; i++) {
        docs[i] = retr_analyse(r, texts[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(docs[i]);
    }
    retr_hit h[3];
    /* a synonym of the spec finds the notebook */
    CU_ASSERT_EQUAL(retr_rank(r, "which laptop do I use?", (const char *const *)docs, 3, h, 3), 1);
    CU_ASSERT_EQUAL(h[0].id, 0);
    /* both greens hold the word; the one that is about colour ranks first */
    CU_ASSERT_EQUAL(retr_rank(r, "favourite green colour", (const char *const *)docs, 3, h, 3), 2);
    CU_ASSERT_EQUAL(h[0].id, 1);
    CU_ASSERT_TRUE(h[0].coverage > 0.99);
    CU_ASSERT_TRUE(h[1].coverage < h[0].coverage);
    /* max caps the hits; no words, no hits */
    CU_ASSERT_EQUAL(retr_rank(r, "favourite green colour", (const char *const *)docs, 3, h, 1), 1);
    CU_ASSERT_EQUAL(h[0].id, 1);
    CU_ASSERT_EQUAL(retr_rank(r, "what is it?", (const char *const *)docs, 3, h, 3), 0);
    for (int i = 0; i < 3; i++)
        free(docs[i]);
    retr_free(r);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/botc_memory_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    unsetenv("OPENAI_API_BASE");
    log_set_level(LOG_WARN);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("memory", NULL, NULL);
    CU_add_test(s, "kept items are recalled for related questions only", test_keep_and_recall);
    CU_add_test(s, "Russian stems and built-in synonyms", test_russian_and_synonyms);
    CU_add_test(s, "recall reads only the asking user's items (canary)", test_scoped_to_the_user);
    CU_add_test(s, "the token budget, the item size, the per-user cap", test_budget_and_cap);
    CU_add_test(s, "hybrid: vectors near the question, the user's own only", test_hybrid);
    CU_add_test(s, "retr_rank over a few analysed documents", test_rank);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return fails ? 1 : 0;
}

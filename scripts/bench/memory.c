/*
 * memory.c — long-term memory (runtime/actions/memory.h) at scale: part of
 * `make bench` (alone: `make bench-memory`, or bin/bench-memory [USERS]
 * [ITEMS]).
 *
 * A real SQLite file (in a temp dir) behind the desk bot's machine holds
 * USERS users (default 1,000) with ITEMS memory items each (default 100),
 * kept with memory_keep as the bot keeps them: facts and session summaries
 * made from templates over everyday words (names, places, tools, food,
 * plans), so that a user's items share words with each other and with
 * the questions, as real ones do; a fifth of the users write Russian.
 *
 * Recall: the question set scripts/bench/memory_questions.tsv (50 facts,
 * each with a later question that needs it, in other words and word
 * forms). Each fact is planted among one user's items (at a random place)
 * and the question asked; the fact is recalled when memory_recall's block
 * — what goes into the model's system prompt — holds it.
 *
 * Latency: one question per user (the set's questions in turn, asked of
 * users who mostly do not hold their fact), each timed alone: the SQL read
 * of the user's items, the question's analysis, the bm25 ranking and the
 * block. p50, p99 and the maximum printed, in wall-clock and in CPU time.
 *
 * Hybrid: then every item gets a vector of DIMS floats (default 256,
 * `bin/bench-memory USERS ITEMS DIMS`; 0 skips it) in memory_vectors, as
 * `remember` stores them with an embeddings server, and the same questions
 * are timed through memory_recall_hybrid with a question vector: the
 * words' ranking plus the read of the user's 100 vectors, their cosines
 * and the fusion (the question's embeddings request, a network round
 * trip, is not counted). The vectors are random: the cost does not depend
 * on what they mean, and recall by meaning needs a real model, so it is
 * not measured here. Deterministic: the generator's
 * seed is fixed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actions/memory.h"
#include "base/log.h"
#include "dialogue/bot.h"
#include "storage/store.h"
#include "storage/store_memory.h"
#include "../../generated/desk/desk.h"
#include "../../tests/unit/support/slurp.h"

#define QUESTIONS "scripts/bench/memory_questions.tsv"
#define MAX_Q 64

static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

#define PICK(a) (a[rnd() % (sizeof a / sizeof a[0])])

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* This thread's CPU time: on a loaded machine the wall clock of a
 * 0.1 ms call also counts the scheduler's slices given to others. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *const EN_NAME[] = {"Anna", "Marko", "Olga", "Peter", "Jelena", "Tom", "Sara",
                                      "Ivan", "Nina", "Luka", "Eva", "Filip"};
static const char *const EN_REL[] = {"brother", "mother", "friend", "colleague", "boss", "neighbour",
                                     "cousin", "father", "manager", "partner"};
static const char *const EN_CITY[] = {"Novi Sad", "Berlin", "Vienna", "Prague", "Budapest", "Split",
                                      "Munich", "Zagreb", "Sofia", "Krakow"};
static const char *const EN_TOOL[] = {"Excel", "Notion", "Figma", "Docker", "Jira", "Slack", "VS Code",
                                      "Trello", "Postgres", "Kubernetes"};
static const char *const EN_TASK[] = {"reports", "planning", "invoices", "the backend", "design reviews",
                                      "the quarterly review", "hiring", "the migration", "testing",
                                      "the release"};
static const char *const EN_FOOD[] = {"sushi", "pasta", "burek", "pizza", "ramen", "salad", "tacos",
                                      "pancakes", "soup", "curry"};
static const char *const EN_DAY[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                     "Saturday", "tomorrow", "next week"};
static const char *const EN_TOPIC[] = {"the marketing plan", "a new API design", "the holiday schedule",
                                       "database indexes", "the onboarding flow", "pricing tiers",
                                       "the mobile app", "team goals", "a book club", "home repairs",
                                       "the garden", "a job offer"};
static const char *const EN_THING[] = {"milk", "a charger", "batteries", "a birthday gift", "stamps",
                                       "coffee beans", "a new mouse", "flowers"};

static const char *const RU_NAME[] = {"Анна", "Марко", "Ольга", "Пётр", "Елена", "Илья", "Саша", "Нина"};
static const char *const RU_REL[] = {"брат", "друг", "коллега", "начальник", "сосед", "отец", "тётя"};
static const char *const RU_CITY[] = {"Москве", "Казани", "Нови-Саде", "Сочи", "Берлине", "Риге"};
static const char *const RU_TOPIC[] = {"план маркетинга", "новую схему базы", "график отпусков",
                                       "мобильное приложение", "цели команды", "ремонт на кухне",
                                       "предложение о работе", "книжный клуб"};
static const char *const RU_THING[] = {"молоко", "зарядку", "батарейки", "подарок", "кофе", "цветы"};
static const char *const RU_FOOD[] = {"суши", "пасту", "борщ", "пиццу", "салат", "блины"};

/* One made-up memory item of a user writing `ru` or English, into out. */
static void item(bool ru, char *out, size_t cap)
{
    if (ru) {
        switch (rnd() % 6) {
        case 0: snprintf(out, cap, "Мой %s %s живёт в %s", PICK(RU_REL), PICK(RU_NAME), PICK(RU_CITY)); break;
        case 1: snprintf(out, cap, "Напомни купить %s", PICK(RU_THING)); break;
        case 2: snprintf(out, cap, "Я люблю %s и не люблю %s", PICK(RU_FOOD), PICK(RU_FOOD)); break;
        case 3: snprintf(out, cap, "Итоги сессии: обсудили %s и %s; решили вернуться к этому через неделю",
                         PICK(RU_TOPIC), PICK(RU_TOPIC)); break;
        case 4: snprintf(out, cap, "Встреча с %s про %s", PICK(RU_NAME), PICK(RU_TOPIC)); break;
        default: snprintf(out, cap, "%s просил прислать %s до пятницы", PICK(RU_NAME), PICK(RU_THING)); break;
        }
        return;
    }
    switch (rnd() % 8) {
    case 0: snprintf(out, cap, "My %s %s lives in %s", PICK(EN_REL), PICK(EN_NAME), PICK(EN_CITY)); break;
    case 1: snprintf(out, cap, "I use %s for %s", PICK(EN_TOOL), PICK(EN_TASK)); break;
    case 2: snprintf(out, cap, "I like %s but not %s", PICK(EN_FOOD), PICK(EN_FOOD)); break;
    case 3: snprintf(out, cap, "Remind me to buy %s on %s", PICK(EN_THING), PICK(EN_DAY)); break;
    case 4: snprintf(out, cap, "Meeting with %s about %s on %s", PICK(EN_NAME), PICK(EN_TOPIC),
                     PICK(EN_DAY)); break;
    case 5: snprintf(out, cap, "My %s %s works on %s with %s", PICK(EN_REL), PICK(EN_NAME),
                     PICK(EN_TASK), PICK(EN_TOOL)); break;
    case 6: snprintf(out, cap, "%s asked me to send %s by %s", PICK(EN_NAME), PICK(EN_THING),
                     PICK(EN_DAY)); break;
    default:
        snprintf(out, cap, "Session summary: we discussed %s and %s. The user wants a short plan "
                 "for %s, prefers %s for %s, and will check back on %s.", PICK(EN_TOPIC),
                 PICK(EN_TOPIC), PICK(EN_TASK), PICK(EN_TOOL), PICK(EN_TASK), PICK(EN_DAY));
        break;
    }
}

typedef struct qa {
    bool ru;
    char fact[256], q[256];
} qa;

static int load_questions(qa *v, int max)
{
    char *text = slurp(QUESTIONS);
    if (!text) {
        fprintf(stderr, "bench-memory: cannot read %s (run from the repository root)\n", QUESTIONS);
        return -1;
    }
    int n = 0;
    for (char *save, *line = strtok_r(text, "\n", &save); line && n < max;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || !line[0])
            continue;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2)
            continue;
        *t1 = *t2 = '\0';
        v[n].ru = !strcmp(line, "ru");
        snprintf(v[n].fact, sizeof v[n].fact, "%s", t1 + 1);
        snprintf(v[n].q, sizeof v[n].q, "%s", t2 + 1);
        n++;
    }
    free(text);
    return n;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int64_t g_ids[4096];
static int g_nids;

static int take_id(void *ud, int64_t id, const char *kind, const char *text, const char *terms,
                   int64_t at)
{
    (void)ud, (void)kind, (void)text, (void)terms, (void)at;
    if (g_nids < (int)(sizeof g_ids / sizeof g_ids[0]))
        g_ids[g_nids++] = id;
    return 0;
}

static float frand(void) { return (float)((double)(rnd() >> 11) / 9007199254740992.0 - 0.5); }

/* Vectors for every item, then the questions timed through the hybrid
 * recall. 0 or -1. */
static int hybrid(bot *b, int users, int dims, const qa *qs, int nq, double *lat, double *cpu)
{
    char err[256];
    store *st = bot_store(b);
    store_memory *sm = store_memory_open(st, err, sizeof err);
    float *v = malloc((size_t)dims * sizeof *v);
    if (!sm || !v) {
        fprintf(stderr, "bench-memory: %s\n", sm ? "out of memory" : err);
        return -1;
    }
    double t0 = now_s();
    long n = 0;
    for (int u = 1; u <= users; u++) {
        g_nids = 0;
        if (store_begin(st) || store_memory_each(sm, u, 4096, take_id, NULL) < 0)
            return -1;
        for (int i = 0; i < g_nids; i++, n++) {
            for (int d = 0; d < dims; d++)
                v[d] = frand();
            if (store_memory_put_vec(sm, u, g_ids[i], "bench", v, dims))
                return -1;
        }
        if (store_commit(st))
            return -1;
    }
    printf("hybrid: %ld vectors of %d dims stored in %.1f s\n", n, dims, now_s() - t0);
    for (int u = 1; u <= users; u++) {
        const qa *q = &qs[(u * 7) % nq];
        for (int d = 0; d < dims; d++)
            v[d] = frand();
        double s = now_s(), c = cpu_s();
        char *m = memory_recall_hybrid(b, u, q->q, v, dims);
        lat[u - 1] = (now_s() - s) * 1e3;
        cpu[u - 1] = (cpu_s() - c) * 1e3;
        free(m);
    }
    qsort(lat, (size_t)users, sizeof *lat, cmp_d);
    qsort(cpu, (size_t)users, sizeof *cpu, cmp_d);
    printf("hybrid retrieval per question (words + %d-dim vectors of the user's items): p50 %.3f ms, "
           "p99 %.3f ms, max %.3f ms; CPU time p50 %.3f ms, p99 %.3f ms\n", dims, lat[users / 2],
           lat[(int)(users * 0.99)], lat[users - 1], cpu[users / 2], cpu[(int)(users * 0.99)]);
    free(v);
    store_memory_free(sm);
    return 0;
}

int main(int argc, char **argv)
{
    int users = argc > 1 ? atoi(argv[1]) : 1000, per = argc > 2 ? atoi(argv[2]) : 100;
    int dims = argc > 3 ? atoi(argv[3]) : 256;
    if (users < 50 || per < 2 || dims < 0 || dims > 8192) {
        fprintf(stderr, "usage: bench-memory [USERS >= 50] [ITEMS >= 2] [DIMS 0..8192]\n");
        return 2;
    }
    log_set_level(LOG_WARN);
    unsetenv("OPENAI_API_BASE");
    static qa qs[MAX_Q];
    int nq = load_questions(qs, MAX_Q);
    if (nq <= 0)
        return 1;
    char dir[] = "/tmp/botc_bench_memory_XXXXXX", db[96], err[256];
    if (!mkdtemp(dir))
        return 1;
    snprintf(db, sizeof db, "%s/bot.db", dir);
    /* the memory part reads its embeddings model at open; nothing here
     * asks the server */
    setenv("EMBEDDINGS_BASE", "http://127.0.0.1:9/v1", 1);
    setenv("EMBEDDINGS_MODEL", "bench", 1);
    bot *b = bot_new(&desk_machine, db, err, sizeof err);
    if (!b) {
        fprintf(stderr, "bench-memory: %s\n", err);
        return 1;
    }
    store *st = bot_store(b);

    /* the users' items; question i's fact planted in user (i * users / nq) + 1 */
    double t0 = now_s();
    int planted_at[MAX_Q];
    for (int i = 0; i < nq; i++)
        planted_at[i] = (int)(rnd() % (uint64_t)per);
    for (int u = 1; u <= users; u++) {
        if (store_begin(st))
            return 1;
        int qi = -1;
        for (int i = 0; i < nq; i++)
            if ((int64_t)i * users / nq + 1 == u)
                qi = i;
        bool ru = qi >= 0 ? qs[qi].ru : u % 5 == 0;
        for (int k = 0; k < per; k++) {
            char text[512];
            if (qi >= 0 && k == planted_at[qi])
                snprintf(text, sizeof text, "%s", qs[qi].fact);
            else
                item(ru, text, sizeof text);
            if (memory_keep(b, u, k % 7 == 6 ? "summary" : "fact", text, 0))
                return 1;
        }
        if (store_commit(st))
            return 1;
    }
    double built = now_s() - t0;
    printf("memory: %d users x %d items = %d items in %s, kept in %.1f s\n", users, per,
           users * per, db, built);

    /* recall of the planted facts */
    int got = 0;
    for (int i = 0; i < nq; i++) {
        int64_t u = (int64_t)i * users / nq + 1;
        char *m = memory_recall(b, u, qs[i].q);
        bool ok = m && strstr(m, qs[i].fact);
        got += ok;
        if (!ok)
            printf("  missed: \"%s\" for \"%s\"\n", qs[i].fact, qs[i].q);
        free(m);
    }
    printf("recall of the planted fact into the prompt: %d/%d = %.0f%% (lexical)\n", got, nq,
           100.0 * got / nq);

    /* latency: one question a user, each timed alone */
    double *lat = malloc((size_t)users * sizeof *lat), *cpu = malloc((size_t)users * sizeof *cpu);
    if (!lat || !cpu)
        return 1;
    size_t block = 0;
    long others = 0; /* items recalled for a question whose fact the user does not hold */
    int asked_others = 0;
    for (int u = 1; u <= users; u++) {
        const qa *q = &qs[(u * 7) % nq];
        double s = now_s(), c = cpu_s();
        char *m = memory_recall(b, u, q->q);
        lat[u - 1] = (now_s() - s) * 1e3;
        cpu[u - 1] = (cpu_s() - c) * 1e3;
        block += m ? strlen(m) : 0;
        if (!m || !strstr(m, q->fact)) {
            asked_others++;
            for (const char *l = m; l && (l = strstr(l, "\n- (")); l++)
                others++;
        }
        free(m);
    }
    qsort(lat, (size_t)users, sizeof *lat, cmp_d);
    qsort(cpu, (size_t)users, sizeof *cpu, cmp_d);
    printf("retrieval per question (%d questions, %d items a user): p50 %.3f ms, p99 %.3f ms, "
           "max %.3f ms; %.0f bytes of memory a prompt on average\n", users, per,
           lat[users / 2], lat[(int)(users * 0.99)], lat[users - 1], (double)block / users);
    printf("  questions about a fact the user never kept (%d): %.2f unrelated items recalled "
           "a question on average\n", asked_others, asked_others ? (double)others / asked_others : 0);
    printf("  the same in CPU time (the scheduler's slices for other processes left out): "
           "p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", cpu[users / 2], cpu[(int)(users * 0.99)],
           cpu[users - 1]);
    if (dims > 0 && hybrid(b, users, dims, qs, nq, lat, cpu))
        return 1;
    free(lat);
    free(cpu);
    bot_free(b);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}

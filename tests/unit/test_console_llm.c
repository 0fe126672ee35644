/*
 * test_console_llm.c — the terminal with a model (OPENAI_API_BASE set):
 * the console runs the llm action's request itself against the fake
 * OpenAI-compatible server (tests/fake_llm/) and prints the answer as it
 * streams, once, with the feedback buttons under it. Regression (issue 12):
 * the terminal ignored OPENAI_API_BASE yet logged "answers by the model".
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../fake_llm/fake_llm.h"
#include "base/log.h"
#include "dialogue/bot.h"
#include "front/console.h"
#include "support/tiny_machine.h"

static char dir[64];
static fakellm *g_f;
static bm_machine g_m;
static const bm_llm g_llm = {.persona = BM_NONE, .policy = BM_NONE, .strict = false};

/* What the console printed, and when each byte arrived (ms from the start),
 * read from a pipe by a thread of its own. */
typedef struct capture {
    int fd;
    char out[16384];
    long at[16384];
    size_t n;
    struct timespec t0;
} capture;

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void *reader(void *arg)
{
    capture *c = arg;
    char ch;
    while (c->n + 1 < sizeof c->out && read(c->fd, &ch, 1) == 1) {
        c->at[c->n] = ms_since(&c->t0);
        c->out[c->n++] = ch;
    }
    c->out[c->n] = '\0';
    return NULL;
}

/* One console session over script; the transcript into cap. */
static int run(const char *script, capture *cap)
{
    char db[128], err[256];
    snprintf(db, sizeof db, "%s/llm.db", dir);
    bot *b = bot_new(&g_m, db, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    FILE *in = fmemopen((void *)script, strlen(script), "r");
    int p[2];
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    memset(cap, 0, sizeof *cap);
    cap->fd = p[0];
    clock_gettime(CLOCK_MONOTONIC, &cap->t0);
    pthread_t th;
    pthread_create(&th, NULL, reader, cap);
    FILE *o = fdopen(p[1], "w");
    setvbuf(o, NULL, _IONBF, 0); /* every byte to the reader as the console writes it */
    volatile sig_atomic_t stop = 0;
    int rc = console_run(b, in, o, &stop);
    fclose(o);
    pthread_join(th, NULL);
    close(p[0]);
    fclose(in);
    bot_free(b);
    return rc;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_streams_the_answer(void)
{
    fakellm_reset(g_f);
    fakellm_answer(g_f, "The deposit is 300 euros, returned within a week of the return.");
    fakellm_chunk(g_f, 8);
    fakellm_delay(g_f, 50, 150); /* a model that thinks between words */
    capture cap;
    CU_ASSERT_EQUAL(run("/start\n/ask\n", &cap), 0);
    const char *want = "bot> The deposit is 300 euros, returned within a week of the return.\n"
                       "     [1] 👍 Helped  [2] 👤 Call an operator\n";
    if (!strstr(cap.out, want))
        fprintf(stderr, "\n--- transcript ---\n%s---\n", cap.out);
    CU_ASSERT_PTR_NOT_NULL(strstr(cap.out, want));
    /* printed once: the final message is not printed again */
    CU_ASSERT_EQUAL(count(cap.out, "The deposit is 300"), 1);
    /* streamed: the first words were on screen long before the last ones */
    const char *first = strstr(cap.out, "The deposit");
    const char *last = strstr(cap.out, "the return.");
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    CU_ASSERT_PTR_NOT_NULL_FATAL(last);
    long t_first = cap.at[first - cap.out], t_last = cap.at[last - cap.out];
    if (t_last - t_first < 500)
        fprintf(stderr, "\n  first words at %ld ms, last at %ld ms\n", t_first, t_last);
    CU_ASSERT(t_last - t_first >= 500);
    /* the request was the model's: streamed, the question last */
    CU_ASSERT_EQUAL_FATAL(fakellm_requests(g_f), 1);
    char *req = fakellm_request(g_f, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(req, "\"stream\":true"));
    CU_ASSERT_PTR_NOT_NULL(strstr(req, "\"content\":\"/ask\"")); /* tiny's question: the command */
    free(req);
}

/* The model's Markdown shows formatted as it streams: no markers, list
 * bullets, a code block's lines indented; printed once. */
static void test_formatted(void)
{
    fakellm_reset(g_f);
    fakellm_answer(g_f, "## Steps\n\n- **Open** the `app`\n- pick *Cars*\n\n```sh\nls -l\n```\nDone.");
    fakellm_chunk(g_f, 3);
    capture cap;
    CU_ASSERT_EQUAL(run("/ask\n", &cap), 0);
    const char *want = "bot> Steps\n"
                       "     \n"
                       "     • Open the app\n"
                       "     • pick Cars\n"
                       "     \n"
                       "         ls -l\n"
                       "     Done.\n";
    if (!strstr(cap.out, want))
        fprintf(stderr, "\n--- transcript ---\n%s---\n", cap.out);
    CU_ASSERT_PTR_NOT_NULL(strstr(cap.out, want));
    CU_ASSERT_PTR_NULL(strstr(cap.out, "**"));
    CU_ASSERT_EQUAL(count(cap.out, "Steps"), 1);
}

static void test_marker_and_failure(void)
{
    /* the operator marker never shows; the answer becomes sys_no_answer */
    fakellm_reset(g_f);
    fakellm_answer(g_f, "Let me check. [[CONTACT_MANAGER]]");
    capture cap;
    CU_ASSERT_EQUAL(run("/ask\n", &cap), 0);
    CU_ASSERT_PTR_NULL(strstr(cap.out, "CONTACT_MANAGER"));
    CU_ASSERT_PTR_NOT_NULL(strstr(cap.out, "I could not find an answer to that"));
    CU_ASSERT_PTR_NOT_NULL(strstr(cap.out, "[1] 👤 Call an operator"));
    /* a model that is down: sys_llm_down, and the console goes on */
    fakellm_reset(g_f);
    fakellm_error(g_f, 400, NULL, 10, 0);
    CU_ASSERT_EQUAL(run("/ask\n/echo\n", &cap), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(cap.out, "bot> Sorry, our AI assistant is not answering right now."));
    CU_ASSERT_PTR_NOT_NULL(strstr(cap.out, "bot> Say something"));
    CU_ASSERT_PTR_NULL(strstr(cap.out, "could not handle"));
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/botc_console_llm_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    char err[256];
    g_f = fakellm_start(0, err, sizeof err);
    if (!g_f) {
        fprintf(stderr, "fakellm_start: %s\n", err);
        return 1;
    }
    /* tiny with an llm: section and the texts the llm action says */
    static const char *const extra[][2] = {
        {"👍 Helped", "👍 Помогло"},
        {"👤 Call an operator", "👤 Позвать оператора"},
        {"I could not find an answer to that.", "Ответа нет."},
        {"Sorry, our AI assistant is not answering right now.", "ИИ не отвечает."},
    };
    static const bm_sys_text sys[] = {BM_SYS_HELPED, BM_SYS_OPERATOR, BM_SYS_NO_ANSWER,
                                      BM_SYS_LLM_DOWN};
    g_m = tiny_machine;
    g_m.llm = &g_llm;
    int nt = tiny_machine.n_texts, nl = tiny_machine.n_langs, ne = 4;
    const char **texts = calloc((size_t)((nt + ne) * nl), sizeof *texts);
    if (!texts || nl != 2)
        return 1;
    memcpy(texts, tiny_machine.texts, (size_t)(nt * nl) * sizeof *texts);
    for (int i = 0; i < ne; i++) {
        texts[(nt + i) * nl] = extra[i][0];
        texts[(nt + i) * nl + 1] = extra[i][1];
        g_m.sys_texts[sys[i]] = nt + i;
    }
    g_m.texts = texts;
    g_m.n_texts = nt + ne;
    setenv("OPENAI_API_BASE", fakellm_base(g_f), 1);
    setenv("LLM_TOTAL_TIMEOUT_MS", "10000", 1);
    setenv("USER", "tester", 1);
    setenv("BOT_CONSOLE_LANG", "en", 1);
    log_set_level(LOG_ERROR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("console with a model", NULL, NULL);
    CU_add_test(s, "the answer streams into the terminal", test_streams_the_answer);
    CU_add_test(s, "the marker, a model that is down", test_marker_and_failure);
    CU_add_test(s, "Markdown shows formatted", test_formatted);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    fakellm_stop(g_f);
    free(texts);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return fails ? 1 : 0;
}

/*
 * test_console_reload.c — what live reload needs from the console
 * transport (runtime/front/console.c), over a real pipe as stdin is one:
 *
 *   - it never reads past the line it handles, so the process a reload
 *     executes finds the rest of the input where the user left it;
 *   - CONSOLE_RELOAD set while a line is half read lets that line finish,
 *     and returns 1 with the numbered buttons in BOT_CONSOLE_SCREEN;
 *   - the next console_run takes those buttons back: typing a number
 *     presses the button shown before the reload.
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "dialogue/bot.h"
#include "front/console.h"
#include "base/log.h"
#include "support/tiny_machine.h"

static char dir[64];
static char db[128];

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void write_all(int fd, const char *s)
{
    size_t n = strlen(s);
    CU_ASSERT_EQUAL_FATAL(write(fd, s, n), (ssize_t)n);
}

/* One console session reading the descriptor `in_fd` (as stdin); returns
 * the transcript (malloc'd). */
static char *session(int in_fd, volatile sig_atomic_t *stop, int *rc)
{
    char err[256];
    bot *b = bot_new(&tiny_machine, db, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    int fd = dup(in_fd); /* fclose below must leave in_fd open for the next reader */
    FILE *in = fdopen(fd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    char *out = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&out, &len);
    *rc = console_run(b, in, o, stop);
    fclose(in);
    fclose(o);
    bot_free(b);
    return out;
}

/* What is left in the pipe (its write end closed). */
static char *rest_of(int fd)
{
    static char buf[256];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof buf - 1 && (k = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    return buf;
}

static void test_no_read_ahead(void)
{
    int p[2];
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    write_all(p[1], "/start\n/quit\nleft for the next reader\n");
    close(p[1]);
    volatile sig_atomic_t stop = 0;
    int rc;
    char *out = session(p[0], &stop, &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "bot> Hello, tester!"));
    CU_ASSERT_STRING_EQUAL(rest_of(p[0]), "left for the next reader\n");
    close(p[0]);
    free(out);
}

typedef struct typist {
    int rfd, wfd;
    volatile sig_atomic_t *stop;
} typist;

/* Types the end of a line after asking for a reload in the middle of it. */
static void *type_rest(void *arg)
{
    typist *t = arg;
    /* the console has read every byte so far, "/st" included */
    for (int i = 0; i < 500; i++) {
        int avail = -1;
        if (ioctl(t->rfd, FIONREAD, &avail) == 0 && avail == 0)
            break;
        nap_ms(10);
    }
    nap_ms(50);
    *t->stop = CONSOLE_RELOAD;
    nap_ms(400); /* longer than the console's poll: it has seen the flag */
    if (write(t->wfd, "art\n1\n/quit\n", 12) != 12)
        perror("write");
    close(t->wfd);
    return NULL;
}

static void test_reload_finishes_the_line_and_keeps_the_screen(void)
{
    snprintf(db, sizeof db, "%s/reload.db", dir);
    unsetenv(CONSOLE_SCREEN_ENV);
    int p[2];
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    write_all(p[1], "/start\n1\n/st");
    volatile sig_atomic_t stop = 0;
    typist t = {.rfd = p[0], .wfd = p[1], .stop = &stop};
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, type_rest, &t), 0);
    int rc;
    char *out = session(p[0], &stop, &rc);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(rc, 1);
    /* "/st" + "art" made one line, handled before returning */
    const char *second = strstr(out, "you> 1\n");
    CU_ASSERT_PTR_NOT_NULL(second && strstr(second, "you> /start\n"));
    CU_ASSERT_PTR_NULL(strstr(out, "you> /st\n"));
    CU_ASSERT_PTR_NOT_NULL(getenv(CONSOLE_SCREEN_ENV));
    free(out);

    /* the next process: button 1 of the screen before the reload is Info */
    stop = 0;
    out = session(p[0], &stop, &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "you> 1\nbot> Info for"));
    CU_ASSERT_PTR_NULL(getenv(CONSOLE_SCREEN_ENV));
    if (!strstr(out, "you> 1\nbot> Info for"))
        fprintf(stderr, "\n--- after the reload ---\n%s---\n", out);
    close(p[0]);
    free(out);
}

static void test_reload_between_lines_reads_nothing(void)
{
    int p[2];
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    write_all(p[1], "/start\n");
    close(p[1]);
    volatile sig_atomic_t stop = CONSOLE_RELOAD;
    int rc;
    char *out = session(p[0], &stop, &rc);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NULL(strstr(out, "you>"));
    CU_ASSERT_STRING_EQUAL(rest_of(p[0]), "/start\n");
    close(p[0]);
    free(out);
    unsetenv(CONSOLE_SCREEN_ENV);
}

static void test_a_damaged_screen_is_ignored(void)
{
    static const char *const bad[] = {
        "", "garbage", "2 0 0 0\x1e", "1 0 0 2\x1e" "0 0 0\x1fOnly one\x1f\x1e",
        "1 0 0 0\x1e" "9 0 0\x1fKind 9\x1f\x1e", "1 0 0 0\x1e" "0 0 0 no fields\x1e",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv(CONSOLE_SCREEN_ENV, bad[i], 1);
        int p[2];
        CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
        write_all(p[1], "1\n");
        close(p[1]);
        volatile sig_atomic_t stop = 0;
        int rc;
        char *out = session(p[0], &stop, &rc);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_PTR_NULL(getenv(CONSOLE_SCREEN_ENV));
        CU_ASSERT_PTR_NULL(strstr(out, "Only one"));
        close(p[0]);
        free(out);
    }
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/botc_reload_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(db, sizeof db, "%s/console.db", dir);
    setenv("USER", "tester", 1);
    setenv("BOT_CONSOLE_LANG", "en", 1);
    unsetenv(CONSOLE_SCREEN_ENV);
    log_set_level(LOG_ERROR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("console reload", NULL, NULL);
    CU_add_test(s, "no read-ahead past the line", test_no_read_ahead);
    CU_add_test(s, "a reload finishes the line, keeps the screen",
                test_reload_finishes_the_line_and_keeps_the_screen);
    CU_add_test(s, "a reload between lines reads nothing", test_reload_between_lines_reads_nothing);
    CU_add_test(s, "a damaged screen is ignored", test_a_damaged_screen_is_ignored);
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

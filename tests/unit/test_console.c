/*
 * test_console.c — the console transport driven through memory streams with
 * the tiny machine; the printed transcript is checked line by line.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dialogue/bot.h"
#include "front/console.h"
#include "base/log.h"
#include "support/tiny_machine.h"

static char dir[64];
static char db[128];

/* Run one console session over `script`; returns the transcript (malloc'd). */
static char *run(const bm_machine *m, const char *script, int *rc)
{
    char err[256];
    bot *b = bot_new(m, db, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    FILE *in = fmemopen((void *)script, strlen(script), "r");
    char *out = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&out, &len);
    volatile sig_atomic_t stop = 0;
    *rc = console_run(b, in, o, &stop);
    fclose(in);
    fclose(o);
    bot_free(b);
    return out;
}

/* Every expected line appears, in this order, as a whole line. */
static void expect_lines(const char *out, const char *const *want)
{
    const char *p = out;
    for (int i = 0; want[i]; i++) {
        const char *q = p;
        size_t wl = strlen(want[i]);
        for (;;) {
            q = strstr(q, want[i]);
            if (!q || ((q == out || q[-1] == '\n') && (q[wl] == '\n' || q[wl] == '\0')))
                break;
            q++;
        }
        if (!q) {
            fprintf(stderr, "\nmissing (in order): '%s'\n--- transcript ---\n%s---\n", want[i], out);
            CU_FAIL("transcript line missing");
            return;
        }
        p = q + wl;
    }
}

static void test_dialogue(void)
{
    const char *script =
        "/start\n"
        "1\n"          /* reply button: Info */
        "1\n"          /* inline: More (edits the message) */
        "1\n"          /* inline: Back to info */
        "3\n"          /* URL button */
        "/start\n"
        "2\n"          /* reply: Book */
        "Ann\n"
        "/cancel\n"
        "3\n"          /* the contact button */
        "/start\n"
        "nonsense\n"
        "/echo\n"
        "/voice\n"
        "/contact +381 60 1234567\n"
        "/quit\n"
        "never read\n";
    int rc;
    char *out = run(&tiny_machine, script, &rc);
    CU_ASSERT_EQUAL(rc, 0);
    static const char *const want[] = {
        "(a new conversation: type /start; /contact +NUMBER shares a phone, /voice FILE.ogg sends a recording, /quit leaves)",
        "you> /start",
        "bot> Hello, tester!",
        "     [1] ℹ️ Info  [2] 📝 Book",
        "     [3] 📱 Phone (shares your contact)",
        "bot> Main menu (en)",
        "you> 1",
        "bot> Info for @ (id 1)",
        "     [1] More", /* its own keyboard numbers from 1 */
        "     [2] Back  [3] Site <https://example.com>",
        "you> 1",
        "bot (edited)> More details",
        "     [1] Back",
        "you> 1",
        "bot (edited)> Info for @ (id 1)",
        "     [1] More", /* the same screen, the same numbers */
        "     [2] Back  [3] Site <https://example.com>",
        "you> 3",
        "     (opens https://example.com)",
        "you> /start",
        "you> 2",
        "bot> Your name?",
        "you> Ann",
        "bot> Your age?",
        "you> /cancel",
        "bot> Booking cancelled",
        "bot> Hello, tester!",
        "you> 3",
        "bot> Thanks for +15550100000",
        "you> /start",
        "you> nonsense",
        "bot> Please use the buttons.",
        "you> /echo",
        "bot> Say something",
        "you> /voice",
        "bot> Not available yet.",
        "you> /contact +381 60 1234567",
        "bot> You said: +381 60 1234567. Nick anon. {braces} {unknown}",
        "you> /quit",
        NULL,
    };
    expect_lines(out, want);
    CU_ASSERT_PTR_NULL(strstr(out, "never read"));
    free(out);
}

static void test_resume_and_migrate(void)
{
    /* the same database again: no new-user hint, the user is where they
     * left off (echo), EOF ends cleanly */
    int rc;
    char *out = run(&tiny_machine, "hello\n", &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NULL(strstr(out, "a new conversation"));
    static const char *const want[] = {"you> hello", "bot> You said: hello. Nick anon. {braces} {unknown}", NULL};
    expect_lines(out, want);
    free(out);

    /* go to "more", then start a version of the bot without that state:
     * the migration message is printed before anything is read */
    out = run(&tiny_machine, "/start\n1\n1\n", &rc);
    free(out);
    bm_machine v2;
    tiny_machine_v2(&v2);
    out = run(&v2, "", &rc);
    CU_ASSERT_EQUAL(rc, 0);
    static const char *const want2[] = {"bot> The bot was updated; let us start over.",
                                        "bot> Hello, tester!", "bot> Main menu (en)", NULL};
    expect_lines(out, want2);
    free(out);
}

/* Regression (issue 12): after a restart the terminal showed nothing, and a
 * number typed mid-form or in the menu pressed a button no longer shown. */
static void test_restart_shows_the_screen(void)
{
    snprintf(db, sizeof db, "%s/restart.db", dir);
    int rc;
    char *out = run(&tiny_machine, "/start\n2\nAnn\n", &rc);
    free(out);
    /* mid-form: the question again, and a number answers it */
    out = run(&tiny_machine, "31\n", &rc);
    static const char *const form[] = {"(where you left off)", "bot> Your age?", "you> 31",
                                       "bot> Weight in kg?", NULL};
    expect_lines(out, form);
    CU_ASSERT_PTR_NULL(strstr(out, "a new conversation"));
    free(out);
    out = run(&tiny_machine, "/cancel\n", &rc);
    free(out);
    /* the menu: its messages and keyboard again, numbered as before */
    out = run(&tiny_machine, "1\n", &rc);
    static const char *const menu[] = {
        "(where you left off)", "bot> Hello, tester!", "     [1] ℹ️ Info  [2] 📝 Book",
        "     [3] 📱 Phone (shares your contact)", "bot> Main menu (en)", "you> 1",
        "bot> Info for @ (id 1)", "     [1] More", NULL};
    expect_lines(out, menu);
    free(out);
    /* an inline screen: pressing "More" edits it; a number past the keyboard
     * shown now is text, not a reply button printed screens ago */
    out = run(&tiny_machine, "1\n1\n3\n", &rc);
    static const char *const inl[] = {
        "(where you left off)", "bot> Info for @ (id 1)", "     [1] More", "you> 1",
        "bot (edited)> More details", "     [1] Back", "you> 1", "bot (edited)> Info for @ (id 1)",
        "     [1] More", "you> 3", "     (opens https://example.com)", NULL};
    expect_lines(out, inl);
    free(out);
    snprintf(db, sizeof db, "%s/console.db", dir);
}

/* export_data in the terminal: one file in the working directory, its
 * path printed (regression, issue 12: the JSON came as chat messages). */
static void test_export_writes_a_file(void)
{
    char old[4096];
    CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(old, sizeof old));
    CU_ASSERT_EQUAL_FATAL(chdir(dir), 0);
    int rc;
    char *out = run(&tiny_machine, "/start\n/export\n", &rc);
    CU_ASSERT_EQUAL(chdir(old), 0);
    char name[64], path[256];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(name, sizeof name, "my-data-%Y-%m-%d.json", &tm);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char line[512];
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"user_id\":\t1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "bot> 📎 my-data-"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, path)); /* where it is */
    CU_ASSERT_PTR_NULL(strstr(out, "bot> {")); /* not as a message */
    free(out);
}

static void test_russian_and_numbers_as_text(void)
{
    snprintf(db, sizeof db, "%s/ru.db", dir);
    setenv("BOT_CONSOLE_LANG", "ru", 1);
    int rc;
    /* in a form without buttons, a number is an answer, not a button */
    char *out = run(&tiny_machine, "/start\n/book\nAnn\n30\n99\n", &rc);
    static const char *const want[] = {
        "bot> Привет, tester!", "     [1] ℹ️ Инфо  [2] 📝 Заявка", "bot> Ваш возраст?",
        "you> 30", "bot> Вес в кг?", "you> 99", "bot> Дата?", NULL,
    };
    expect_lines(out, want);
    free(out);
    setenv("BOT_CONSOLE_LANG", "en", 1);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/botc_console_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(db, sizeof db, "%s/console.db", dir);
    setenv("USER", "tester", 1);
    setenv("BOT_CONSOLE_LANG", "en", 1);
    unsetenv("BOT_CONSOLE_PHONE");
    log_set_level(LOG_WARN);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("console", NULL, NULL);
    CU_add_test(s, "a dialogue", test_dialogue);
    CU_add_test(s, "resume and migrate", test_resume_and_migrate);
    CU_add_test(s, "a restart shows the screen", test_restart_shows_the_screen);
    CU_add_test(s, "export_data writes a file", test_export_writes_a_file);
    CU_add_test(s, "russian, numbers as answers", test_russian_and_numbers_as_text);
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

/*
 * test_import.c — botc import (codegen/import*.c): company documents as
 * knowledge files.
 *
 *  1. Cases as data: every tests/codegen/import/<case>.md and <case>.pdf
 *     (a PDF written by hand as text) imported with -o must equal
 *     <case>.expected.txt byte for byte, and so must the same import on
 *     stdout. BOTC_UPDATE_EXPECTED=1 rewrites the expected files (review!).
 *  2. The imported files serve a bot: beside tests/codegen/import/bot.yaml
 *     they pass `botc check`, and kb_split (what the runtime indexes) finds
 *     exactly their `## ` sections, never the header comment.
 *  3. Usage errors exit 2 and say why; a document that cannot be read, a
 *     broken PDF, a document without text, a missing pdftotext and one
 *     that prints more than the cap (a stand-in script) exit 1.
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "ai/kb.h"
#include "base/text.h"
#include "support/slurp.h"

#define IMPORT_DIR "tests/codegen/import"

#ifdef __SANITIZE_ADDRESS__
#define BIN_DIR "build-san/bin"
#else
#define BIN_DIR "bin"
#endif
#define BOTC BIN_DIR "/botc"

static char tmp_dir[] = "/tmp/botc_import_XXXXXX";

static int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `ENV botc import doc ARGS` with stderr in TMP/err; its exit status. */
static int botc_import_env(const char *env, const char *doc, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s " BOTC " import %s %s 2>%s/err", env, doc, args, tmp_dir);
    return run(cmd);
}

static int botc_import(const char *doc, const char *args)
{
    return botc_import_env("", doc, args);
}

/* What the last botc_import printed on stderr (malloc'd). */
static char *last_err(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/err", tmp_dir);
    char *e = slurp(path);
    return e ? e : strdup("");
}

static void expect_same(const char *got_path, const char *want_path)
{
    char *got = slurp(got_path), *want = slurp(want_path);
    CU_ASSERT_PTR_NOT_NULL(got);
    if (getenv("BOTC_UPDATE_EXPECTED") && got) {
        FILE *f = fopen(want_path, "w");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        fputs(got, f);
        fclose(f);
    } else if (!want || !got || strcmp(got, want)) {
        fprintf(stderr, "\n%s differs from %s (diff -u them; BOTC_UPDATE_EXPECTED=1 rewrites)\n",
                got_path, want_path);
        CU_FAIL("imported file differs from the expected one");
    }
    free(got);
    free(want);
}

static void test_cases(void)
{
    glob_t g;
    CU_ASSERT_EQUAL_FATAL(glob(IMPORT_DIR "/*.md", 0, NULL, &g), 0);
    CU_ASSERT_EQUAL(glob(IMPORT_DIR "/*.pdf", GLOB_APPEND, NULL, &g), 0);
    CU_ASSERT(g.gl_pathc >= 2);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *doc = g.gl_pathv[i];
        char want[512], out[512], args[600];
        const char *dot = strrchr(doc, '.');
        snprintf(want, sizeof want, "%.*s.expected.txt", (int)(dot - doc), doc);
        snprintf(out, sizeof out, "%s/case.txt", tmp_dir);
        snprintf(args, sizeof args, "-o %s", out);
        CU_ASSERT_EQUAL(botc_import(doc, args), 0);
        expect_same(out, want);
        /* stdout: the same bytes */
        snprintf(args, sizeof args, ">%s/stdout.txt", tmp_dir);
        CU_ASSERT_EQUAL(botc_import(doc, args), 0);
        snprintf(out, sizeof out, "%s/stdout.txt", tmp_dir);
        if (!getenv("BOTC_UPDATE_EXPECTED"))
            expect_same(out, want);
    }
    globfree(&g);
}

/* The `## ` headings kb_split finds in `path`, one a line (malloc'd). */
static char *kb_headings(const char *path)
{
    char *text = slurp(path);
    if (!text)
        return NULL;
    char **parts;
    int n;
    char *out = NULL;
    size_t len = 0;
    if (kb_split(text, strlen(text), &parts, &n) == 0) {
        FILE *f = open_memstream(&out, &len);
        for (int i = 0; i < n; i++)
            fprintf(f, "%.*s\n", (int)strcspn(parts[i], "\n"), parts[i]);
        fclose(f);
        text_parts_free(parts, n);
    }
    free(text);
    return out;
}

static void test_served_by_a_bot(void)
{
    char cmd[1024], path[256];
    snprintf(cmd, sizeof cmd, "cp " IMPORT_DIR "/bot.yaml %s/", tmp_dir);
    CU_ASSERT_EQUAL_FATAL(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "-o %s/terms.txt", tmp_dir);
    CU_ASSERT_EQUAL_FATAL(botc_import(IMPORT_DIR "/terms.md", cmd), 0);
    snprintf(cmd, sizeof cmd, "-o %s/terms.ru.txt --lang ru", tmp_dir);
    CU_ASSERT_EQUAL_FATAL(botc_import(IMPORT_DIR "/terms_pdf.pdf", cmd), 0);
    snprintf(cmd, sizeof cmd, BOTC " check %s 2>%s/err", tmp_dir, tmp_dir);
    CU_ASSERT_EQUAL(run(cmd), 0);
    char *err = last_err();
    CU_ASSERT_STRING_EQUAL(err, "");
    free(err);

    snprintf(path, sizeof path, "%s/terms.txt", tmp_dir);
    char *h = kb_headings(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_STRING_EQUAL(h, "Rental terms of Dunav Drive\n"
                              "Deposit\n"
                              "Deposit — Cards\n"
                              "Deposit — Cash\n"
                              "Prices\n"
                              "Insurance\n"
                              "Insurance — Damage\n");
    free(h);
    snprintf(path, sizeof path, "%s/terms.ru.txt", tmp_dir);
    h = kb_headings(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_STRING_EQUAL(h, "RENTAL TERMS\n"
                              "1. Deposit\n"
                              "1. Deposit — 1.1 Cards\n"
                              "2. Insurance\n"
                              "Contact\n");
    free(h);
    char *text = slurp(path);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# Imported from terms_pdf.pdf by `botc import` (language: ru)."));
    free(text);
}

/* `ENV botc import DOC ARGS` exits `status` and says `why` on stderr. */
static void expect_failure_env(const char *env, const char *doc, const char *args, int status,
                               const char *why)
{
    CU_ASSERT_EQUAL(botc_import_env(env, doc, args), status);
    char *e = last_err();
    if (!strstr(e, why)) {
        fprintf(stderr, "\nbotc import %s %s said:\n%s(expected \"%s\")\n", doc, args, e, why);
        CU_FAIL("wrong message");
    }
    free(e);
}

static void expect_failure(const char *doc, const char *args, int status, const char *why)
{
    expect_failure_env("", doc, args, status, why);
}

static void test_errors(void)
{
    char broken[256], empty[256];
    snprintf(broken, sizeof broken, "%s/broken.pdf", tmp_dir);
    snprintf(empty, sizeof empty, "%s/empty.md", tmp_dir);
    FILE *f = fopen(broken, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("%PDF-1.4\nnot really\n", f);
    fclose(f);
    f = fopen(empty, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("---\ntitle: x\n---\n\n# Only a heading\n", f);
    fclose(f);

    CU_ASSERT_EQUAL(run(BOTC " import --help >/dev/null"), 0);
    expect_failure("", "", 2, "'import': missing DOC");
    expect_failure(IMPORT_DIR "/bot.yaml", "", 2, "name a Markdown (.md) or PDF (.pdf) file");
    expect_failure(IMPORT_DIR "/terms.md", "--lang", 2, "--lang needs a value");
    expect_failure(IMPORT_DIR "/terms.md", "--lang RU", 2, "a language code such as en or ru");
    expect_failure(IMPORT_DIR "/terms.md", "--lang ru -o x.txt", 2, "name it NAME.LANG.txt");
    expect_failure(IMPORT_DIR "/terms.md", "--db x", 2, "'import' takes no --db");
    expect_failure("spec/rental", "--lang ru", 2, "name a Markdown");
    CU_ASSERT_EQUAL(run(BOTC " check spec/rental --lang ru 2>/dev/null"), 2);
    expect_failure("/nonexistent/terms.md", ">/dev/null", 1, "cannot read /nonexistent/terms.md");
    expect_failure(broken, ">/dev/null", 1, "pdftotext cannot read");
    expect_failure(empty, ">/dev/null", 1, "has no text to import");
    expect_failure(IMPORT_DIR "/terms.md", "-o /nonexistent/terms.txt", 1, "cannot write /nonexistent/terms.txt");

    /* pdftotext missing, and one that prints more text than the cap */
    expect_failure_env("PATH=/nonexistent", IMPORT_DIR "/terms_pdf.pdf", ">/dev/null", 1,
                       "pdftotext is not installed (apt-get install poppler-utils)");
    char fake[512], env[600];
    snprintf(fake, sizeof fake, "%s/pdftotext", tmp_dir);
    f = fopen(fake, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("#!/bin/sh\nexec head -c 20000000 /dev/zero\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(chmod(fake, 0755), 0);
    snprintf(env, sizeof env, "PATH=%s:/usr/bin:/bin", tmp_dir);
    expect_failure_env(env, IMPORT_DIR "/terms_pdf.pdf", ">/dev/null", 1, "holds more than 16 MiB of text");
}

int main(void)
{
    if (!mkdtemp(tmp_dir))
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("import", NULL, NULL);
    CU_add_test(s, "imports match tests/codegen/import/*.expected.txt", test_cases);
    CU_add_test(s, "imported files pass botc check and split into their sections", test_served_by_a_bot);
    CU_add_test(s, "errors and exit codes", test_errors);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp_dir);
    return failures ? 1 : 0;
}

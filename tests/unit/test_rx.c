/*
 * test_regex.c — the spec regex dialect → re2c translation (codegen/rx.c).
 *
 * Cases live in tests/unit/data/regex/cases.txt: exact translations, every
 * rejection with its byte offset, and matching behaviour — the "M" cases
 * are translated, written into one .re file, compiled with re2c --utf8 and
 * cc, run, and their verdicts compared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "arena.h"
#include "rx.h"
#include "strbuf.h"
#include "support/slurp.h"

#define CASES "tests/unit/data/regex/cases.txt"
#define MAX_CASES 256

typedef struct rx_case {
    int line;
    char kind;          /* 'T', 'V', 'E', 'M' */
    rx_mode mode;
    char *f[4];         /* remaining fields */
    int n_f;
} rx_case;

static rx_case cases[MAX_CASES];
static int n_cases;
static char *cases_text;

static int load_cases(void)
{
    cases_text = slurp(CASES);
    if (!cases_text)
        return -1;
    int line = 0;
    for (char *p = cases_text, *nl; p && *p; p = nl) {
        nl = strchr(p, '\n');
        if (nl)
            *nl++ = '\0';
        line++;
        if (*p == '#' || *p == '\0' || n_cases == MAX_CASES)
            continue;
        rx_case *c = &cases[n_cases++];
        c->line = line;
        char *fields[6];
        int nf = 0;
        for (char *q = p; nf < 6;) {
            fields[nf++] = q;
            char *tab = strchr(q, '\t');
            if (!tab)
                break;
            *tab = '\0';
            q = tab + 1;
        }
        c->kind = fields[0][0];
        int first = 1;
        if (c->kind == 'E' || c->kind == 'M')
            c->mode = fields[first++][0] == 'T' ? RX_TRIGGER : RX_VALIDATOR;
        else
            c->mode = c->kind == 'T' ? RX_TRIGGER : RX_VALIDATOR;
        for (int i = first; i < nf && c->n_f < 4; i++)
            c->f[c->n_f++] = fields[i];
    }
    return 0;
}

static void test_translations(void)
{
    arena *a = arena_new();
    int checked = 0;
    for (int i = 0; i < n_cases; i++) {
        rx_case *c = &cases[i];
        if (c->kind != 'T' && c->kind != 'V')
            continue;
        CU_ASSERT_EQUAL_FATAL(c->n_f, 2);
        rx_error err;
        const char *got = rx_to_re2c(a, c->f[0], c->mode, &err);
        if (!got || strcmp(got, c->f[1]) != 0) {
            fprintf(stderr, "\n%s:%d: /%s/ -> %s\n   expected %s\n", CASES, c->line, c->f[0],
                    got ? got : err.message, c->f[1]);
            CU_FAIL("translation differs");
        }
        checked++;
    }
    CU_ASSERT(checked >= 15);
    arena_free(a);
}

static void test_rejections(void)
{
    arena *a = arena_new();
    int checked = 0;
    for (int i = 0; i < n_cases; i++) {
        rx_case *c = &cases[i];
        if (c->kind != 'E')
            continue;
        CU_ASSERT_EQUAL_FATAL(c->n_f, 3);
        rx_error err;
        const char *got = rx_to_re2c(a, c->f[0], c->mode, &err);
        size_t want_off = (size_t)atoi(c->f[1]);
        if (got || err.offset != want_off || strncmp(err.message, c->f[2], strlen(c->f[2])) != 0) {
            fprintf(stderr, "\n%s:%d: /%s/ -> %s (offset %zu: %s), expected offset %zu: %s\n",
                    CASES, c->line, c->f[0], got ? got : "error", err.offset, err.message,
                    want_off, c->f[2]);
            CU_FAIL("rejection differs");
        }
        /* every rejection explains itself */
        CU_ASSERT(got || err.message[0] != '\0');
        checked++;
    }
    CU_ASSERT(checked >= 25);
    arena_free(a);
}

/* Unescape "\t" in an input field. */
static void put_input(strbuf *sb, const char *in)
{
    sb_putc(sb, '"');
    for (const char *p = in; *p; p++) {
        if (p[0] == '\\' && p[1] == 't') {
            sb_puts(sb, "\\t");
            p++;
        } else if (*p == '"' || *p == '\\') {
            sb_putc(sb, '\\');
            sb_putc(sb, *p);
        } else {
            sb_putc(sb, *p);
        }
    }
    sb_putc(sb, '"');
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static void test_matching(void)
{
    arena *a = arena_new();
    strbuf re, drv;
    sb_init(&re, a);
    sb_init(&drv, a);
    sb_puts(&re, "#include <stddef.h>\n#include <stdio.h>\n\n");
    sb_puts(&drv, "int main(void)\n{\n    int bad = 0;\n");
    int n = 0;
    for (int i = 0; i < n_cases; i++) {
        rx_case *c = &cases[i];
        if (c->kind != 'M')
            continue;
        CU_ASSERT_EQUAL_FATAL(c->n_f, 3);
        rx_error err;
        const char *r = rx_to_re2c(a, c->f[0], c->mode, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        sb_printf(&re, "static int m%d(const unsigned char *YYCURSOR)\n{\n"
                       "    const unsigned char *YYMARKER = NULL;\n    (void)YYMARKER;\n"
                       "    /*!re2c\n        re2c:define:YYCTYPE = \"unsigned char\";\n"
                       "        re2c:yyfill:enable = 0;\n"
                       "        %s \"\\x00\" { return 1; }\n        * { return 0; }\n    */\n}\n\n",
                  n, r);
        sb_printf(&drv, "    if (m%d((const unsigned char *)", n);
        put_input(&drv, c->f[1]);
        sb_printf(&drv, ") != %d) {\n        printf(\"%s:%d: mismatch\\n\");\n        bad++;\n    }\n",
                  atoi(c->f[2]), CASES, c->line);
        n++;
    }
    sb_puts(&drv, "    printf(\"%d mismatches\\n\", bad);\n    return bad != 0;\n}\n");
    sb_puts(&re, drv.s);
    CU_ASSERT(n >= 15);

    char dir[] = "/tmp/botc-test-regex.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[256], cmd[1024];
    snprintf(path, sizeof path, "%s/m.re", dir);
    CU_ASSERT_EQUAL_FATAL(write_text(path, re.s), 0);
    snprintf(cmd, sizeof cmd,
             "re2c -W -Werror --utf8 -o %s/m.c %s/m.re && "
             "cc -std=c11 -Wall -Wextra -Werror -o %s/m %s/m.c && %s/m",
             dir, dir, dir, dir, dir);
    int rc = system(cmd);
    CU_ASSERT_EQUAL(rc, 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (rc == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    arena_free(a);
}

int main(void)
{
    if (load_cases() != 0) {
        fprintf(stderr, "cannot read %s (run from the repository root)\n", CASES);
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("regex", NULL, NULL);
    CU_add_test(s, "translations", test_translations);
    CU_add_test(s, "rejections with offsets", test_rejections);
    CU_add_test(s, "compiled matching", test_matching);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    free(cases_text);
    return failures != 0;
}

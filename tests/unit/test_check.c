/*
 * test_check.c — diagnostics as data: every spec under tests/codegen/diag/
 * (*.yaml, *.yml, *.lua, *.txt) is loaded with load_spec and its rendered
 * diagnostics must equal the sibling <name>.expected byte for byte, so every
 * message, line, column, caret and hint is checked.
 *
 * BOTC_UPDATE_EXPECTED=1 rewrites the .expected files (review the diff!).
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "load.h"
#include "support/slurp.h"

#define DIAG_DIR "tests/codegen/diag"

static char *render(const char *path, int *errors, int *warnings, int *loaded)
{
    arena *a = arena_new();
    diag_list *d = NULL;
    ir_spec *s = load_spec(a, path, &d);
    *loaded = s != NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    diag_print(d, mem);
    fclose(mem);
    *errors = diag_errors(d);
    *warnings = diag_warnings(d);
    diag_free(d);
    arena_free(a);
    return buf;
}

static char *expected_path(const char *spec)
{
    const char *dot = strrchr(spec, '.');
    size_t stem = dot ? (size_t)(dot - spec) : strlen(spec);
    char *p = malloc(stem + sizeof ".expected");
    memcpy(p, spec, stem);
    memcpy(p + stem, ".expected", sizeof ".expected");
    return p;
}

static void test_all_cases(void)
{
    static const char *const patterns[] = { DIAG_DIR "/*.yaml", DIAG_DIR "/*.yml",
                                            DIAG_DIR "/*.lua", DIAG_DIR "/*.txt" };
    int update = getenv("BOTC_UPDATE_EXPECTED") != NULL;
    int cases = 0;
    for (size_t p = 0; p < sizeof patterns / sizeof *patterns; p++) {
        glob_t g;
        if (glob(patterns[p], 0, NULL, &g) != 0)
            continue;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            const char *spec = g.gl_pathv[i];
            int errors, warnings, loaded;
            char *got = render(spec, &errors, &warnings, &loaded);
            char *exp_path = expected_path(spec);
            if (update) {
                FILE *f = fopen(exp_path, "wb");
                fputs(got, f);
                fclose(f);
            }
            char *want = slurp(exp_path);
            if (!want || strcmp(want, got) != 0) {
                fprintf(stderr, "\n--- %s: diagnostics differ from %s\n--- got:\n%s--- want:\n%s",
                        spec, exp_path, got, want ? want : "(missing file)\n");
            }
            CU_ASSERT_PTR_NOT_NULL(want);
            CU_ASSERT_STRING_EQUAL(got, want ? want : "");
            cases++;
            free(want);
            free(exp_path);
            free(got);
        }
        globfree(&g);
    }
    CU_ASSERT(cases >= 30);
}

static void test_clean_specs_have_no_diagnostics(void)
{
    static const char *const clean[] = { DIAG_DIR "/clean.yaml", DIAG_DIR "/lua_clean.lua",
                                         DIAG_DIR "/alias_ok.yaml" };
    for (size_t i = 0; i < sizeof clean / sizeof *clean; i++) {
        int errors, warnings, loaded;
        char *got = render(clean[i], &errors, &warnings, &loaded);
        CU_ASSERT_EQUAL(errors, 0);
        CU_ASSERT_EQUAL(warnings, 0);
        CU_ASSERT_TRUE(loaded);
        CU_ASSERT_STRING_EQUAL(got ? got : "", "");
        free(got);
    }
}

static void test_ten_mistakes_in_one_run(void)
{
    int errors, warnings, loaded;
    char *got = render(DIAG_DIR "/ten_mistakes.yaml", &errors, &warnings, &loaded);
    CU_ASSERT_TRUE(loaded);
    CU_ASSERT_EQUAL(errors, 10);
    /* ten different kinds of mistake, not one repeated */
    static const char *const kinds[] = {
        "unknown placeholder", "missing 'ru' translation", "invalid command name",
        "duplicate command", "button does nothing", "callback data is 70 bytes",
        "invalid regex", "unknown state 'mian'", "duplicate state", "has no validator",
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(got, kinds[i]));
    free(got);
}

static void test_syntax_errors_yield_no_ir(void)
{
    static const char *const bad[] = { DIAG_DIR "/yaml_syntax.yaml", DIAG_DIR "/multi_doc.yaml",
                                       DIAG_DIR "/lua_syntax.lua", DIAG_DIR "/bad_ext.txt",
                                       DIAG_DIR "/does_not_exist.yaml" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int errors, warnings, loaded;
        char *got = render(bad[i], &errors, &warnings, &loaded);
        CU_ASSERT_FALSE(loaded);
        CU_ASSERT_TRUE(errors >= 1);
        free(got);
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("check", NULL, NULL);
    CU_add_test(s, "diagnostics match tests/codegen/diag/*.expected", test_all_cases);
    CU_add_test(s, "clean specs have no diagnostics", test_clean_specs_have_no_diagnostics);
    CU_add_test(s, "ten mistakes, ten diagnostics", test_ten_mistakes_in_one_run);
    CU_add_test(s, "syntax errors yield no IR", test_syntax_errors_yield_no_ir);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures ? 1 : 0;
}

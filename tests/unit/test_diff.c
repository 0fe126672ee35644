/*
 * test_diff.c — botc diff (codegen/spec_diff.c): what a spec change means
 * for live users.
 *
 *  1. Cases as data: tests/codegen/diff/<case>.old.yaml and <case>.new.yaml;
 *     the report without a database must equal <case>.expected, and when
 *     <case>.users exists (rows "user_id state [form field]") a real SQLite
 *     database is made with the runtime's store (store_open creates the
 *     schema), those rows are inserted, and the report with --db must equal
 *     <case>.db.expected. BOTC_UPDATE_EXPECTED=1 rewrites both (review!).
 *  2. Verdicts: a removed state holding users with no destination blocks
 *     (spec_diff > 0, `botc diff` exits 1); renamed_from / moved make the
 *     same change safe (0, exit 0).
 *  3. The database cannot be read: -1 with the reason.
 *  4. The report's promise about users in a form whose field was removed
 *     holds in the runtime: store_load_session drops the form and keeps the
 *     state.
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <sqlite3.h>

#include "arena.h"
#include "diag.h"
#include "load.h"
#include "spec_diff.h"
#include "storage/store.h"
#include "support/slurp.h"
#include "support/tiny_machine.h"

#define DIFF_DIR "tests/codegen/diff"

#ifdef __SANITIZE_ADDRESS__
#define BIN_DIR "build-san/bin"
#else
#define BIN_DIR "bin"
#endif

static char db_dir[] = "/tmp/botc_diff_XXXXXX";

static char *path_of(const char *stem, const char *suffix)
{
    size_t n = strlen(stem) + strlen(suffix) + 1;
    char *p = malloc(n);
    snprintf(p, n, "%s%s", stem, suffix);
    return p;
}

/* The report of spec_diff(old, new, db) (malloc'd); *rc its result. */
static char *diff_report(const char *old_path, const char *new_path, const char *db, int *rc)
{
    arena *a = arena_new();
    diag_list *d1 = NULL, *d2 = NULL;
    ir_spec *o = load_spec(a, old_path, &d1);
    ir_spec *n = load_spec(a, new_path, &d2);
    CU_ASSERT_EQUAL(diag_errors(d1), 0);
    CU_ASSERT_EQUAL(diag_errors(d2), 0);
    char *buf = NULL;
    size_t len = 0;
    *rc = -2;
    if (o && n) {
        FILE *mem = open_memstream(&buf, &len);
        *rc = spec_diff(o, n, db, mem);
        fclose(mem);
    }
    diag_free(d1);
    diag_free(d2);
    arena_free(a);
    return buf ? buf : strdup("");
}

/* A database with the runtime's schema holding the rows of `users_file`.
 * Returns its path (malloc'd) or NULL. */
static char *make_db(const char *users_file, const char *name)
{
    size_t n = strlen(db_dir) + strlen(name) + 8;
    char *path = malloc(n);
    snprintf(path, n, "%s/%s.db", db_dir, name);
    unlink(path);
    char err[256];
    store *st = store_open(path, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL(st);
    if (!st) {
        fprintf(stderr, "store_open: %s\n", err);
        free(path);
        return NULL;
    }
    store_close(st);
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *ins = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db,
                                             "INSERT INTO users(user_id, chat_id, state, form, "
                                             "field, created, updated) VALUES(?1, ?1, ?2, ?3, ?4, "
                                             "'2025-01-01', '2025-01-01')",
                                             -1, &ins, NULL),
                          SQLITE_OK);
    FILE *f = fopen(users_file, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        long id;
        char state[64], form[64], field[64];
        int got = sscanf(line, "%ld %63s %63s %63s", &id, state, form, field);
        CU_ASSERT_TRUE(got == 2 || got == 4);
        sqlite3_bind_int64(ins, 1, id);
        sqlite3_bind_text(ins, 2, state, -1, SQLITE_TRANSIENT);
        if (got == 4) {
            sqlite3_bind_text(ins, 3, form, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 4, field, -1, SQLITE_TRANSIENT);
        } else {
            sqlite3_bind_null(ins, 3);
            sqlite3_bind_null(ins, 4);
        }
        CU_ASSERT_EQUAL(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
    }
    fclose(f);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    return path;
}

static void check_golden(const char *got, const char *exp_path)
{
    if (getenv("BOTC_UPDATE_EXPECTED")) {
        FILE *f = fopen(exp_path, "wb");
        fputs(got, f);
        fclose(f);
    }
    char *want = slurp(exp_path);
    if (!want || strcmp(want, got) != 0)
        fprintf(stderr, "\n--- report differs from %s; got:\n%s", exp_path, got);
    CU_ASSERT_STRING_EQUAL(got, want ? want : "(missing)");
    free(want);
}

static void test_cases(void)
{
    glob_t g;
    CU_ASSERT_EQUAL_FATAL(glob(DIFF_DIR "/*.old.yaml", 0, NULL, &g), 0);
    int cases = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *old_path = g.gl_pathv[i];
        char *stem = strndup(old_path, strlen(old_path) - strlen(".old.yaml"));
        char *new_path = path_of(stem, ".new.yaml");
        char *exp = path_of(stem, ".expected");
        int rc;
        char *got = diff_report(old_path, new_path, NULL, &rc);
        CU_ASSERT_EQUAL(rc, 0); /* without a database nothing blocks */
        check_golden(got, exp);
        free(got);
        char *users = path_of(stem, ".users");
        if (access(users, R_OK) == 0) {
            char *db = make_db(users, strrchr(stem, '/') + 1);
            char *db_exp = path_of(stem, ".db.expected");
            got = diff_report(old_path, new_path, db, &rc);
            check_golden(got, db_exp);
            free(got);
            free(db_exp);
            free(db);
        }
        free(users);
        free(exp);
        free(new_path);
        free(stem);
        cases++;
    }
    globfree(&g);
    CU_ASSERT(cases >= 3);
}

static void test_removed_state_with_users_blocks(void)
{
    char *db = make_db(DIFF_DIR "/changes.users", "blocks");
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    int rc;
    char *got = diff_report(DIFF_DIR "/changes.old.yaml", DIFF_DIR "/changes.new.yaml", db, &rc);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "REMOVED  promo: 2 users stored there and no destination"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "renamed  menu -> main (2 users)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "moved    old_faq -> main (1 user)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "added    contacts"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "added    booking.full_name"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "removed  booking.days (1 user answering it leaves the form"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "added    /contacts"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "removed  /promo"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "1 blocking problem"));
    free(got);

    /* the same change with moved: promo: welcome is safe */
    got = diff_report(DIFF_DIR "/safe.old.yaml", DIFF_DIR "/safe.new.yaml", db, &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "moved    promo -> welcome (2 users)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "safe to deploy"));
    free(got);

    /* merged into an existing state by renamed_from: safe */
    char *mdb = make_db(DIFF_DIR "/merge.users", "merge2");
    got = diff_report(DIFF_DIR "/merge.old.yaml", DIFF_DIR "/merge.new.yaml", mdb, &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "merged   menu -> main (1 user)"));
    free(got);
    free(mdb);

    /* nothing changed, nobody moves */
    got = diff_report(DIFF_DIR "/changes.new.yaml", DIFF_DIR "/changes.new.yaml", db, &rc);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "0 changes, safe to deploy"));
    free(got);
    free(db);
}

static void test_unreadable_database(void)
{
    int rc;
    char *got = diff_report(DIFF_DIR "/changes.old.yaml", DIFF_DIR "/changes.new.yaml",
                            "/nonexistent-dir/x.db", &rc);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "error: cannot open /nonexistent-dir/x.db"));
    free(got);

    /* a SQLite file that is not a bot's database */
    char path[128];
    snprintf(path, sizeof path, "%s/other.db", db_dir);
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    got = diff_report(DIFF_DIR "/changes.old.yaml", DIFF_DIR "/changes.new.yaml", path, &rc);
    CU_ASSERT_EQUAL(rc, -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "error: cannot read users from"));
    free(got);
    unlink(path);
}

/* The report says users at a removed field "leave the form: they stay in
 * their state": the runtime's store must do exactly that. */
static void test_mid_form_matches_runtime(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/midform.db", db_dir);
    unlink(path);
    char err[256];
    store *st = store_open(path, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    store_close(st);
    sqlite3 *db = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(path, &db), SQLITE_OK);
    char *sql = sqlite3_mprintf("INSERT INTO users(user_id, chat_id, state, form, field, created,"
                                " updated) VALUES(42, 42, %Q, %Q, 'vanished', 'x', 'x')",
                                tiny_machine.states[TS_INFO].name,
                                tiny_machine.forms[TF_BOOKING].name);
    CU_ASSERT_EQUAL(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_free(sql);
    sqlite3_close(db);

    st = store_open(path, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    bm_session s;
    CU_ASSERT_EQUAL(store_load_session(st, 42, &s), 1);
    CU_ASSERT_EQUAL(s.form, BM_NONE);
    CU_ASSERT_EQUAL(s.state, TS_INFO);
    bm_session_free(&tiny_machine, &s);
    store_close(st);
    unlink(path);
}

static int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli_exit_codes(void)
{
    if (access(BIN_DIR "/botc", X_OK) != 0) {
        fprintf(stderr, "(" BIN_DIR "/botc not built: skipped) ");
        return;
    }
    char *db = make_db(DIFF_DIR "/changes.users", "cli");
    CU_ASSERT_PTR_NOT_NULL_FATAL(db);
    char cmd[512];
#define BOTC_DIFF(old, new) BIN_DIR "/botc diff " DIFF_DIR "/" old " " DIFF_DIR "/" new
    snprintf(cmd, sizeof cmd, BOTC_DIFF("changes.old.yaml", "changes.new.yaml") " --db %s >/dev/null", db);
    CU_ASSERT_EQUAL(run(cmd), 1);
    snprintf(cmd, sizeof cmd, BOTC_DIFF("safe.old.yaml", "safe.new.yaml") " --db %s >/dev/null", db);
    CU_ASSERT_EQUAL(run(cmd), 0);
    CU_ASSERT_EQUAL(run(BOTC_DIFF("changes.old.yaml", "changes.new.yaml") " >/dev/null"), 0);
    CU_ASSERT_EQUAL(run(BOTC_DIFF("changes.old.yaml", "changes.new.yaml")
                        " --db /nonexistent-dir/x.db >/dev/null"), 1);
    CU_ASSERT_EQUAL(run(BIN_DIR "/botc diff " DIFF_DIR "/changes.old.yaml 2>/dev/null"), 2);
#undef BOTC_DIFF
    free(db);
}

int main(void)
{
    if (!mkdtemp(db_dir))
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("diff", NULL, NULL);
    CU_add_test(s, "reports match tests/codegen/diff/*.expected", test_cases);
    CU_add_test(s, "a removed state holding users blocks", test_removed_state_with_users_blocks);
    CU_add_test(s, "an unreadable database is an error", test_unreadable_database);
    CU_add_test(s, "mid-form users: the report matches the runtime", test_mid_form_matches_runtime);
    CU_add_test(s, "botc diff exit codes", test_cli_exit_codes);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", db_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", db_dir);
    return failures ? 1 : 0;
}

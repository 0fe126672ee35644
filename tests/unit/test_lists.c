/*
 * test_lists.c — the lists that exist once (dialogue/action_list.h,
 * sys_text_list.h, actions/registry.h) agree with the tables derived from
 * them and with the reference spec authors read (spec/REFERENCE.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "actions/registry.h"
#include "dialogue/action.h"
#include "support/slurp.h"

extern const bot_action act_unavailable;

static char *reference;

/* The reference's table row for `name` ("| `name` | ..."), or NULL. */
static const char *row_of(const char *name)
{
    char key[96];
    snprintf(key, sizeof key, "\n| `%s` |", name);
    return reference ? strstr(reference, key) : NULL;
}

static void test_actions(void)
{
    CU_ASSERT_STRING_EQUAL(bm_action_name(BM_ACT_NONE), "none");
    CU_ASSERT_PTR_NULL(bm_action_name(BM_ACT_COUNT));
    for (int a = BM_ACT_NONE + 1; a < BM_ACT_COUNT; a++) {
        const char *name = bm_action_name(a);
        const bot_action *row = bot_actions[a];
        CU_ASSERT_PTR_NOT_NULL_FATAL(row);
        CU_ASSERT_PTR_NOT_NULL(row->run);
        /* a module's row names the action it answers */
        if (row != &act_unavailable)
            CU_ASSERT_STRING_EQUAL(row->name, name);
        const char *doc = row_of(name);
        if (!doc) {
            fprintf(stderr, "spec/REFERENCE.md has no row for the action '%s'\n", name);
            CU_FAIL("an action is not documented");
            continue;
        }
        /* the reference says which actions this build cannot perform */
        const char *eol = strchr(doc + 1, '\n');
        const char *mark = strstr(doc, "not in this build");
        bool says_unavailable = mark && (!eol || mark < eol);
        if (says_unavailable != (row == &act_unavailable))
            fprintf(stderr, "spec/REFERENCE.md: the action '%s' is %s in this build\n", name,
                    row == &act_unavailable ? "not available" : "available");
        CU_ASSERT_EQUAL(says_unavailable, row == &act_unavailable);
    }
}

static void test_sys_texts(void)
{
#define SYS_NAME_(E, name, en, ru) #name,
    static const char *const names[] = {BM_SYS_TEXTS(SYS_NAME_)};
#undef SYS_NAME_
    CU_ASSERT_EQUAL(sizeof names / sizeof names[0], BM_SYS_COUNT);
    for (int t = 0; t < BM_SYS_COUNT; t++) {
        if (!row_of(names[t])) {
            fprintf(stderr, "spec/REFERENCE.md has no row for the text '%s'\n", names[t]);
            CU_FAIL("a system text is not documented");
        }
    }
}

static void test_parts(void)
{
    CU_ASSERT_EQUAL(bot_n_parts, BOT_PART_COUNT);
    for (int i = 0; i < bot_n_parts; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(bot_parts[i]);
        CU_ASSERT_PTR_NOT_NULL(bot_parts[i]->open);
        CU_ASSERT_PTR_NOT_NULL(bot_parts[i]->name);
    }
}

int main(void)
{
    reference = slurp("spec/REFERENCE.md");
    if (!reference) {
        fprintf(stderr, "test_lists: cannot read spec/REFERENCE.md (run from the root)\n");
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("lists", NULL, NULL);
    CU_add_test(s, "every action has a row, a run and a reference entry", test_actions);
    CU_add_test(s, "every system text is in the reference", test_sys_texts);
    CU_add_test(s, "every part has a row and an open", test_parts);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    free(reference);
    return failed ? 1 : 0;
}

/*
 * test_feedback.c — votes under AI answers count only from the user the
 * answer was for (callback data carries no authority); leads render the
 * form's fields with readable labels and the client, and wait in the
 * database for the transport.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "people/feedback.h"
#include "people/lead.h"
#include "storage/store.h"
#include "support/tiny_machine.h"
#include "support/sql_int.h"

static void test_vote_authority(void)
{
    char err[256];
    store *st = store_open(":memory:", &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    fb *f = fb_open(st, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    bm_user ann = {.id = 1001, .chat_id = -500, .first_name = "Ann"};
    bm_session s;
    CU_ASSERT_EQUAL_FATAL(bm_session_init(&tiny_machine, &s, &ann), 0);
    bm_effects fx;
    bm_effects_init(&fx);
    bm_effect *e = bm_effects_add(&fx, BM_FX_SEND, -500);
    e->text = strdup("The deposit is €300.");
    CU_ASSERT_EQUAL(fb_attach(f, &tiny_machine, &s, &ann, e), 0);
    CU_ASSERT_EQUAL_FATAL(e->markup.kind, BM_MK_INLINE);
    CU_ASSERT_EQUAL_FATAL(e->markup.n_buttons, 2);
    const char *helped = e->markup.buttons[0].data;
    const char *op = e->markup.buttons[1].data;
    CU_ASSERT_EQUAL(strncmp(helped, FB_CB_PREFIX, strlen(FB_CB_PREFIX)), 0);

    /* Bob presses Ann's button in the group: answered, not counted */
    bm_input in = {.kind = BM_IN_CALLBACK, .user = {.id = 2002, .chat_id = -500},
                   .text = helped, .message_id = 77, .callback_id = "q1"};
    CU_ASSERT_EQUAL(fb_press(f, &in), FB_IGNORED);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM votes"), 0);
    /* a forged answer id */
    in.text = "bm:fb:999:h";
    CU_ASSERT_EQUAL(fb_press(f, &in), FB_IGNORED);
    in.user.id = 1001;
    CU_ASSERT_EQUAL(fb_press(f, &in), FB_IGNORED);
    in.text = "bm:fb:x";
    CU_ASSERT_EQUAL(fb_press(f, &in), FB_IGNORED);
    /* Ann herself */
    in.text = helped;
    CU_ASSERT_EQUAL(fb_press(f, &in), FB_HELPED);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM votes WHERE user_id = 1001 AND "
                                  "message_id = 77 AND vote = 'helped'"), 1);
    /* regression (issue 12): a second press counted again; one vote per
     * answer, the first (the operator button still calls one) */
    CU_ASSERT_EQUAL(fb_press(f, &in), FB_HELPED);
    in.text = op;
    CU_ASSERT_EQUAL(fb_press(f, &in), FB_OPERATOR);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM votes"), 1);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM votes WHERE vote = 'helped'"), 1);
    /* not ours */
    in.text = "main.0";
    CU_ASSERT_EQUAL(fb_press(f, &in), FB_NOT_MINE);
    in.kind = BM_IN_TEXT;
    in.text = helped;
    CU_ASSERT_EQUAL(fb_press(f, &in), FB_NOT_MINE);
    /* a message that already has buttons keeps them */
    bm_effect *e2 = bm_effects_add(&fx, BM_FX_SEND, -500);
    e2->text = strdup("x");
    e2->markup.kind = BM_MK_REMOVE;
    CU_ASSERT_EQUAL(fb_attach(f, &tiny_machine, &s, &ann, e2), 0);
    CU_ASSERT_EQUAL(e2->markup.kind, BM_MK_REMOVE);
    CU_ASSERT_EQUAL(fb_delete_user(f, 1001), 0);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM votes"), 0);
    bm_effects_free(&fx);
    bm_session_free(&tiny_machine, &s);
    fb_free(f);
    store_close(st);
}

static void test_lead(void)
{
    bm_machine m = tiny_machine;
    bm_form forms[2];
    memcpy(forms, tiny_machine.forms, sizeof forms);
    forms[TF_BOOKING].lead = BM_LEAD_TOPIC;
    m.forms = forms;
    bm_user ann = {.id = 1001, .chat_id = 1001, .first_name = "Ann", .last_name = "Lee",
                   .username = "annlee", .language_code = "ru"};
    const char *rec = "{\"name\":\"Ann Lee\",\"age\":\"30\",\"weight\":\"70.5\","
                      "\"date\":\"2025-07-15\",\"phone\":\"+381601234567\",\"code\":\"AB\","
                      "\"class\":\"SUV\"}";
    char *t = lead_render(&m, TF_BOOKING, rec, &ann, "ru");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    /* the heading is sys_lead, then the client (sys_mgr_lead_client) */
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "📝 New lead · booking\n👤 Ann Lee @annlee, id 1001, language ru\n"
                                     "Name: Ann Lee\nAge: 30\nWeight: 70.5\nDate: 2025-07-15\n"
                                     "Phone: +381601234567\nCode: AB\nClass: SUV"));
    free(t);
    /* managers who speak Russian (MANAGER_LANGUAGE): the lead's own words in Russian */
    setenv("MANAGER_LANGUAGE", "ru", 1);
    t = lead_render(&m, TF_BOOKING, rec, &ann, "ru");
    unsetenv("MANAGER_LANGUAGE");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "📝 Новая заявка · booking\n👤 Ann Lee @annlee, id 1001, язык ru\n"));
    free(t);
    /* a missing value is shown as a dash */
    t = lead_render(&m, TF_QUICK, "{}", &ann, "en");
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nQ: —"));
    free(t);

    char err[256];
    store *st = store_open(":memory:", &m, err, sizeof err);
    lead_book *lb = lead_open(st, &m, 0, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lb);
    CU_ASSERT_EQUAL(lead_add(lb, TF_QUICK, "{}", &ann, "en"), 0); /* no lead: */
    CU_ASSERT_EQUAL(lead_pending(lb), 0);
    CU_ASSERT_EQUAL(lead_add(lb, TF_BOOKING, rec, &ann, "en"), 0);
    CU_ASSERT_EQUAL(lead_pending(lb), 1);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM leads WHERE user_id = 1001 AND "
                                  "form = 'booking' AND text LIKE '%Class: SUV%'"), 1);
    lead_pump(lb, NULL, NULL); /* no group: the lead stays in the database */
    CU_ASSERT_EQUAL(lead_pending(lb), 1);
    lead_free(lb);
    store_close(st);
}

/* A database from before lead_topics had chat_id: its named topic is kept,
 * as the current group's. */
static void test_lead_topics_migrate(void)
{
    bm_machine m = tiny_machine;
    char err[256];
    store *st = store_open(":memory:", &m, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(sqlite3_exec(sql_store_db(st),
                                 "CREATE TABLE lead_topics(name TEXT PRIMARY KEY, thread_id INTEGER NOT NULL);"
                                 "INSERT INTO lead_topics VALUES('Leads', 77);",
                                 NULL, NULL, NULL), SQLITE_OK);
    lead_book *lb = lead_open(st, &m, -100123, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(lb);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM lead_topics WHERE chat_id = -100123 AND "
                                  "name = 'Leads' AND thread_id = 77"), 1);
    lead_free(lb);
    lb = lead_open(st, &m, -100456, err, sizeof err); /* opened again: nothing changes */
    CU_ASSERT_PTR_NOT_NULL_FATAL(lb);
    CU_ASSERT_EQUAL(store_int(st, "SELECT count(*) FROM lead_topics"), 1);
    lead_free(lb);
    store_close(st);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("feedback and leads", NULL, NULL);
    CU_add_test(s, "only the answer's user votes", test_vote_authority);
    CU_add_test(s, "lead text and storage", test_lead);
    CU_add_test(s, "named lead topics move to per-group rows", test_lead_topics_migrate);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}

/*
 * test_handoff.c — runtime/people/handoff.c on a real SQLite database: the
 * managers and handoffs tables, routing decisions for every kind of group
 * and private input, authority checks on buttons and group messages, the
 * topic name, the capped conversation history in store.c, and the
 * 'creating' mark around createForumTopic (and the old table's migration).
 */
#include <CUnit/Basic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "dialogue/bot.h"
#include "people/handoff.h"
#include "base/log.h"
#include "storage/store.h"
#include "base/json.h"
#include "support/tiny_machine.h"
#include "support/sql_int.h"

#define GROUP (-100123)
#define ADMIN 900
#define BOT_ID 123456789

static store *st;
static ho *h;

static int setup(void)
{
    char err[256];
    st = store_open(":memory:", &tiny_machine, err, sizeof err);
    h = st ? ho_open(st, &tiny_machine, err, sizeof err) : NULL;
    if (!h)
        return 1;
    ho_set_config(h, GROUP, ADMIN);
    return 0;
}

static int teardown(void)
{
    ho_free(h);
    store_close(st);
    return 0;
}

static bm_input text_in(int64_t user, int64_t chat, int64_t thread, const char *text)
{
    return (bm_input){.kind = BM_IN_TEXT, .text = text, .msg_id = 42, .thread_id = thread,
                      .user = {.id = user, .chat_id = chat, .first_name = "Mia"}};
}

static bm_input cb_in(int64_t user, const char *data)
{
    return (bm_input){.kind = BM_IN_CALLBACK, .text = data, .callback_id = "q1", .message_id = 7,
                      .user = {.id = user, .chat_id = user, .first_name = "Ann"}};
}

/* Effects of kind `k` (and method m when a CALL) in fx. */
static int count(const bm_effects *fx, bm_effect_kind k, const char *m)
{
    int n = 0;
    for (int i = 0; i < fx->n; i++)
        n += fx->v[i].kind == k && (!m || (fx->v[i].method && !strcmp(fx->v[i].method, m)));
    return n;
}

static void test_managers(void)
{
    CU_ASSERT_EQUAL(ho_is_manager(h, 555), 0);
    CU_ASSERT_EQUAL(ho_is_manager(h, ADMIN), 1); /* the admin always is */
    CU_ASSERT_EQUAL(ho_add_manager(h, 555, "Mia"), 0);
    CU_ASSERT_EQUAL(ho_add_manager(h, 556, "Max"), 0);
    CU_ASSERT_EQUAL(ho_add_manager(h, 556, "Maxim"), 0); /* rename */
    CU_ASSERT_EQUAL(ho_is_manager(h, 555), 1);
    char *l = ho_list_managers(h);
    CU_ASSERT_STRING_EQUAL(l, "555 Mia\n556 Maxim\n");
    free(l);
    CU_ASSERT_EQUAL(ho_del_manager(h, 556), 1);
    CU_ASSERT_EQUAL(ho_del_manager(h, 556), 0);
    CU_ASSERT_EQUAL(ho_is_manager(h, 556), 0);
    CU_ASSERT_EQUAL(ho_group_chat_id(h), GROUP);
    CU_ASSERT_EQUAL(ho_admin_id(h), ADMIN);
    CU_ASSERT_EQUAL(ho_is_manager(NULL, 555), 0);
}

static void test_handoffs_table(void)
{
    int64_t id = 0, id2 = 0;
    ho_handoff x;
    CU_ASSERT_EQUAL(ho_find_open(h, 1001, &x), 0);
    CU_ASSERT_EQUAL(ho_insert(h, 1001, 1001, 100, &id), 0);
    CU_ASSERT(id > 0);
    /* one open handoff per user */
    CU_ASSERT_EQUAL(ho_insert(h, 1001, 1001, 101, &id2), -1);
    CU_ASSERT_EQUAL(ho_find_open(h, 1001, &x), 1);
    CU_ASSERT_EQUAL(x.thread_id, 100);
    CU_ASSERT_EQUAL(x.status, HO_OPEN);
    CU_ASSERT_EQUAL(ho_find_thread(h, 100, &x), 1);
    CU_ASSERT_EQUAL(x.user_id, 1001);
    CU_ASSERT_EQUAL(ho_rate(h, id, 1001, 5), 0); /* still open: no rating */
    CU_ASSERT_EQUAL(ho_close(h, id, 555), 1);
    CU_ASSERT_EQUAL(ho_close(h, id, 555), 0);
    CU_ASSERT_EQUAL(ho_find_thread(h, 100, &x), 0); /* closed topics relay nothing */
    CU_ASSERT_EQUAL(ho_rate(h, id, 2002, 5), 0);    /* not their handoff */
    CU_ASSERT_EQUAL(ho_rate(h, id, 1001, 6), 0);    /* out of range */
    CU_ASSERT_EQUAL(ho_rate(h, id, 1001, 4), 1);
    CU_ASSERT_EQUAL(ho_rate(h, id, 1001, 1), 0);    /* once */
    CU_ASSERT_EQUAL(ho_find_id(h, id, &x), 1);
    CU_ASSERT_EQUAL(x.rating, 4);
    CU_ASSERT_EQUAL(x.status, HO_CLOSED);
    CU_ASSERT(x.closed >= x.opened);
    CU_ASSERT_EQUAL(ho_insert(h, 1001, 1001, 101, &id2), 0); /* a new one after the close */
    CU_ASSERT_EQUAL(ho_forget_user(h, 1001), 0);
    CU_ASSERT_EQUAL(ho_find_id(h, id, &x), 0);
    CU_ASSERT_EQUAL(ho_find_open(h, 1001, &x), 0);
}

static void test_classify(void)
{
    bm_input in = text_in(555, GROUP, 100, "hello");
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 1), HO_R_GROUP_RELAY);
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 0), HO_R_IGNORE); /* not a manager */
    in.text = "/close";
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 1), HO_R_GROUP_CLOSE);
    in.text = "/close@rental_bot";
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 1), HO_R_GROUP_CLOSE);
    in.text = "/closed";
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 1), HO_R_GROUP_RELAY);
    in.thread_id = 0; /* the General topic */
    in.text = "hi";
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 1), HO_R_IGNORE);
    in = text_in(BOT_ID, GROUP, 100, "our own copy");
    in.from_bot = true;
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 1), HO_R_IGNORE);
    in = text_in(777, GROUP, 100, "another bot");
    in.from_bot = true;
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 1), HO_R_IGNORE);
    /* the same thread id in another chat is not the managers' */
    in = text_in(555, -100999, 100, "hello");
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 1), HO_R_PASS);
    /* admin commands: only from the admin, in the group or in private */
    in = text_in(ADMIN, GROUP, 0, "/addmanager 555 Mia");
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 0), HO_R_ADMIN);
    in = text_in(ADMIN, ADMIN, 0, "/managers");
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 0), HO_R_ADMIN);
    in = text_in(555, 555, 0, "/addmanager 555 Mia");
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 1), HO_R_PASS);
    in = text_in(555, GROUP, 100, "/delmanager 556");
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 1), HO_R_GROUP_RELAY);
    in = text_in(ADMIN, ADMIN, 0, "/managers");
    CU_ASSERT_EQUAL(ho_classify(GROUP, 0, BOT_ID, &in, 0), HO_R_PASS); /* no admin set */
    /* buttons */
    in = cb_in(1001, "ho:r:3:5");
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 0), HO_R_BUTTON);
    in = cb_in(1001, "welcome.1");
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 0), HO_R_PASS);
    in.user.chat_id = GROUP;
    CU_ASSERT_EQUAL(ho_classify(GROUP, ADMIN, BOT_ID, &in, 1), HO_R_IGNORE);
    /* no group configured: nothing is handoff business but buttons */
    in = text_in(555, GROUP, 100, "hello");
    CU_ASSERT_EQUAL(ho_classify(0, ADMIN, BOT_ID, &in, 1), HO_R_PASS);
}

static void test_buttons_parse(void)
{
    int64_t id = 0;
    int r = 0;
    CU_ASSERT_EQUAL(ho_parse_button("ho:ok:12", &id, &r), 's');
    CU_ASSERT_EQUAL(id, 12);
    CU_ASSERT_EQUAL(ho_parse_button("ho:r:12:5", &id, &r), 'r');
    CU_ASSERT_EQUAL(r, 5);
    CU_ASSERT_EQUAL(ho_parse_button("ho:r:12:6", &id, &r), 0);
    CU_ASSERT_EQUAL(ho_parse_button("ho:r:12:0", &id, &r), 0);
    CU_ASSERT_EQUAL(ho_parse_button("ho:r:12:55", &id, &r), 0);
    CU_ASSERT_EQUAL(ho_parse_button("ho:r::5", &id, &r), 0);
    CU_ASSERT_EQUAL(ho_parse_button("ho:ok:-1", &id, &r), 0);
    CU_ASSERT_EQUAL(ho_parse_button("ho:ok:1x", &id, &r), 0);
    CU_ASSERT_EQUAL(ho_parse_button("bm:operator", &id, &r), 0);
    CU_ASSERT_EQUAL(ho_parse_button(NULL, &id, &r), 0);
}

static void test_topic_name(void)
{
    char out[256];
    bm_user u = {.id = 1001, .first_name = "Ann", .last_name = "Smith", .username = "ann"};
    ho_topic_name(&u, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "Ann Smith (@ann) #1001");
    bm_user v = {.id = 7, .first_name = "Иван"};
    ho_topic_name(&v, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "Иван #7");
    bm_user w = {.id = 8};
    ho_topic_name(&w, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "Client #8");
    /* 100 two-byte letters: cut to 128 bytes on a character boundary */
    char longname[256] = "";
    for (int i = 0; i < 100; i++)
        strcat(longname, "Ж");
    bm_user x = {.id = 9, .first_name = longname};
    ho_topic_name(&x, out, sizeof out);
    CU_ASSERT(strlen(out) <= 128);
    CU_ASSERT_EQUAL(strlen(out) % 2, 0);
}

/* Authority: a button counts only from the handoff's own user; group
 * messages only from managers, only in the group. */
static void test_take_authority(void)
{
    bm_effects fx;
    bm_effects_init(&fx);
    CU_ASSERT_EQUAL(ho_add_manager(h, 555, "Mia"), 0);
    int64_t id;
    CU_ASSERT_EQUAL_FATAL(ho_insert(h, 1001, 1001, 100, &id), 0);
    char ok[40], rate[48];
    snprintf(ok, sizeof ok, "ho:ok:%lld", (long long)id);
    snprintf(rate, sizeof rate, "ho:r:%lld:2", (long long)id);

    /* someone else presses "I'm satisfied" with forged data: only answered */
    bm_input in = cb_in(2002, ok);
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL(count(&fx, BM_FX_ANSWER, NULL), 1);
    CU_ASSERT_EQUAL(count(&fx, BM_FX_CALL, NULL), 0);
    ho_handoff x;
    CU_ASSERT_EQUAL(ho_find_open(h, 1001, &x), 1);
    bm_effects_clear(&fx);

    /* a non-manager in the topic: dropped, nothing relayed */
    in = text_in(556, GROUP, 100, "I am not a manager");
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL(fx.n, 0);
    /* the bot's own message: dropped */
    in = text_in(BOT_ID, GROUP, 100, "echo");
    in.from_bot = true;
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL(fx.n, 0);
    /* the same thread in another chat: not ours */
    in = text_in(555, -100999, 100, "wrong chat");
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 0);
    CU_ASSERT_EQUAL(fx.n, 0);

    /* the manager: copied to the client with the satisfied button */
    in = text_in(555, GROUP, 100, "Hello Ann");
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL_FATAL(count(&fx, BM_FX_CALL, "copyMessage"), 1);
    cJSON *p = cJSON_Parse(fx.v[0].text);
    int64_t v = 0;
    CU_ASSERT(json_i64(p, "chat_id", &v) == 0 && v == 1001);
    CU_ASSERT(json_i64(p, "from_chat_id", &v) == 0 && v == GROUP);
    CU_ASSERT(json_i64(p, "message_id", &v) == 0 && v == 42);
    CU_ASSERT_PTR_NOT_NULL(strstr(fx.v[0].text, ok));
    cJSON_Delete(p);
    bm_effects_clear(&fx);

    /* the client: copied into the topic */
    in = text_in(1001, 1001, 0, "thanks");
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL_FATAL(count(&fx, BM_FX_CALL, "copyMessage"), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(fx.v[0].text, "\"message_thread_id\":100"));
    bm_effects_clear(&fx);
    /* another user without a handoff: the machine's */
    in = text_in(2002, 2002, 0, "hello");
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 0);

    /* a rating before the close is refused */
    in = cb_in(1001, rate);
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL(count(&fx, BM_FX_EDIT, NULL), 0);
    bm_effects_clear(&fx);

    /* the client's own press closes it: note, closeForumTopic, rating question */
    in = cb_in(1001, ok);
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL(count(&fx, BM_FX_CALL, "closeForumTopic"), 1);
    CU_ASSERT_EQUAL(count(&fx, BM_FX_CALL, "sendMessage"), 1);
    CU_ASSERT_EQUAL(count(&fx, BM_FX_SEND, NULL), 1);
    CU_ASSERT_EQUAL(ho_find_open(h, 1001, &x), 0);
    bm_effects_clear(&fx);
    /* a second press does nothing more */
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL(count(&fx, BM_FX_CALL, NULL), 0);
    bm_effects_clear(&fx);

    /* ratings: not from another user, once from the client */
    in = cb_in(2002, rate);
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL(count(&fx, BM_FX_EDIT, NULL), 0);
    in = cb_in(1001, rate);
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL(count(&fx, BM_FX_EDIT, NULL), 1);
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL(count(&fx, BM_FX_EDIT, NULL), 1);
    CU_ASSERT_EQUAL(ho_find_id(h, id, &x), 1);
    CU_ASSERT_EQUAL(x.rating, 2);

    /* a manager's message in the closed topic: dropped */
    bm_effects_clear(&fx);
    in = text_in(555, GROUP, 100, "late");
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL(fx.n, 0);
    bm_effects_free(&fx);
}

/* During a handoff the user's menu buttons are answered and dropped, but a
 * vote under an earlier AI answer ("bm:fb:...") goes on to the step, where the feedback part's
 * fb_press counts it; a request for an operator too. */
static void test_feedback_in_handoff(void)
{
    bm_effects fx;
    bm_effects_init(&fx);
    int64_t id;
    CU_ASSERT_EQUAL_FATAL(ho_insert(h, 3003, 3003, 103, &id), 0);
    bm_input in = cb_in(3003, "bm:fb:12:h");
    in.user.chat_id = 3003;
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 0); /* not taken: the vote counts */
    CU_ASSERT_EQUAL(fx.n, 0);
    in.text = "bm:fb:12:o";
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 0);
    in.text = "bm:operator";
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 0);
    in.text = "main.0"; /* a menu button: answered, dropped */
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL(count(&fx, BM_FX_ANSWER, NULL), 1);
    CU_ASSERT_EQUAL(ho_close(h, id, 3003), 1);
    bm_effects_free(&fx);
}

static void test_admin_commands(void)
{
    bm_effects fx;
    bm_effects_init(&fx);
    bm_input in = text_in(ADMIN, ADMIN, 0, "/addmanager 4242 Ana Maria");
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL(ho_is_manager(h, 4242), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(fx.v[0].text, "4242 (Ana Maria) is a manager now"));
    in = text_in(ADMIN, GROUP, 0, "/delmanager 4242");
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_EQUAL(ho_is_manager(h, 4242), 0);
    in = text_in(ADMIN, ADMIN, 0, "/addmanager -5 X");
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(fx.v[fx.n - 1].text, "Usage: /addmanager"));
    /* a manager may not */
    in = text_in(555, 555, 0, "/addmanager 4242 X");
    CU_ASSERT_EQUAL(ho_take(h, &in, &fx), 0);
    CU_ASSERT_EQUAL(ho_is_manager(h, 4242), 0);
    bm_effects_free(&fx);
}

static int hist_cb(void *ud, const char *role, const char *text, int64_t at)
{
    (void)at;
    char *buf = ud;
    strncat(buf, role, 16);
    strncat(buf, ":", 2);
    strncat(buf, text, 32);
    strncat(buf, ";", 2);
    return 0;
}

static void test_history(void)
{
    char t[16];
    for (int i = 0; i < STORE_HISTORY_MAX + 5; i++) {
        snprintf(t, sizeof t, "m%d", i);
        CU_ASSERT_EQUAL(store_history_add(st, 77, i % 2 ? "bot" : "user", STORE_HIST_MENU, t), 0);
    }
    CU_ASSERT_EQUAL(store_history_add(st, 77, "user", STORE_HIST_MENU, ""), 0); /* not stored */
    /* adding does not cap (once per update is enough): trim does */
    CU_ASSERT_EQUAL(store_history_list(st, 77, 1000, NULL, NULL), STORE_HISTORY_MAX + 5);
    CU_ASSERT_EQUAL(store_history_trim(st, 77), 0);
    CU_ASSERT_EQUAL(store_history_list(st, 77, 1000, NULL, NULL), STORE_HISTORY_MAX);
    char buf[256] = "";
    CU_ASSERT_EQUAL(store_history_list(st, 77, 2, hist_cb, buf), 2);
    CU_ASSERT_STRING_EQUAL(buf, "bot:m43;user:m44;"); /* the newest two, oldest first */
    CU_ASSERT_EQUAL(store_history_turns(st, 77, 6, NULL, NULL), 0); /* no model turns */
    /* a long text is cut on a character boundary */
    char *big = malloc(3 * STORE_HISTORY_TEXT_MAX + 1);
    big[0] = 0;
    for (int i = 0; i < STORE_HISTORY_TEXT_MAX; i++)
        strcat(big, "ж");
    CU_ASSERT_EQUAL(store_history_add(st, 78, "user", STORE_HIST_MENU, big), 0);
    free(big);
    CU_ASSERT_EQUAL(store_delete_user(st, 77), 0);
    CU_ASSERT_EQUAL(store_history_list(st, 77, 1000, NULL, NULL), 0);

    /* the handler's trim comes every 8 rows or so: never far over the cap,
     * and the newest rows always there */
    int most = 0;
    for (int i = 0; i < 3 * STORE_HISTORY_MAX; i++) {
        snprintf(t, sizeof t, "d%d", i);
        CU_ASSERT_EQUAL(store_history_add(st, 80, "user", STORE_HIST_MENU, t), 0);
        CU_ASSERT_EQUAL(store_history_trim_due(st, 80, 1), 0);
        int n = store_history_list(st, 80, 1000, NULL, NULL);
        if (n > most)
            most = n;
    }
    CU_ASSERT(most > STORE_HISTORY_MAX);        /* it is lazy */
    CU_ASSERT(most <= STORE_HISTORY_MAX + 8);   /* but bounded */
    buf[0] = 0;
    CU_ASSERT_EQUAL(store_history_list(st, 80, 1, hist_cb, buf), 1);
    snprintf(t, sizeof t, "user:d%d;", 3 * STORE_HISTORY_MAX - 1);
    CU_ASSERT_STRING_EQUAL(buf, t);
    CU_ASSERT_EQUAL(store_delete_user(st, 80), 0);
}

/* One log for the handoff card and the model: the model's context is the
 * `ai` turns only, and a walk through the menus does not push them out. */
static void test_history_turns(void)
{
    char t[16];
    for (int i = 0; i < STORE_HISTORY_AI_KEEP + 2; i++) { /* 10 turns, 8 kept */
        snprintf(t, sizeof t, "a%d", i);
        CU_ASSERT_EQUAL(store_history_add(st, 79, i % 2 ? "bot" : "user", STORE_HIST_AI, t), 0);
    }
    CU_ASSERT_EQUAL(store_history_add(st, 79, "operator", STORE_HIST_HANDOFF, "op"), 0);
    for (int i = 0; i < 2 * STORE_HISTORY_MAX; i++) {
        snprintf(t, sizeof t, "m%d", i);
        CU_ASSERT_EQUAL(store_history_add(st, 79, i % 2 ? "bot" : "user", STORE_HIST_MENU, t), 0);
        CU_ASSERT_EQUAL(store_history_trim(st, 79), 0);
    }
    /* the cap: 40 newest rows, and the newest 8 model turns beside them */
    CU_ASSERT_EQUAL(store_history_list(st, 79, 1000, NULL, NULL),
                    STORE_HISTORY_MAX + STORE_HISTORY_AI_KEEP);
    char buf[256] = "";
    CU_ASSERT_EQUAL(store_history_turns(st, 79, 4, hist_cb, buf), 4);
    CU_ASSERT_STRING_EQUAL(buf, "user:a6;bot:a7;user:a8;bot:a9;");
    CU_ASSERT_EQUAL(store_history_turns(st, 79, 1000, NULL, NULL), STORE_HISTORY_AI_KEEP);
    /* the card sees every kind, newest first in the list's order */
    buf[0] = 0;
    CU_ASSERT_EQUAL(store_history_list(st, 79, 1, hist_cb, buf), 1);
    CU_ASSERT_STRING_EQUAL(buf, "bot:m79;");
    /* more model turns: the oldest kept ones go, the cap holds */
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(store_history_add(st, 79, "user", STORE_HIST_AI, "again") ||
                        store_history_trim(st, 79), 0);
    CU_ASSERT_EQUAL(store_history_turns(st, 79, 1000, NULL, NULL), STORE_HISTORY_AI_KEEP);
    CU_ASSERT(store_history_list(st, 79, 1000, NULL, NULL) <=
              STORE_HISTORY_MAX + STORE_HISTORY_AI_KEEP);
    CU_ASSERT_EQUAL(store_delete_user(st, 79), 0);
    CU_ASSERT_EQUAL(store_history_list(st, 79, 1000, NULL, NULL), 0);
}

/* One ho_start for user 4004 with the answer res (NULL: the first run).
 * Returns the deferred flag; *fx gets the effects. After the run the
 * savepoint "ends" the way dialogue/bot.c ends it. */
static int start_once(const bot_io_res *res, bm_effects *fx)
{
    bm_user u = {.id = 4004, .chat_id = 4004, .first_name = "Dan"};
    bm_input in = {.kind = BM_IN_TEXT, .text = "operator", .msg_id = 5, .user = u};
    bm_session s;
    CU_ASSERT_EQUAL_FATAL(bm_session_init(&tiny_machine, &s, &u), 0);
    bot_io_req req = {0};
    CU_ASSERT_EQUAL(store_begin(st), 0);
    CU_ASSERT_EQUAL(ho_start(h, &s, &in, res, &req, fx), 0);
    int deferred = req.kind != BOT_IO_NONE;
    if (deferred) {
        CU_ASSERT_EQUAL(req.kind, BOT_IO_TG_CALL);
        CU_ASSERT_STRING_EQUAL(req.u.tg.method, "createForumTopic");
        CU_ASSERT_PTR_NOT_NULL(strstr(req.u.tg.params, "\"name\":\"Dan #4004\""));
        CU_ASSERT_EQUAL(store_rollback(st), 0); /* a deferred step keeps nothing... */
        CU_ASSERT_EQUAL(ho_after_input(h, HO_INPUT_DEFERRED), 0); /* ...but the mark */
    } else {
        CU_ASSERT_EQUAL(store_commit(st), 0);
        CU_ASSERT_EQUAL(ho_after_input(h, HO_INPUT_COMMITTED), 0);
    }
    bot_io_req_free(&req);
    bm_session_free(&tiny_machine, &s);
    return deferred;
}

/* "status:thread:tries" of user 4004's newest handoff row, or "" */
static void row_of_4004(char *out, size_t n)
{
    sqlite3_stmt *q = NULL;
    out[0] = '\0';
    sqlite3_prepare_v2(sql_store_db(st), "SELECT status || ':' || thread_id || ':' || tries"
                       " FROM handoffs WHERE user_id = 4004 ORDER BY id DESC LIMIT 1", -1, &q,
                       NULL);
    if (sqlite3_step(q) == SQLITE_ROW)
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
}

static void test_topic_mark(void)
{
    bm_effects fx;
    bm_effects_init(&fx);
    char row[64];
    ho_handoff x;
    /* the first run: deferred, and the mark is there though the step kept nothing */
    CU_ASSERT_EQUAL(start_once(NULL, &fx), 1);
    row_of_4004(row, sizeof row);
    CU_ASSERT_STRING_EQUAL(row, "creating:0:1");
    CU_ASSERT_EQUAL(ho_find_open(h, 4004, &x), 0); /* nothing relays to it yet */
    /* the bot stopped; the update runs again: one more attempt */
    CU_ASSERT_EQUAL(start_once(NULL, &fx), 1);
    row_of_4004(row, sizeof row);
    CU_ASSERT_STRING_EQUAL(row, "creating:0:2");
    /* the answer: the mark becomes the open handoff, the card goes out */
    const char *ok = "{\"ok\":true,\"result\":{\"message_thread_id\":77,\"name\":\"Dan #4004\"}}";
    bot_io_res res = {.ok = 1, .status = 200, .body = ok, .len = strlen(ok)};
    CU_ASSERT_EQUAL(start_once(&res, &fx), 0);
    row_of_4004(row, sizeof row);
    CU_ASSERT_STRING_EQUAL(row, "open:77:2");
    CU_ASSERT_EQUAL(ho_find_open(h, 4004, &x), 1);
    CU_ASSERT_EQUAL(x.thread_id, 77);
    CU_ASSERT(fx.n >= 3); /* card, conversation, the client's note */
    CU_ASSERT_EQUAL(ho_close(h, x.id, 4004), 1);

    /* answers lost three times: the client is told, the mark goes */
    bm_effects_clear(&fx);
    bot_io_res lost = {.ok = 0, .status = 200, .error = "network error: transfer closed",
                       .maybe_taken = 1};
    CU_ASSERT_EQUAL(start_once(NULL, &fx), 1);
    CU_ASSERT_EQUAL(start_once(&lost, &fx), 1);
    CU_ASSERT_EQUAL(start_once(&lost, &fx), 1);
    row_of_4004(row, sizeof row);
    CU_ASSERT_STRING_EQUAL(row, "creating:0:3");
    CU_ASSERT_EQUAL(fx.n, 0);
    CU_ASSERT_EQUAL(start_once(&lost, &fx), 0);
    CU_ASSERT_EQUAL(count(&fx, BM_FX_SEND, NULL), 1); /* sys_unavailable */
    row_of_4004(row, sizeof row);
    CU_ASSERT_STRING_EQUAL(row, "closed:77:2");

    /* a refusal (not a forum): no retry, the mark goes */
    bm_effects_clear(&fx);
    bot_io_res refused = {.ok = 0, .status = 400, .error = "Bad Request: the chat is not a forum"};
    CU_ASSERT_EQUAL(start_once(NULL, &fx), 1);
    CU_ASSERT_EQUAL(start_once(&refused, &fx), 0);
    CU_ASSERT_EQUAL(count(&fx, BM_FX_SEND, NULL), 1);
    row_of_4004(row, sizeof row);
    CU_ASSERT_STRING_EQUAL(row, "closed:77:2");

    /* the answer came but the rest of that run failed: the thread id is
     * kept on the mark and the next request uses that topic */
    bm_effects_clear(&fx);
    CU_ASSERT_EQUAL(start_once(NULL, &fx), 1);
    {
        bm_user u = {.id = 4004, .chat_id = 4004, .first_name = "Dan"};
        bm_input in = {.kind = BM_IN_TEXT, .text = "operator", .msg_id = 5, .user = u};
        bm_session s;
        CU_ASSERT_EQUAL_FATAL(bm_session_init(&tiny_machine, &s, &u), 0);
        const char *ok2 = "{\"ok\":true,\"result\":{\"message_thread_id\":88}}";
        bot_io_res r2 = {.ok = 1, .status = 200, .body = ok2, .len = strlen(ok2)};
        bot_io_req req = {0};
        CU_ASSERT_EQUAL(store_begin(st), 0);
        CU_ASSERT_EQUAL(ho_start(h, &s, &in, &r2, &req, &fx), 0);
        CU_ASSERT_EQUAL(req.kind, BOT_IO_NONE);
        CU_ASSERT_EQUAL(store_rollback(st), 0); /* say a later action failed */
        CU_ASSERT_EQUAL(ho_after_input(h, HO_INPUT_FAILED), 0);
        bm_session_free(&tiny_machine, &s);
    }
    row_of_4004(row, sizeof row);
    CU_ASSERT_STRING_EQUAL(row, "creating:88:1");
    bm_effects_clear(&fx);
    CU_ASSERT_EQUAL(start_once(NULL, &fx), 0); /* no new topic asked for */
    row_of_4004(row, sizeof row);
    CU_ASSERT_STRING_EQUAL(row, "open:88:1");
    CU_ASSERT_EQUAL(ho_forget_user(h, 4004), 0);
    bm_effects_free(&fx);
}

/* A database from before the 'creating' rows: the tries column is added,
 * the rows kept. */
static void test_old_table(void)
{
    char err[256];
    store *s2 = store_open(":memory:", &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
    CU_ASSERT_EQUAL(sqlite3_exec(sql_store_db(s2),
        "CREATE TABLE handoffs(id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " user_id INTEGER NOT NULL, chat_id INTEGER NOT NULL, thread_id INTEGER NOT NULL,"
        " status TEXT NOT NULL DEFAULT 'open', opened INTEGER NOT NULL, closed INTEGER,"
        " closed_by INTEGER, rating INTEGER);"
        "INSERT INTO handoffs(user_id, chat_id, thread_id, opened) VALUES(5005, 5005, 120, 1);",
        NULL, NULL, NULL), SQLITE_OK);
    ho *h2 = ho_open(s2, &tiny_machine, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h2);
    ho_handoff x;
    CU_ASSERT_EQUAL(ho_find_open(h2, 5005, &x), 1);
    CU_ASSERT_EQUAL(x.thread_id, 120);
    ho_free(h2);
    h2 = ho_open(s2, &tiny_machine, err, sizeof err); /* a second start: nothing to do */
    CU_ASSERT_PTR_NOT_NULL(h2);
    ho_free(h2);
    store_close(s2);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("handoff", setup, teardown);
    CU_add_test(s, "managers table", test_managers);
    CU_add_test(s, "handoffs table", test_handoffs_table);
    CU_add_test(s, "routing decisions", test_classify);
    CU_add_test(s, "button data", test_buttons_parse);
    CU_add_test(s, "topic names", test_topic_name);
    CU_add_test(s, "authority of buttons and group messages", test_take_authority);
    CU_add_test(s, "admin commands", test_admin_commands);
    CU_add_test(s, "conversation history", test_history);
    CU_add_test(s, "model turns in the one log", test_history_turns);
    CU_add_test(s, "feedback votes during a handoff", test_feedback_in_handoff);
    CU_add_test(s, "the topic being created, its answer lost or kept", test_topic_mark);
    CU_add_test(s, "a handoffs table from before the tries column", test_old_table);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}

/*
 * test_machine.c — the interpreter (runtime/dialogue/machine.c) against the
 * hand-written tiny machine: navigation, both languages, inline menus,
 * fallbacks, variables and placeholders, every form validator, /cancel.
 */
#include <CUnit/Basic.h>
#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dialogue/machine.h"
#include "support/tiny_machine.h"

static const bm_machine *M = &tiny_machine;
static bm_session S;
static bm_effects FX;
static bm_user U;

static void reset_as(const bm_machine *m, const char *lang)
{
    M = m;
    bm_session_free(M, &S);
    U = (bm_user){.id = 42, .chat_id = 4242, .first_name = "Ann", .last_name = "Lee",
                  .username = "ann", .language_code = lang};
    CU_ASSERT_EQUAL_FATAL(bm_session_init(M, &S, &U), 0);
    bm_effects_clear(&FX);
}

static void reset(const char *lang) { reset_as(&tiny_machine, lang); }

static int step_in(bm_input_kind kind, const char *text)
{
    bm_effects_clear(&FX);
    bm_input in = {.kind = kind, .user = U, .text = text};
    return bm_step(M, &S, &in, &FX);
}

static int step_text(const char *t) { return step_in(BM_IN_TEXT, t); }

static int step_cb(const char *data, int64_t msg)
{
    bm_effects_clear(&FX);
    bm_input in = {.kind = BM_IN_CALLBACK, .user = U, .text = data, .message_id = msg,
                   .callback_id = "cb1"};
    return bm_step(M, &S, &in, &FX);
}

static int step_contact(const char *phone, int64_t owner)
{
    bm_effects_clear(&FX);
    bm_input in = {.kind = BM_IN_CONTACT, .user = U, .text = phone, .contact_user_id = owner};
    return bm_step(M, &S, &in, &FX);
}

static const char *txt(int i) { return i < FX.n && FX.v[i].text ? FX.v[i].text : "(none)"; }
static const char *var(int v) { return S.vars[v] ? S.vars[v] : "(null)"; }
static const char *label(int i, int b) { return FX.v[i].markup.buttons[b].label; }

static void test_enter_start(void)
{
    reset("en");
    CU_ASSERT_EQUAL(bm_enter(M, &S, &U, TS_MAIN, &FX), 0);
    CU_ASSERT_EQUAL_FATAL(FX.n, 2);
    CU_ASSERT_EQUAL(FX.v[0].kind, BM_FX_SEND);
    CU_ASSERT_EQUAL(FX.v[0].chat_id, 4242);
    CU_ASSERT_STRING_EQUAL(txt(0), "Hello, Ann!");
    CU_ASSERT_EQUAL(FX.v[0].markup.kind, BM_MK_REPLY);
    CU_ASSERT_EQUAL(FX.v[0].markup.n_rows, 2);
    CU_ASSERT_EQUAL(FX.v[0].markup.row_len[0], 2);
    CU_ASSERT_EQUAL(FX.v[0].markup.row_len[1], 1);
    CU_ASSERT_EQUAL_FATAL(FX.v[0].markup.n_buttons, 3);
    CU_ASSERT_STRING_EQUAL(label(0, 0), "ℹ️ Info");
    CU_ASSERT_STRING_EQUAL(label(0, 1), "📝 Book");
    CU_ASSERT_EQUAL(FX.v[0].markup.buttons[2].kind, BM_BTN_CONTACT);
    CU_ASSERT_STRING_EQUAL(txt(1), "Main menu (en)");
    CU_ASSERT_EQUAL(FX.v[1].markup.kind, BM_MK_NONE);
}

static void test_navigation_both_languages(void)
{
    reset("en");
    CU_ASSERT_EQUAL(step_text("ℹ️ Info"), 0);
    CU_ASSERT_EQUAL(S.state, TS_INFO);
    CU_ASSERT_EQUAL_FATAL(FX.n, 1);
    CU_ASSERT_STRING_EQUAL(txt(0), "Info for @ann (id 42)");
    CU_ASSERT_EQUAL(FX.v[0].markup.kind, BM_MK_INLINE);
    CU_ASSERT_EQUAL_FATAL(FX.v[0].markup.n_buttons, 3);
    CU_ASSERT_STRING_EQUAL(FX.v[0].markup.buttons[0].data, "more");
    CU_ASSERT_EQUAL(FX.v[0].markup.buttons[2].kind, BM_BTN_URL);
    CU_ASSERT_STRING_EQUAL(FX.v[0].markup.buttons[2].data, "https://example.com");

    reset("ru");
    CU_ASSERT_EQUAL(step_text("ℹ️ Инфо"), 0);
    CU_ASSERT_EQUAL(S.state, TS_INFO);
    CU_ASSERT_STRING_EQUAL(txt(0), "Инфо для @ann");
    CU_ASSERT_STRING_EQUAL(label(0, 0), "Ещё");

    /* a label in another language than the user's still works */
    reset("en");
    CU_ASSERT_EQUAL(step_text("ℹ️ Инфо"), 0);
    CU_ASSERT_EQUAL(S.state, TS_INFO);
    CU_ASSERT_STRING_EQUAL(txt(0), "Info for @ann (id 42)");

    /* the main menu's reply keyboard is still on screen in info */
    CU_ASSERT_EQUAL(step_text("📝 Заявка"), 0);
    CU_ASSERT_EQUAL(S.form, TF_BOOKING);
    CU_ASSERT_STRING_EQUAL(txt(0), "Your name?");

    /* global command from anywhere */
    CU_ASSERT_EQUAL(step_text("/start"), 0);
    CU_ASSERT_EQUAL(S.state, TS_MAIN);
    CU_ASSERT_EQUAL(FX.n, 2);
}

static void test_callback_edit(void)
{
    reset("en");
    step_text("ℹ️ Info");
    CU_ASSERT_EQUAL(step_cb("more", 77), 0);
    CU_ASSERT_EQUAL(S.state, TS_MORE);
    CU_ASSERT_EQUAL_FATAL(FX.n, 2);
    CU_ASSERT_EQUAL(FX.v[0].kind, BM_FX_ANSWER);
    CU_ASSERT_STRING_EQUAL(FX.v[0].callback_id, "cb1");
    CU_ASSERT_EQUAL(FX.v[1].kind, BM_FX_EDIT);
    CU_ASSERT_EQUAL(FX.v[1].message_id, 77);
    CU_ASSERT_STRING_EQUAL(txt(1), "More details");
    CU_ASSERT_EQUAL(FX.v[1].markup.kind, BM_MK_INLINE);
    CU_ASSERT_STRING_EQUAL(FX.v[1].markup.buttons[0].data, "more_back");

    CU_ASSERT_EQUAL(step_cb("more_back", 77), 0);
    CU_ASSERT_EQUAL(S.state, TS_INFO);
    CU_ASSERT_EQUAL(FX.v[1].kind, BM_FX_EDIT);

    /* to a state with a reply keyboard: new messages, not an edit */
    CU_ASSERT_EQUAL(step_cb("back", 77), 0);
    CU_ASSERT_EQUAL(S.state, TS_MAIN);
    CU_ASSERT_EQUAL_FATAL(FX.n, 3);
    CU_ASSERT_EQUAL(FX.v[0].kind, BM_FX_ANSWER);
    CU_ASSERT_EQUAL(FX.v[1].kind, BM_FX_SEND);
    CU_ASSERT_EQUAL(FX.v[1].markup.kind, BM_MK_REPLY);
}

static void test_stale_and_unknown_callback(void)
{
    reset("en");
    CU_ASSERT_EQUAL(S.state, TS_MAIN);
    /* "more" belongs to the info menu the user has left */
    CU_ASSERT_EQUAL(step_cb("more", 5), 0);
    CU_ASSERT_EQUAL(S.state, TS_MORE);
    CU_ASSERT_EQUAL_FATAL(FX.n, 2);
    CU_ASSERT_EQUAL(FX.v[1].kind, BM_FX_EDIT);
    CU_ASSERT_EQUAL(FX.v[1].message_id, 5);

    CU_ASSERT_EQUAL(step_cb("nonsense", 5), 0);
    CU_ASSERT_EQUAL(S.state, TS_MORE);
    CU_ASSERT_EQUAL_FATAL(FX.n, 1);
    CU_ASSERT_EQUAL(FX.v[0].kind, BM_FX_ANSWER);

    /* without a message id there is nothing to edit */
    CU_ASSERT_EQUAL(step_cb("more_back", 0), 0);
    CU_ASSERT_EQUAL(FX.v[1].kind, BM_FX_SEND);
}

static void test_fallback_and_placeholders(void)
{
    reset("en");
    CU_ASSERT_EQUAL(step_text("/echo"), 0);
    CU_ASSERT_EQUAL(S.state, TS_ECHO);
    CU_ASSERT_EQUAL_FATAL(FX.n, 1);
    CU_ASSERT_EQUAL(FX.v[0].markup.kind, BM_MK_REMOVE);

    CU_ASSERT_EQUAL(step_text("hi there"), 0);
    CU_ASSERT_EQUAL(S.state, TS_ECHO);
    CU_ASSERT_STRING_EQUAL(var(TV_LAST), "hi there");
    CU_ASSERT_EQUAL_FATAL(FX.n, 1);
    CU_ASSERT_STRING_EQUAL(txt(0), "You said: hi there. Nick anon. {braces} {unknown}");

    /* a sticker: only the fallback takes it; {text} is empty */
    CU_ASSERT_EQUAL(step_in(BM_IN_OTHER, ""), 0);
    CU_ASSERT_STRING_EQUAL(var(TV_LAST), "");

    /* a voice note goes to the state's voice transition as an action */
    CU_ASSERT_EQUAL(step_in(BM_IN_VOICE, "file-1"), 0);
    CU_ASSERT_EQUAL_FATAL(FX.n, 1);
    CU_ASSERT_EQUAL(FX.v[0].kind, BM_FX_ACTION);
    CU_ASSERT_EQUAL(FX.v[0].action, BM_ACT_TRANSCRIBE);
    CU_ASSERT_STRING_EQUAL(txt(0), "file-1");
}

static void test_no_match(void)
{
    reset("en");
    /* a state with a keyboard and no fallback points at the buttons */
    CU_ASSERT_EQUAL(step_text("what?"), 0);
    CU_ASSERT_EQUAL(S.state, TS_MAIN);
    CU_ASSERT_EQUAL_FATAL(FX.n, 1);
    CU_ASSERT_STRING_EQUAL(txt(0), "Please use the buttons.");
    CU_ASSERT_EQUAL(FX.v[0].markup.kind, BM_MK_REPLY);
    CU_ASSERT_EQUAL(step_in(BM_IN_VOICE, "f"), 0);
    CU_ASSERT_STRING_EQUAL(txt(0), "Please use the buttons.");

    /* contact: the contact button's transition, with {text} = the number */
    CU_ASSERT_EQUAL(step_contact("+381601234567", 42), 0);
    CU_ASSERT_EQUAL(S.state, TS_GOT);
    CU_ASSERT_STRING_EQUAL(var(TV_CONTACT), "+381601234567");
    CU_ASSERT_STRING_EQUAL(txt(0), "Thanks for +381601234567");

    /* no fallback, no keyboard: nothing */
    CU_ASSERT_EQUAL(step_text("anything"), 0);
    CU_ASSERT_EQUAL(FX.n, 0);
    CU_ASSERT_EQUAL(S.state, TS_GOT);
}

static void test_set_variable(void)
{
    reset("en");
    CU_ASSERT_EQUAL(step_text("nick Bob"), 0);
    CU_ASSERT_STRING_EQUAL(var(TV_NICK), "nick Bob!");
    CU_ASSERT_STRING_EQUAL(txt(0), "Nick set: nick Bob!");
    CU_ASSERT_EQUAL(S.state, TS_MAIN);
    /* set twice in a row: the old value is replaced, not leaked */
    CU_ASSERT_EQUAL(step_text("nick Al"), 0);
    CU_ASSERT_STRING_EQUAL(var(TV_NICK), "nick Al!");
    char *r = bm_render(M, &S, &U, 11 /* T_ECHOED */, "x");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(r, "You said: . Nick nick Al!. {braces} {unknown}");
    free(r);
}

static void expect_ask(const char *ask)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(FX.n ? FX.v : NULL);
    CU_ASSERT_STRING_EQUAL(txt(FX.n - 1), ask);
}

/* invalid input: a retry text, then the question again */
static void expect_retry(const char *retry, const char *ask)
{
    CU_ASSERT_EQUAL_FATAL(FX.n, 2);
    CU_ASSERT_STRING_EQUAL(txt(0), retry);
    CU_ASSERT_STRING_EQUAL(txt(1), ask);
}

static void test_form_full(void)
{
    reset("en");
    CU_ASSERT_EQUAL(step_text("📝 Book"), 0);
    CU_ASSERT_EQUAL(S.form, TF_BOOKING);
    CU_ASSERT_EQUAL(S.field, 0);
    expect_ask("Your name?");
    CU_ASSERT_EQUAL(FX.v[0].markup.kind, BM_MK_REMOVE);

    step_text("   ");
    expect_retry("That does not look right.", "Your name?");
    step_text("  Ann Lee ");
    CU_ASSERT_STRING_EQUAL(var(TV_B_NAME), "Ann Lee");
    expect_ask("Your age?");

    step_text("17");
    expect_retry("Age must be 18 to 99", "Your age?");
    step_text("30");
    expect_ask("Weight in kg?");
    step_text("72,5");
    CU_ASSERT_STRING_EQUAL(var(TV_B_WEIGHT), "72.5");
    step_text("29.02.2023");
    expect_retry("That does not look right.", "Date?");
    step_text("29.02.2024");
    CU_ASSERT_STRING_EQUAL(var(TV_B_DATE), "2024-02-29");
    expect_ask("Phone?");
    CU_ASSERT_EQUAL(FX.v[0].markup.kind, BM_MK_REPLY);
    CU_ASSERT_EQUAL_FATAL(FX.v[0].markup.n_buttons, 1);
    CU_ASSERT_EQUAL(FX.v[0].markup.buttons[0].kind, BM_BTN_CONTACT);
    CU_ASSERT_STRING_EQUAL(label(0, 0), "Share my phone");

    step_contact("+15551234567", 99); /* someone else's card */
    expect_retry("That does not look right.", "Phone?");
    CU_ASSERT_EQUAL(FX.v[1].markup.kind, BM_MK_REPLY);
    step_contact("381601234567", 42); /* Telegram often omits '+' */
    CU_ASSERT_STRING_EQUAL(var(TV_B_PHONE), "+381601234567");
    expect_ask("Code (like ABC12)?");
    step_text("abc12");
    expect_retry("That does not look right.", "Code (like ABC12)?");
    step_text("ABC12");
    expect_ask("Class?");
    CU_ASSERT_EQUAL(FX.v[0].markup.kind, BM_MK_REPLY);
    CU_ASSERT_EQUAL_FATAL(FX.v[0].markup.n_buttons, 2);
    CU_ASSERT_STRING_EQUAL(label(0, 0), "Economy");
    CU_ASSERT_STRING_EQUAL(label(0, 1), "SUV");
    step_text("Bus");
    expect_retry("That does not look right.", "Class?");

    CU_ASSERT_EQUAL(step_text("Внедорожник"), 0);
    CU_ASSERT_STRING_EQUAL(var(TV_B_CLASS), "SUV");
    CU_ASSERT_EQUAL(S.form, BM_NONE);
    CU_ASSERT_EQUAL(S.state, TS_MAIN);
    CU_ASSERT_EQUAL_FATAL(FX.n, 4);
    CU_ASSERT_EQUAL(FX.v[0].kind, BM_FX_RECORD);
    CU_ASSERT_EQUAL(FX.v[0].form, TF_BOOKING);
    cJSON *js = cJSON_Parse(txt(0));
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(js), 7);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(js, "name")->valuestring, "Ann Lee");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(js, "age")->valuestring, "30");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(js, "phone")->valuestring, "+381601234567");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(js, "class")->valuestring, "SUV");
    cJSON_Delete(js);
    CU_ASSERT_STRING_EQUAL(txt(1), "Booked: Ann Lee|30|72.5|2024-02-29|+381601234567|ABC12|SUV");
    CU_ASSERT_STRING_EQUAL(txt(2), "Hello, Ann!");
    CU_ASSERT_EQUAL(FX.v[2].markup.kind, BM_MK_REPLY);
}

/* One field checked in isolation: a copy of the machine whose booking
 * fields have open bounds unless the case sets them. */
typedef struct vcase {
    int field;
    const char *input;
    const char *stored; /* NULL = must be rejected */
    double min, max;
} vcase;

static void test_validators(void)
{
    static const vcase cases[] = {
        {0, "x", "x", 0, 0},
        {0, "", NULL, 0, 0},
        {1, "-5", "-5", -INFINITY, INFINITY},
        {1, "+7", "7", -INFINITY, INFINITY},
        {1, "007", "7", -INFINITY, INFINITY},
        {1, "-", NULL, -INFINITY, INFINITY},
        {1, "12a", NULL, -INFINITY, INFINITY},
        {1, "1.5", NULL, -INFINITY, INFINITY},
        {1, "99999999999999999999", NULL, -INFINITY, INFINITY},
        {1, "18", "18", 18, 99},
        {1, "99", "99", 18, 99},
        {1, "100", NULL, 18, 99},
        {2, "0,5", "0.5", 0.5, 10},
        {2, "10", "10", 0.5, 10},
        {2, "10.01", NULL, 0.5, 10},
        {2, "-1.25", "-1.25", -INFINITY, INFINITY},
        {2, "1,2,3", NULL, -INFINITY, INFINITY},
        {2, ".", NULL, -INFINITY, INFINITY},
        {2, "inf", NULL, -INFINITY, INFINITY},
        {2, "0x10", NULL, -INFINITY, INFINITY},
        {2, "1e5", NULL, -INFINITY, INFINITY},
        {3, "2024-02-29", "2024-02-29", 0, 0},
        {3, "2023-02-29", NULL, 0, 0},
        {3, "1900-02-29", NULL, 0, 0},
        {3, "2000-02-29", "2000-02-29", 0, 0},
        {3, "31.12.1999", "1999-12-31", 0, 0},
        {3, "1/2/2025", "2025-02-01", 0, 0},
        {3, "31/04/2025", NULL, 0, 0},
        {3, "2025-13-01", NULL, 0, 0},
        {3, "2025-00-10", NULL, 0, 0},
        {3, "2025.01.01", NULL, 0, 0},
        {3, "01-02-2025", NULL, 0, 0},
        {3, "31.12.99", NULL, 0, 0},
        {3, "2025-1-2x", NULL, 0, 0},
        /* bounds in days from the bot's today (BOT_TODAY: 2026-07-01) */
        {3, "2026-07-01", "2026-07-01", 0, 365},
        {3, "30.06.2026", NULL, 0, 365},
        {3, "2020-01-01", NULL, 0, 365},
        {3, "1.7.2027", "2027-07-01", 0, 365},
        {3, "2027-07-02", NULL, 0, 365},
        {3, "2026-06-30", "2026-06-30", -1, INFINITY},
        {4, "+381 (60) 123-45-67", "+381601234567", 0, 0},
        {4, "+6834002", "+6834002", 0, 0},
        {4, "00381601234567", "+381601234567", 0, 0},
        {4, "+0000000000", NULL, 0, 0},
        {4, "060 123 4567", NULL, 0, 0}, /* national: the field names no country */
        {4, "+123456", NULL, 0, 0},
        {4, "+1234567890123456", NULL, 0, 0},
        {4, "381601234567", NULL, 0, 0},
        {4, "+38160abc", NULL, 0, 0},
        {5, "XYZ99", "XYZ99", 0, 0},
        {5, "XYZ999", NULL, 0, 0},
        {6, "Economy", "Economy", 0, 0},
        {6, "Эконом", "Economy", 0, 0},
        {6, "economy", "Economy", 0, 0},
        {6, "ЭКОНОМ", "Economy", 0, 0},
        {6, "econom", NULL, 0, 0},
    };
    bm_field fields[8];
    memcpy(fields, tiny_machine.fields, sizeof fields);
    bm_machine m = tiny_machine;
    m.fields = fields;
    setenv("BOT_TODAY", "2026-07-01", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const vcase *c = &cases[i];
        fields[c->field].min = c->min;
        fields[c->field].max = c->max;
        if (c->field == 1 || c->field == 2 || c->field == 3) {
            if (c->min == 0 && c->max == 0) {
                fields[c->field].min = -INFINITY;
                fields[c->field].max = INFINITY;
            }
        }
        reset_as(&m, "en");
        S.form = TF_BOOKING;
        S.field = c->field;
        int var_idx = fields[c->field].var;
        CU_ASSERT_EQUAL(step_text(c->input), 0);
        if (c->stored) {
            if (!S.vars[var_idx] || strcmp(S.vars[var_idx], c->stored))
                fprintf(stderr, "\ncase %zu: field %d '%s' stored '%s', want '%s'\n", i,
                        c->field, c->input, var(var_idx), c->stored);
            CU_ASSERT(S.vars[var_idx] && !strcmp(S.vars[var_idx], c->stored));
            CU_ASSERT_EQUAL(S.field, c->field + 1 < 7 ? c->field + 1 : BM_NONE);
        } else {
            if (S.vars[var_idx] || S.field != c->field)
                fprintf(stderr, "\ncase %zu: field %d '%s' accepted as '%s'\n", i, c->field,
                        c->input, var(var_idx));
            CU_ASSERT_PTR_NULL(S.vars[var_idx]);
            CU_ASSERT_EQUAL(S.field, c->field);
            CU_ASSERT_EQUAL(FX.n, 2); /* retry + ask */
        }
    }
    unsetenv("BOT_TODAY");

    /* a phone field with a country reads national numbers too */
    static const struct {
        const char *country, *input, *stored;
    } phones[] = {
        {"RS", "060 123 4567", "+381601234567"},
        {"RS", "+381 60 123 4567", "+381601234567"},
        {"RS", "12", NULL},
        {"RU", "8 (916) 123-45-67", "+79161234567"},
    };
    int var_idx = fields[4].var;
    for (size_t i = 0; i < sizeof phones / sizeof phones[0]; i++) {
        fields[4].country = phones[i].country;
        reset_as(&m, "en");
        S.form = TF_BOOKING;
        S.field = 4;
        CU_ASSERT_EQUAL(step_text(phones[i].input), 0);
        if (phones[i].stored) {
            CU_ASSERT(S.vars[var_idx] && !strcmp(S.vars[var_idx], phones[i].stored));
        } else {
            CU_ASSERT_PTR_NULL(S.vars[var_idx]);
        }
    }
    reset("en");
}

static void test_cancel_and_global_commands(void)
{
    reset("en");
    step_text("📝 Book");
    step_text("Ann");
    CU_ASSERT_EQUAL(S.field, 1);
    CU_ASSERT_EQUAL(step_text("/cancel"), 0);
    CU_ASSERT_EQUAL(S.form, BM_NONE);
    CU_ASSERT_EQUAL(S.state, TS_MAIN);
    CU_ASSERT_STRING_EQUAL(txt(0), "Booking cancelled");
    CU_ASSERT_STRING_EQUAL(txt(1), "Hello, Ann!");

    /* a form without cancel: says sys_cancelled, stays, restores the menu */
    CU_ASSERT_EQUAL(step_text("/quick"), 0);
    CU_ASSERT_EQUAL(S.form, TF_QUICK);
    expect_ask("Quick question?");
    CU_ASSERT_EQUAL(step_text("/cancel"), 0);
    CU_ASSERT_EQUAL(S.form, BM_NONE);
    CU_ASSERT_EQUAL(S.state, TS_MAIN);
    CU_ASSERT_EQUAL_FATAL(FX.n, 1);
    CU_ASSERT_STRING_EQUAL(txt(0), "Cancelled.");
    CU_ASSERT_EQUAL(FX.v[0].markup.kind, BM_MK_REPLY);

    /* a command that only answers (/help) keeps the form and asks again */
    step_text("📝 Book");
    CU_ASSERT_EQUAL(S.form, TF_BOOKING);
    CU_ASSERT_EQUAL(step_text("/help"), 0);
    CU_ASSERT_EQUAL(S.form, TF_BOOKING);
    CU_ASSERT_EQUAL(S.field, 0);
    CU_ASSERT_EQUAL_FATAL(FX.n, 2);
    CU_ASSERT_STRING_EQUAL(txt(0), "Help text");
    CU_ASSERT_STRING_EQUAL(txt(1), "Your name?");
    /* a global command that goes somewhere abandons the form */
    step_text("/echo");
    CU_ASSERT_EQUAL(S.form, BM_NONE);
    CU_ASSERT_EQUAL(S.state, TS_ECHO);

    /* a done transition without a target stays where the form started */
    step_text("/quick");
    CU_ASSERT_EQUAL(step_text("forty-two"), 0);
    CU_ASSERT_EQUAL(S.form, BM_NONE);
    CU_ASSERT_EQUAL(S.state, TS_ECHO);
    CU_ASSERT_EQUAL_FATAL(FX.n, 2);
    CU_ASSERT_EQUAL(FX.v[0].kind, BM_FX_RECORD);
    CU_ASSERT_STRING_EQUAL(txt(0), "{\"q\":\"forty-two\"}");
    CU_ASSERT_STRING_EQUAL(txt(1), "Quick done: forty-two");

    /* an inline button pressed during a form leaves it */
    step_text("/book");
    CU_ASSERT_EQUAL(step_cb("more", 9), 0);
    CU_ASSERT_EQUAL(S.form, BM_NONE);
    CU_ASSERT_EQUAL(S.state, TS_MORE);
}

/* A choice answer reads back in the user's language; the record keeps the
 * default language's label so every record of a form is comparable. */
static void test_choice_language(void)
{
    reset("ru");
    step_text("📝 Book");
    S.field = tiny_machine.forms[TF_BOOKING].n_fields - 1; /* the class question */
    CU_ASSERT_EQUAL(step_text("SUV"), 0);
    CU_ASSERT_STRING_EQUAL(var(TV_B_CLASS), "Внедорожник");
    CU_ASSERT_EQUAL_FATAL(FX.v[0].kind, BM_FX_RECORD);
    cJSON *js = cJSON_Parse(txt(0));
    CU_ASSERT_PTR_NOT_NULL_FATAL(js);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(js, "class")->valuestring, "SUV");
    cJSON_Delete(js);
}

static void test_lang(void)
{
    CU_ASSERT_EQUAL(bm_lang_for(&tiny_machine, "ru-RU"), 1);
    CU_ASSERT_EQUAL(bm_lang_for(&tiny_machine, "RU"), 1);
    CU_ASSERT_EQUAL(bm_lang_for(&tiny_machine, "en_US"), 0);
    CU_ASSERT_EQUAL(bm_lang_for(&tiny_machine, "de"), 0);
    CU_ASSERT_EQUAL(bm_lang_for(&tiny_machine, ""), 0);
    CU_ASSERT_EQUAL(bm_lang_for(&tiny_machine, NULL), 0);
    CU_ASSERT_EQUAL(bm_lang_for(&tiny_machine, "r"), 0);

    reset("ru-RU");
    CU_ASSERT_EQUAL(S.lang, 1);
    bm_enter(M, &S, &U, TS_MAIN, &FX);
    CU_ASSERT_STRING_EQUAL(txt(1), "Главное меню (ru)");
    reset("de");
    CU_ASSERT_EQUAL(S.lang, 0);
    bm_enter(M, &S, &U, TS_MAIN, &FX);
    CU_ASSERT_STRING_EQUAL(txt(1), "Main menu (en)");
    /* the language follows the user's current language_code */
    U.language_code = "ru";
    step_text("/help");
    CU_ASSERT_EQUAL(S.lang, 1);
    CU_ASSERT_STRING_EQUAL(txt(0), "Справка");

    CU_ASSERT_STRING_EQUAL(bm_text(&tiny_machine, 13, 7), "Help text");
    CU_ASSERT_STRING_EQUAL(bm_text(&tiny_machine, 9999, 0), "");
}

static void test_by_name(void)
{
    CU_ASSERT_EQUAL(bm_state_by_name(&tiny_machine, "info"), TS_INFO);
    CU_ASSERT_EQUAL(bm_state_by_name(&tiny_machine, "old_main"), TS_MAIN);
    CU_ASSERT_EQUAL(bm_state_by_name(&tiny_machine, "gone"), BM_NONE);
    CU_ASSERT_EQUAL(bm_state_by_name(&tiny_machine, NULL), BM_NONE);
    CU_ASSERT_EQUAL(bm_form_by_name(&tiny_machine, "quick"), TF_QUICK);
    CU_ASSERT_EQUAL(bm_form_by_name(&tiny_machine, "nope"), BM_NONE);
    CU_ASSERT_EQUAL(bm_var_by_name(&tiny_machine, "booking.phone"), TV_B_PHONE);
    CU_ASSERT_EQUAL(bm_var_by_name(&tiny_machine, "booking"), BM_NONE);
}

static void test_effects_helpers(void)
{
    bm_effects fx;
    bm_effects_init(&fx);
    for (int i = 0; i < 20; i++) {
        bm_effect *e = bm_effects_add(&fx, BM_FX_SEND, i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_EQUAL(e->form, BM_NONE);
        e->text = strdup("x");
    }
    CU_ASSERT_EQUAL(fx.n, 20);
    bm_effects_truncate(&fx, 5);
    CU_ASSERT_EQUAL(fx.n, 5);
    CU_ASSERT_EQUAL(fx.v[4].chat_id, 4);
    bm_effects_clear(&fx);
    CU_ASSERT_EQUAL(fx.n, 0);
    bm_effects_free(&fx);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    bm_effects_init(&FX);
    CU_pSuite s = CU_add_suite("machine", NULL, NULL);
    CU_add_test(s, "enter start", test_enter_start);
    CU_add_test(s, "navigation, both languages", test_navigation_both_languages);
    CU_add_test(s, "callback edits", test_callback_edit);
    CU_add_test(s, "stale and unknown callbacks", test_stale_and_unknown_callback);
    CU_add_test(s, "fallback and placeholders", test_fallback_and_placeholders);
    CU_add_test(s, "no match, contact", test_no_match);
    CU_add_test(s, "set variables", test_set_variable);
    CU_add_test(s, "a full form", test_form_full);
    CU_add_test(s, "every validator", test_validators);
    CU_add_test(s, "cancel and global commands", test_cancel_and_global_commands);
    CU_add_test(s, "languages", test_lang);
    CU_add_test(s, "choice in the user's language", test_choice_language);
    CU_add_test(s, "lookups by name", test_by_name);
    CU_add_test(s, "effects helpers", test_effects_helpers);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    bm_session_free(M, &S);
    bm_effects_free(&FX);
    return fails ? 1 : 0;
}

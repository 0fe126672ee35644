/*
 * drive.c — run the generated samebot machine (tests/unit/test_emit.c
 * compiles it with the generated files and links it with libbotrt.a).
 * Checks the DFA matchers directly, then drives bm_step through a short
 * conversation in Russian and checks the effects. Exit 0 = all passed.
 */
#include <stdio.h>
#include <string.h>

#include "dialogue/machine.h"
#include "samebot.h"

static const bm_machine *m = &samebot_machine;
static int checks, fails;

#define EXPECT(c)                                                           \
    do {                                                                    \
        checks++;                                                           \
        if (!(c)) {                                                         \
            printf("drive.c:%d: expected %s\n", __LINE__, #c);              \
            fails++;                                                        \
        }                                                                   \
    } while (0)

/* The transition the text triggers in `state`, as its target state. */
static int target_of(int state, const char *text)
{
    int t = samebot_match_text(state, text);
    return t < 0 ? -100 : m->transitions[t].target;
}

static const char *say_of(int state, const char *text)
{
    int t = samebot_match_text(state, text);
    return t < 0 || m->transitions[t].say < 0 ? "" : bm_text(m, m->transitions[t].say, 0);
}

static bm_user user = {.id = 7, .chat_id = 7, .first_name = "Анна", .language_code = "ru-RU"};
static bm_session sess;
static bm_effects fx;

static void send(bm_input_kind kind, const char *text)
{
    bm_input in = {.kind = kind, .user = user, .text = text, .callback_id = "cb"};
    bm_effects_clear(&fx);
    EXPECT(bm_step(m, &sess, &in, &fx) == 0);
}

/* The n-th effect of kind SEND (or EDIT), or "". */
static const char *sent(int n)
{
    for (int i = 0; i < fx.n; i++)
        if ((fx.v[i].kind == BM_FX_SEND || fx.v[i].kind == BM_FX_EDIT) && n-- == 0)
            return fx.v[i].text;
    return "";
}

static const bm_effect *find_fx(bm_effect_kind k)
{
    for (int i = 0; i < fx.n; i++)
        if (fx.v[i].kind == k)
            return &fx.v[i];
    return NULL;
}

int main(void)
{
    /* matchers: priority, languages, commands, patterns */
    EXPECT(target_of(SAMEBOT_S_MAIN, "🚗 Cars") == SAMEBOT_S_CARS);
    EXPECT(target_of(SAMEBOT_S_MAIN, "🚗 Машины") == SAMEBOT_S_CARS);
    EXPECT(target_of(SAMEBOT_S_MAIN, "Назад") == SAMEBOT_S_WELCOME);
    EXPECT(target_of(SAMEBOT_S_MAIN, "What's the PRICE?") == SAMEBOT_S_CARS);
    EXPECT(target_of(SAMEBOT_S_MAIN, "какая цена") == SAMEBOT_S_CARS);
    EXPECT(target_of(SAMEBOT_S_MAIN, "prize") == -100);
    EXPECT(target_of(SAMEBOT_S_MAIN, "/start") == SAMEBOT_S_WELCOME);
    EXPECT(target_of(SAMEBOT_S_MAIN, "/start@samebot") == SAMEBOT_S_WELCOME);
    EXPECT(target_of(SAMEBOT_S_MAIN, "/start promo42") == SAMEBOT_S_WELCOME);
    EXPECT(target_of(SAMEBOT_S_MAIN, "/startx") == -100);
    EXPECT(target_of(BM_NONE, "/start") == SAMEBOT_S_WELCOME);
    EXPECT(target_of(BM_NONE, "🚗 Cars") == -100);
    /* a state's own /help wins over the global one */
    EXPECT(strncmp(say_of(SAMEBOT_S_MAIN, "/help"), "Our cars.", 9) == 0);
    EXPECT(strncmp(say_of(SAMEBOT_S_CARS, "/help"), "Use the menu.", 13) == 0);
    EXPECT(strncmp(say_of(SAMEBOT_S_MAIN, "Hello"), "Use the menu.", 13) == 0);
    EXPECT(strncmp(say_of(SAMEBOT_S_MAIN, "/hello"), "Use the menu.", 13) == 0);
    EXPECT(samebot_match_regex(0, "Иван Петров") == 1);
    EXPECT(samebot_match_regex(0, "R2D2") == 0);
    EXPECT(samebot_match_regex(1, "anything") == 0);

    /* the tables */
    EXPECT(m->n_states == SAMEBOT_N_STATES);
    EXPECT(bm_state_by_name(m, "menu") == SAMEBOT_S_MAIN);
    EXPECT(bm_state_by_name(m, "old_cars") == SAMEBOT_S_CARS);
    EXPECT(strcmp(bm_text(m, m->sys_texts[BM_SYS_CANCELLED], 1), "Остановлено.") == 0);
    EXPECT(strcmp(bm_text(m, m->sys_texts[BM_SYS_MIGRATED], 0), "") != 0);

    /* a conversation */
    bm_effects_init(&fx);
    EXPECT(bm_session_init(m, &sess, &user) == 0);
    EXPECT(bm_enter(m, &sess, &user, m->start_state, &fx) == 0);
    EXPECT(strcmp(sent(0), "Здравствуйте, Анна! Персона: none.") == 0);
    EXPECT(fx.n == 1 && fx.v[0].markup.kind == BM_MK_REMOVE);

    send(BM_IN_TEXT, "привет");
    EXPECT(sess.state == SAMEBOT_S_MAIN);
    EXPECT(strcmp(sent(0), "Главное меню") == 0 && strcmp(sent(1), "Нажмите кнопку:") == 0);
    EXPECT(fx.n == 2 && fx.v[0].markup.kind == BM_MK_REPLY && fx.v[1].markup.kind == BM_MK_INLINE);
    if (fx.n == 2 && fx.v[1].markup.n_buttons == 3) {
        EXPECT(strcmp(fx.v[1].markup.buttons[0].data, "main.0") == 0);
        EXPECT(strcmp(fx.v[1].markup.buttons[1].data, "https://example.com/?a=1&b=2") == 0);
        EXPECT(strcmp(fx.v[1].markup.buttons[2].data, "back!") == 0);
    } else {
        EXPECT(!"three inline buttons");
    }

    send(BM_IN_TEXT, "🚗 Машины");
    EXPECT(sess.state == SAMEBOT_S_CARS && strcmp(sent(0), "Наши машины.") == 0);
    send(BM_IN_TEXT, "Персона кодер");
    EXPECT(sess.state == SAMEBOT_S_MAIN);
    EXPECT(sess.vars && sess.vars[bm_var_by_name(m, "persona")] &&
           strcmp(sess.vars[bm_var_by_name(m, "persona")], "coder") == 0);
    EXPECT(sess.vars && sess.vars[bm_var_by_name(m, "mood")] &&
           strcmp(sess.vars[bm_var_by_name(m, "mood")], "Персона кодер") == 0);
    send(BM_IN_TEXT, "/secret");
    EXPECT(strcmp(sess.vars[bm_var_by_name(m, "persona")], "secret") == 0);

    send(BM_IN_VOICE, "file-id");
    EXPECT(find_fx(BM_FX_ACTION) && find_fx(BM_FX_ACTION)->action == BM_ACT_TRANSCRIBE);
    send(BM_IN_TEXT, "расскажи анекдот");
    EXPECT(find_fx(BM_FX_ACTION) && find_fx(BM_FX_ACTION)->action == BM_ACT_LLM);
    send(BM_IN_CALLBACK, "main.0");
    EXPECT(sess.state == SAMEBOT_S_MORE && find_fx(BM_FX_ANSWER) != NULL);
    send(BM_IN_TEXT, "Назад");
    EXPECT(sess.state == SAMEBOT_S_MAIN);
    send(BM_IN_CONTACT, "+79990001122");
    EXPECT(sess.state == SAMEBOT_S_PHONE_OK &&
           strcmp(sent(0), "Спасибо, номер получен: +79990001122") == 0);
    send(BM_IN_TEXT, "дальше");
    EXPECT(sess.state == SAMEBOT_S_MAIN);

    /* the form: every validator */
    send(BM_IN_TEXT, "📝 Бронь");
    EXPECT(sess.form == 0 && strcmp(sent(0), "Дата?") == 0);
    send(BM_IN_TEXT, "вчера");
    EXPECT(strcmp(sent(0), "Формат ГГГГ-ММ-ДД.") == 0 && sess.field == 0);
    send(BM_IN_TEXT, "2030-02-28");
    EXPECT(sess.field == 1 && strcmp(sent(0), "Сколько дней?") == 0);
    send(BM_IN_TEXT, "31");
    EXPECT(sess.field == 1);
    send(BM_IN_TEXT, "3");
    EXPECT(sess.field == 2);
    send(BM_IN_TEXT, "0.4");
    EXPECT(sess.field == 2);
    send(BM_IN_TEXT, "12.5");
    EXPECT(sess.field == 3);
    send(BM_IN_TEXT, "Внедорожник");
    EXPECT(sess.field == 4);
    send(BM_IN_CONTACT, "+79990001122");
    EXPECT(sess.field == 5);
    send(BM_IN_TEXT, "R2D2");
    EXPECT(sess.field == 5);
    send(BM_IN_TEXT, "Анна Петрова");
    EXPECT(sess.field == 6);
    send(BM_IN_TEXT, "без детского кресла");
    EXPECT(sess.form == BM_NONE && sess.state == SAMEBOT_S_MAIN);
    EXPECT(find_fx(BM_FX_RECORD) != NULL);
    EXPECT(strcmp(sent(0), "Забронировано на 2030-02-28, дней: 3.") == 0);

    send(BM_IN_TEXT, "📝 Бронь");
    send(BM_IN_TEXT, "/cancel");
    EXPECT(sess.form == BM_NONE && strcmp(sent(0), "Бронь отменена.") == 0);

    bm_effects_free(&fx);
    bm_session_free(m, &sess);
    printf("drive: %d passed, %d failed\n", checks - fails, fails);
    return fails != 0;
}

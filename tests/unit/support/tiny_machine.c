/*
 * tiny_machine.c — see tiny_machine.h. Written the way botc emits tables,
 * with the DFA matchers replaced by strcmp.
 */
#include "tiny_machine.h"

#include <math.h>
#include <string.h>

enum {
    T_WELCOME, T_MENU, T_BTN_INFO, T_BTN_FORM, T_BTN_PHONE, T_INFO, T_BTN_MORE,
    T_BTN_BACK, T_BTN_SITE, T_MORE, T_ECHO_ASK, T_ECHOED, T_GOT_CONTACT, T_HELP,
    T_ASK_NAME, T_ASK_AGE, T_BAD_AGE, T_ASK_WEIGHT, T_ASK_DATE, T_ASK_PHONE,
    T_BTN_SHARE, T_ASK_CODE, T_ASK_CLASS, T_CLASS_ECO, T_CLASS_SUV, T_DONE,
    T_CANCELLED, T_ASK_Q, T_QUICK_DONE, T_NICK_SET,
    T_SYS_MIGRATED, T_SYS_CANCELLED, T_SYS_INVALID, T_SYS_SHARE, T_SYS_UNAVAILABLE,
    T_SYS_USE_BUTTONS, T_SYS_DELETED,
    /* the managers' texts (handoff.c, lead.c), as the built-in defaults */
    T_SYS_LEAD, T_SYS_MGR_CLIENT, T_SYS_MGR_USERNAME, T_SYS_MGR_LANGUAGE, T_SYS_MGR_BOOKINGS, T_SYS_MGR_NONE, T_SYS_MGR_CONVERSATION, T_SYS_MGR_NOTHING_YET, T_SYS_MGR_OPERATOR, T_SYS_MGR_BOT, T_SYS_MGR_CLOSED_BY, T_SYS_MGR_CLIENT_CLOSED, T_SYS_MGR_LIST, T_SYS_MGR_LIST_EMPTY, T_SYS_MGR_ADD_USAGE, T_SYS_MGR_ADDED, T_SYS_MGR_DEL_USAGE, T_SYS_MGR_REMOVED, T_SYS_MGR_NOT_MANAGER, T_SYS_MGR_LEAD_CLIENT,
    T_COUNT
};

static const char *const langs[] = {"en", "ru"};

static const char *const texts[T_COUNT * 2] = {
    [T_WELCOME * 2] = "Hello, {first_name}!", "Привет, {first_name}!",
    [T_MENU * 2] = "Main menu ({language})", "Главное меню ({language})",
    [T_BTN_INFO * 2] = "ℹ️ Info", "ℹ️ Инфо",
    [T_BTN_FORM * 2] = "📝 Book", "📝 Заявка",
    [T_BTN_PHONE * 2] = "📱 Phone", "📱 Телефон",
    [T_INFO * 2] = "Info for @{username} (id {user_id})", "Инфо для @{username}",
    [T_BTN_MORE * 2] = "More", "Ещё",
    [T_BTN_BACK * 2] = "Back", "Назад",
    [T_BTN_SITE * 2] = "Site", "Сайт",
    [T_MORE * 2] = "More details", "Подробнее",
    [T_ECHO_ASK * 2] = "Say something", "Скажите что-нибудь",
    [T_ECHOED * 2] = "You said: {last}. Nick {nick}. {{braces}} {unknown}", "Вы сказали: {last}",
    [T_GOT_CONTACT * 2] = "Thanks for {contact}", "Спасибо за {contact}",
    [T_HELP * 2] = "Help text", "Справка",
    [T_ASK_NAME * 2] = "Your name?", "Ваше имя?",
    [T_ASK_AGE * 2] = "Your age?", "Ваш возраст?",
    [T_BAD_AGE * 2] = "Age must be 18 to 99", "Возраст от 18 до 99",
    [T_ASK_WEIGHT * 2] = "Weight in kg?", "Вес в кг?",
    [T_ASK_DATE * 2] = "Date?", "Дата?",
    [T_ASK_PHONE * 2] = "Phone?", "Телефон?",
    [T_BTN_SHARE * 2] = "Share my phone", "Поделиться номером",
    [T_ASK_CODE * 2] = "Code (like ABC12)?", "Код (как ABC12)?",
    [T_ASK_CLASS * 2] = "Class?", "Класс?",
    [T_CLASS_ECO * 2] = "Economy", "Эконом",
    [T_CLASS_SUV * 2] = "SUV", "Внедорожник",
    [T_DONE * 2] = "Booked: {booking.name}|{booking.age}|{booking.weight}|{booking.date}|"
                   "{booking.phone}|{booking.code}|{booking.class}",
                   "Заявка: {booking.name}",
    [T_CANCELLED * 2] = "Booking cancelled", "Заявка отменена",
    [T_ASK_Q * 2] = "Quick question?", "Быстрый вопрос?",
    [T_QUICK_DONE * 2] = "Quick done: {quick.q}", "Готово: {quick.q}",
    [T_NICK_SET * 2] = "Nick set: {nick}", "Ник: {nick}",
    [T_SYS_MIGRATED * 2] = "The bot was updated; let us start over.", "Бот обновлён, начнём сначала.",
    [T_SYS_CANCELLED * 2] = "Cancelled.", "Отменено.",
    [T_SYS_INVALID * 2] = "That does not look right.", "Не похоже на правильный ответ.",
    [T_SYS_SHARE * 2] = "Share contact", "Отправить контакт",
    [T_SYS_UNAVAILABLE * 2] = "Not available yet.", "Пока недоступно.",
    [T_SYS_USE_BUTTONS * 2] = "Please use the buttons.", "Пожалуйста, используйте кнопки.",
    [T_SYS_DELETED * 2] = "Your data was deleted.", "Ваши данные удалены.",
    [T_SYS_LEAD * 2] = "📝 New lead", "📝 Новая заявка",
    [T_SYS_MGR_CLIENT * 2] = "Client", "Клиент",
    [T_SYS_MGR_USERNAME * 2] = "Username", "Имя пользователя",
    [T_SYS_MGR_LANGUAGE * 2] = "Language", "Язык",
    [T_SYS_MGR_BOOKINGS * 2] = "Bookings", "Бронирования",
    [T_SYS_MGR_NONE * 2] = "none", "нет",
    [T_SYS_MGR_CONVERSATION * 2] = "💬 The conversation so far:", "💬 Разговор до сих пор:",
    [T_SYS_MGR_NOTHING_YET * 2] = "(nothing yet)", "(пока ничего)",
    [T_SYS_MGR_OPERATOR * 2] = "Operator", "Оператор",
    [T_SYS_MGR_BOT * 2] = "Bot", "Бот",
    [T_SYS_MGR_CLOSED_BY * 2] = "✅ Closed by {first_name}.", "✅ Разговор закрыт: {first_name}.",
    [T_SYS_MGR_CLIENT_CLOSED * 2] = "✅ The client closed the conversation: satisfied.", "✅ Клиент завершил разговор: вопрос решён.",
    [T_SYS_MGR_LIST * 2] = "Managers:", "Менеджеры:",
    [T_SYS_MGR_LIST_EMPTY * 2] = "No managers yet. Add one with /addmanager USER_ID NAME.", "Менеджеров пока нет. Добавьте: /addmanager ID ИМЯ.",
    [T_SYS_MGR_ADD_USAGE * 2] = "Usage: /addmanager USER_ID NAME (a name of 1 to 64 bytes)", "Формат: /addmanager ID ИМЯ (имя от 1 до 64 байт)",
    [T_SYS_MGR_ADDED * 2] = "✅ {user_id} ({first_name}) is a manager now.", "✅ {user_id} ({first_name}) теперь менеджер.",
    [T_SYS_MGR_DEL_USAGE * 2] = "Usage: /delmanager USER_ID", "Формат: /delmanager ID",
    [T_SYS_MGR_REMOVED * 2] = "✅ {user_id} is no longer a manager.", "✅ {user_id} больше не менеджер.",
    [T_SYS_MGR_NOT_MANAGER * 2] = "{user_id} was not a manager.", "{user_id} не был менеджером.",
    [T_SYS_MGR_LEAD_CLIENT * 2] = "id {user_id}, language {text}", "id {user_id}, язык {text}",
};

enum {
    TR_GO_MAIN, TR_GO_INFO, TR_GO_MORE, TR_FORM_BOOKING, TR_GOT_CONTACT, TR_GO_ECHO,
    TR_ECHO, TR_TRANSCRIBE, TR_HELP, TR_DELETE, TR_EXPORT, TR_LLM, TR_BOOK_DONE,
    TR_BOOK_CANCEL, TR_FORM_QUICK, TR_QUICK_DONE, TR_NICK, TR_COUNT
};

static const bm_assign assigns[] = {
    {TV_CONTACT, "{text}"}, /* 0: TR_GOT_CONTACT */
    {TV_LAST, "{text}"},    /* 1: TR_ECHO */
    {TV_NICK, "{text}!"},   /* 2: TR_NICK */
};

#define TR(target, say, form, fa, na, act) {target, say, form, fa, na, act}
static const bm_transition transitions[TR_COUNT] = {
    [TR_GO_MAIN] = TR(TS_MAIN, BM_NONE, BM_NONE, 0, 0, BM_ACT_NONE),
    [TR_GO_INFO] = TR(TS_INFO, BM_NONE, BM_NONE, 0, 0, BM_ACT_NONE),
    [TR_GO_MORE] = TR(TS_MORE, BM_NONE, BM_NONE, 0, 0, BM_ACT_NONE),
    [TR_FORM_BOOKING] = TR(BM_NONE, BM_NONE, TF_BOOKING, 0, 0, BM_ACT_NONE),
    [TR_GOT_CONTACT] = TR(TS_GOT, BM_NONE, BM_NONE, 0, 1, BM_ACT_NONE),
    [TR_GO_ECHO] = TR(TS_ECHO, BM_NONE, BM_NONE, 0, 0, BM_ACT_NONE),
    [TR_ECHO] = TR(BM_NONE, T_ECHOED, BM_NONE, 1, 1, BM_ACT_NONE),
    [TR_TRANSCRIBE] = TR(BM_NONE, BM_NONE, BM_NONE, 0, 0, BM_ACT_TRANSCRIBE),
    [TR_HELP] = TR(BM_NONE, T_HELP, BM_NONE, 0, 0, BM_ACT_NONE),
    [TR_DELETE] = TR(TS_MAIN, BM_NONE, BM_NONE, 0, 0, BM_ACT_DELETE_DATA),
    [TR_EXPORT] = TR(BM_NONE, BM_NONE, BM_NONE, 0, 0, BM_ACT_EXPORT_DATA),
    [TR_LLM] = TR(BM_NONE, BM_NONE, BM_NONE, 0, 0, BM_ACT_LLM),
    [TR_BOOK_DONE] = TR(TS_MAIN, T_DONE, BM_NONE, 0, 0, BM_ACT_NONE),
    [TR_BOOK_CANCEL] = TR(TS_MAIN, T_CANCELLED, BM_NONE, 0, 0, BM_ACT_NONE),
    [TR_FORM_QUICK] = TR(BM_NONE, BM_NONE, TF_QUICK, 0, 0, BM_ACT_NONE),
    [TR_QUICK_DONE] = TR(BM_NONE, T_QUICK_DONE, BM_NONE, 0, 0, BM_ACT_NONE),
    [TR_NICK] = TR(BM_NONE, T_NICK_SET, BM_NONE, 2, 1, BM_ACT_NONE),
};

static const bm_button buttons[] = {
    /* K_MAIN */
    {BM_BTN_REPLY, T_BTN_INFO, TR_GO_INFO, NULL},         /* 0 */
    {BM_BTN_REPLY, T_BTN_FORM, TR_FORM_BOOKING, NULL},    /* 1 */
    {BM_BTN_CONTACT, T_BTN_PHONE, TR_GOT_CONTACT, NULL},  /* 2 */
    /* K_INFO */
    {BM_BTN_CALLBACK, T_BTN_MORE, TR_GO_MORE, "more"},    /* 3 */
    {BM_BTN_CALLBACK, T_BTN_BACK, TR_GO_MAIN, "back"},    /* 4 */
    {BM_BTN_URL, T_BTN_SITE, BM_NONE, "https://example.com"}, /* 5 */
    /* K_MORE */
    {BM_BTN_CALLBACK, T_BTN_BACK, TR_GO_INFO, "more_back"}, /* 6 */
};

static const bm_row rows[] = {
    {0, 2}, {2, 1}, /* K_MAIN */
    {3, 1}, {4, 2}, /* K_INFO */
    {6, 1},         /* K_MORE */
};

enum { K_MAIN, K_INFO, K_MORE };
static const bm_keyboard keyboards[] = {{0, 2}, {2, 2}, {4, 1}};

static const int says[] = {T_WELCOME, T_MENU, T_INFO, T_MORE, T_ECHO_ASK, T_GOT_CONTACT};

#define STATE(name, fs, ns, rk, ik, ct, vt, fb) \
    {name, 0, fs, ns, rk, ik, ct, vt, fb}
static const bm_state states[TS_COUNT] = {
    [TS_MAIN] = STATE("main", 0, 2, K_MAIN, BM_NONE, BM_NONE, BM_NONE, BM_NONE),
    [TS_INFO] = STATE("info", 2, 1, BM_NONE, K_INFO, BM_NONE, BM_NONE, BM_NONE),
    [TS_MORE] = STATE("more", 3, 1, BM_NONE, K_MORE, BM_NONE, BM_NONE, BM_NONE),
    [TS_ECHO] = STATE("echo", 4, 1, BM_KB_REMOVE, BM_NONE, BM_NONE, TR_TRANSCRIBE, TR_ECHO),
    [TS_GOT] = STATE("got_contact", 5, 1, BM_NONE, BM_NONE, BM_NONE, BM_NONE, BM_NONE),
};

static const int choices[] = {T_CLASS_ECO, T_CLASS_SUV};

static const bm_field fields[] = {
    {"name", 0, T_ASK_NAME, BM_NONE, BM_NONE, TV_B_NAME, BM_V_TEXT, BM_NONE, -INFINITY, INFINITY, 0, 0, NULL},
    {"age", 0, T_ASK_AGE, T_BAD_AGE, BM_NONE, TV_B_AGE, BM_V_INTEGER, BM_NONE, 18, 99, 0, 0, NULL},
    {"weight", 0, T_ASK_WEIGHT, BM_NONE, BM_NONE, TV_B_WEIGHT, BM_V_NUMBER, BM_NONE, 0.5, 500, 0, 0, NULL},
    {"date", 0, T_ASK_DATE, BM_NONE, BM_NONE, TV_B_DATE, BM_V_DATE, BM_NONE, -INFINITY, INFINITY, 0, 0, NULL},
    {"phone", 0, T_ASK_PHONE, BM_NONE, T_BTN_SHARE, TV_B_PHONE, BM_V_PHONE, BM_NONE, -INFINITY, INFINITY, 0, 0, NULL},
    {"code", 0, T_ASK_CODE, BM_NONE, BM_NONE, TV_B_CODE, BM_V_REGEX, 0, -INFINITY, INFINITY, 0, 0, NULL},
    {"class", 0, T_ASK_CLASS, BM_NONE, BM_NONE, TV_B_CLASS, BM_V_CHOICE, BM_NONE, -INFINITY, INFINITY, 0, 2, NULL},
    {"q", 0, T_ASK_Q, BM_NONE, BM_NONE, TV_Q_Q, BM_V_TEXT, BM_NONE, -INFINITY, INFINITY, 0, 0, NULL},
};

static const bm_form forms[] = {
    {"booking", 0, 0, 7, TR_BOOK_DONE, TR_BOOK_CANCEL, BM_LEAD_NONE, NULL},
    {"quick", 0, 7, 1, TR_QUICK_DONE, BM_NONE, BM_LEAD_NONE, NULL},
};

static const bm_command commands[] = {
    {"start", BM_NONE, TR_GO_MAIN},   {"echo", BM_NONE, TR_GO_ECHO},
    {"help", BM_NONE, TR_HELP},       {"delete", BM_NONE, TR_DELETE},
    {"export", BM_NONE, TR_EXPORT},   {"ask", BM_NONE, TR_LLM},
    {"quick", BM_NONE, TR_FORM_QUICK}, {"book", BM_NONE, TR_FORM_BOOKING},
};

static const bm_var vars[TV_COUNT] = {
    [TV_LAST] = {"last", ""},           [TV_NICK] = {"nick", "anon"},
    [TV_CONTACT] = {"contact", ""},     [TV_B_NAME] = {"booking.name", ""},
    [TV_B_AGE] = {"booking.age", ""},   [TV_B_WEIGHT] = {"booking.weight", ""},
    [TV_B_DATE] = {"booking.date", ""}, [TV_B_PHONE] = {"booking.phone", ""},
    [TV_B_CODE] = {"booking.code", ""}, [TV_B_CLASS] = {"booking.class", ""},
    [TV_Q_Q] = {"quick.q", ""},
};

static const bm_move moves[] = {{"old_main", TS_MAIN}};

static int is_label(int text, const char *s)
{
    return !strcmp(s, texts[text * 2]) || !strcmp(s, texts[text * 2 + 1]);
}

static int match_text(int state, const char *s)
{
    if (state == TS_MAIN) {
        if (is_label(T_BTN_INFO, s))
            return TR_GO_INFO;
        if (is_label(T_BTN_FORM, s))
            return TR_FORM_BOOKING;
        if (!strncmp(s, "nick ", 5))
            return TR_NICK;
    }
    if (s[0] == '/')
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (!strcmp(s + 1, commands[i].name))
                return commands[i].transition;
    return BM_NONE;
}

/* regex 0: ^[A-Z]{3}[0-9]{2}$ */
static int match_regex(int id, const char *s)
{
    if (id != 0 || strlen(s) != 5)
        return 0;
    for (int i = 0; i < 3; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return 0;
    for (int i = 3; i < 5; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

const bm_machine tiny_machine = {
    .name = "tiny",
    .shape_hash = 0x1111111111111111ULL,
    .langs = langs,
    .n_langs = 2,
    .default_lang = 0,
    .texts = texts,
    .n_texts = T_COUNT,
    .sys_texts = {[BM_SYS_MIGRATED] = T_SYS_MIGRATED, [BM_SYS_CANCELLED] = T_SYS_CANCELLED,
                  [BM_SYS_INVALID] = T_SYS_INVALID, [BM_SYS_SHARE_CONTACT] = T_SYS_SHARE,
                  [BM_SYS_UNAVAILABLE] = T_SYS_UNAVAILABLE,
                  [BM_SYS_USE_BUTTONS] = T_SYS_USE_BUTTONS,
                  [BM_SYS_DATA_DELETED] = T_SYS_DELETED,
                  [BM_SYS_LEAD] = T_SYS_LEAD,
                  [BM_SYS_MGR_CLIENT] = T_SYS_MGR_CLIENT,
                  [BM_SYS_MGR_USERNAME] = T_SYS_MGR_USERNAME,
                  [BM_SYS_MGR_LANGUAGE] = T_SYS_MGR_LANGUAGE,
                  [BM_SYS_MGR_BOOKINGS] = T_SYS_MGR_BOOKINGS,
                  [BM_SYS_MGR_NONE] = T_SYS_MGR_NONE,
                  [BM_SYS_MGR_CONVERSATION] = T_SYS_MGR_CONVERSATION,
                  [BM_SYS_MGR_NOTHING_YET] = T_SYS_MGR_NOTHING_YET,
                  [BM_SYS_MGR_OPERATOR] = T_SYS_MGR_OPERATOR,
                  [BM_SYS_MGR_BOT] = T_SYS_MGR_BOT,
                  [BM_SYS_MGR_CLOSED_BY] = T_SYS_MGR_CLOSED_BY,
                  [BM_SYS_MGR_CLIENT_CLOSED] = T_SYS_MGR_CLIENT_CLOSED,
                  [BM_SYS_MGR_LIST] = T_SYS_MGR_LIST,
                  [BM_SYS_MGR_LIST_EMPTY] = T_SYS_MGR_LIST_EMPTY,
                  [BM_SYS_MGR_ADD_USAGE] = T_SYS_MGR_ADD_USAGE,
                  [BM_SYS_MGR_ADDED] = T_SYS_MGR_ADDED,
                  [BM_SYS_MGR_DEL_USAGE] = T_SYS_MGR_DEL_USAGE,
                  [BM_SYS_MGR_REMOVED] = T_SYS_MGR_REMOVED,
                  [BM_SYS_MGR_NOT_MANAGER] = T_SYS_MGR_NOT_MANAGER,
                  [BM_SYS_MGR_LEAD_CLIENT] = T_SYS_MGR_LEAD_CLIENT,},
    .states = states,
    .n_states = TS_COUNT,
    .start_state = TS_MAIN,
    .says = says,
    .transitions = transitions,
    .n_transitions = TR_COUNT,
    .assigns = assigns,
    .buttons = buttons,
    .rows = rows,
    .keyboards = keyboards,
    .forms = forms,
    .n_forms = 2,
    .fields = fields,
    .choices = choices,
    .commands = commands,
    .n_commands = sizeof commands / sizeof commands[0],
    .vars = vars,
    .n_vars = TV_COUNT,
    .moves = moves,
    .n_moves = 1,
    .match_text = match_text,
    .match_regex = match_regex,
};

static const bm_state states_v2[TS_COUNT] = {
    [TS_MAIN] = STATE("main", 0, 2, K_MAIN, BM_NONE, BM_NONE, BM_NONE, BM_NONE),
    [TS_INFO] = STATE("information", 2, 1, BM_NONE, K_INFO, BM_NONE, BM_NONE, BM_NONE),
    [TS_MORE] = STATE("more_v2", 3, 1, BM_NONE, K_MORE, BM_NONE, BM_NONE, BM_NONE),
    [TS_ECHO] = STATE("echo", 4, 1, BM_KB_REMOVE, BM_NONE, BM_NONE, TR_TRANSCRIBE, TR_ECHO),
    [TS_GOT] = STATE("got_contact", 5, 1, BM_NONE, BM_NONE, BM_NONE, BM_NONE, BM_NONE),
};

static const bm_move moves_v2[] = {{"old_main", TS_MAIN}, {"info", TS_INFO}};

void tiny_machine_v2(bm_machine *out)
{
    *out = tiny_machine;
    out->shape_hash = 0x2222222222222222ULL;
    out->states = states_v2;
    out->moves = moves_v2;
    out->n_moves = 2;
}

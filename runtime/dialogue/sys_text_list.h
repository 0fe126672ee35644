/*
 * sys_text_list.h — the texts the runtime itself needs, listed once.
 *
 * X(ENUM, spec_name, "English default", "Russian default"): machine.h
 * derives enum bm_sys_text (BM_SYS_<ENUM>) from it, botc (codegen/lower.c,
 * emit_c.c) the names a spec may override (`texts: sys_migrated: ...`) and
 * the defaults it fills in when the spec does not. A new system text is one
 * line here; spec/REFERENCE.md lists them for spec authors.
 */
#ifndef BOTC_SYS_TEXT_LIST_H
#define BOTC_SYS_TEXT_LIST_H

#define BM_SYS_TEXTS(X) \
    /* the user's state vanished in an update */ \
    X(MIGRATED, sys_migrated, \
      "This bot has been updated and the section you were in is gone. Let's start again.", \
      "Бот обновился, и раздела, в котором вы были, больше нет. Начнём сначала.") \
    /* /cancel inside a form with no cancel: say */ \
    X(CANCELLED, sys_cancelled, \
      "Cancelled.", \
      "Отменено.") \
    /* default retry text of a form field */ \
    X(INVALID, sys_invalid, \
      "That doesn't look right. Please try again.", \
      "Похоже, это не то, что нужно. Попробуйте ещё раз.") \
    /* default label of a request_contact button */ \
    X(SHARE_CONTACT, sys_share_contact, \
      "Share my phone number", \
      "Отправить мой номер телефона") \
    /* an action this build cannot perform */ \
    X(UNAVAILABLE, sys_unavailable, \
      "Sorry, this is not available right now.", \
      "Извините, сейчас это недоступно.") \
    /* text sent where only a button press fits */ \
    X(USE_BUTTONS, sys_use_buttons, \
      "Please use the buttons below.", \
      "Пожалуйста, воспользуйтесь кнопками ниже.") \
    /* an unknown /command; the bot's published commands follow, one a line */ \
    X(UNKNOWN_COMMAND, sys_unknown_command, \
      "Sorry, I don't know that command. These are the ones I know:", \
      "Извините, такой команды я не знаю. Вот команды, которые я знаю:") \
    /* a message no trigger takes where the state has no buttons; the commands follow */ \
    X(NOT_UNDERSTOOD, sys_not_understood, \
      "Sorry, I didn't understand that. These commands may help:", \
      "Извините, я не понял. Вам помогут эти команды:") \
    /* confirmation after delete_data */ \
    X(DATA_DELETED, sys_data_deleted, \
      "All your data has been deleted.", \
      "Все ваши данные удалены.") \
    /* the knowledge does not answer: offer a human */ \
    X(NO_ANSWER, sys_no_answer, \
      "I could not find an answer to that in our information, and I would rather not guess. " "An operator can help: tap the button below.", \
      "В нашей информации нет ответа на этот вопрос, а гадать я не хочу. " "Вам поможет оператор: нажмите кнопку ниже.") \
    /* label of the "call an operator" button it carries */ \
    X(OPERATOR, sys_operator, \
      "👤 Call an operator", \
      "👤 Позвать оператора") \
    /* the user's daily LLM tokens are used up */ \
    X(LIMIT_REACHED, sys_limit_reached, \
      "You have used today's allowance of AI answers. It renews at midnight. " "An operator can still help: tap the button below.", \
      "Вы исчерпали дневной лимит ответов ИИ. Он обновится в полночь. " "Оператор поможет и сейчас: нажмите кнопку ниже.") \
    /* label of the "👍 Helped" button under an AI answer */ \
    X(HELPED, sys_helped, \
      "👍 Helped", \
      "👍 Помогло") \
    /* heading of a lead posted to the managers' group */ \
    X(LEAD, sys_lead, \
      "📝 New lead", \
      "📝 Новая заявка") \
    /* an operator is called (or already on the way) */ \
    X(HANDOFF_STARTED, sys_handoff_started, \
      "I've called an operator: they will answer right here. Everything you send now goes " "to them. Tap \"✅ I'm satisfied\" when your question is solved.", \
      "Я позвал оператора: он ответит прямо здесь. Всё, что вы сейчас пишете, передаётся " "ему. Нажмите «✅ Я доволен», когда вопрос будет решён.") \
    /* handoff where no operator is reachable (console) */ \
    X(HANDOFF_OFF, sys_handoff_off, \
      "Our operators answer in Telegram only; none can be reached from here.", \
      "Операторы отвечают только в Telegram; отсюда с ними не связаться.") \
    /* the handoff ended: asks for a 1-5 rating */ \
    X(HANDOFF_CLOSED, sys_handoff_closed, \
      "The conversation with the operator is closed. How would you rate it? Tap 1 to 5:", \
      "Разговор с оператором завершён. Как вы его оцените? Нажмите от 1 до 5:") \
    /* after the rating */ \
    X(HANDOFF_THANKS, sys_handoff_thanks, \
      "Thank you for your rating!", \
      "Спасибо за оценку!") \
    /* label of the "I'm satisfied" button during a handoff */ \
    X(SATISFIED, sys_satisfied, \
      "✅ I'm satisfied", \
      "✅ Я доволен") \
    /* the model failed (down, error, timeout): offer a human */ \
    X(LLM_DOWN, sys_llm_down, \
      "Sorry, our AI assistant is not answering right now. An operator can help: " "tap the button below.", \
      "Извините, наш ИИ-помощник сейчас не отвечает. Вам поможет оператор: " "нажмите кнопку ниже.") \
    /* managers: label on the client card and before the client's lines of the conversation */ \
    X(MGR_CLIENT, sys_mgr_client, \
      "Client", \
      "Клиент") \
    /* managers: client card: the @username line */ \
    X(MGR_USERNAME, sys_mgr_username, \
      "Username", \
      "Имя пользователя") \
    /* managers: client card: the language line */ \
    X(MGR_LANGUAGE, sys_mgr_language, \
      "Language", \
      "Язык") \
    /* managers: client card: the booking records line */ \
    X(MGR_BOOKINGS, sys_mgr_bookings, \
      "Bookings", \
      "Бронирования") \
    /* managers: client card: no @username, no bookings */ \
    X(MGR_NONE, sys_mgr_none, \
      "none", \
      "нет") \
    /* managers: heading of the conversation posted after the card */ \
    X(MGR_CONVERSATION, sys_mgr_conversation, \
      "💬 The conversation so far:", \
      "💬 Разговор до сих пор:") \
    /* managers: the conversation is empty */ \
    X(MGR_NOTHING_YET, sys_mgr_nothing_yet, \
      "(nothing yet)", \
      "(пока ничего)") \
    /* managers: before an operator's lines of the conversation */ \
    X(MGR_OPERATOR, sys_mgr_operator, \
      "Operator", \
      "Оператор") \
    /* managers: before the bot's lines of the conversation */ \
    X(MGR_BOT, sys_mgr_bot, \
      "Bot", \
      "Бот") \
    /* managers: in the topic after a manager's /close ({first_name}: the manager) */ \
    X(MGR_CLOSED_BY, sys_mgr_closed_by, \
      "✅ Closed by {first_name}.", \
      "✅ Разговор закрыт: {first_name}.") \
    /* managers: in the topic after the client's 'I'm satisfied' */ \
    X(MGR_CLIENT_CLOSED, sys_mgr_client_closed, \
      "✅ The client closed the conversation: satisfied.", \
      "✅ Клиент завершил разговор: вопрос решён.") \
    /* managers: /managers: heading of the list */ \
    X(MGR_LIST, sys_mgr_list, \
      "Managers:", \
      "Менеджеры:") \
    /* managers: /managers with none */ \
    X(MGR_LIST_EMPTY, sys_mgr_list_empty, \
      "No managers yet. Add one with /addmanager USER_ID NAME.", \
      "Менеджеров пока нет. Добавьте: /addmanager ID ИМЯ.") \
    /* managers: /addmanager malformed */ \
    X(MGR_ADD_USAGE, sys_mgr_add_usage, \
      "Usage: /addmanager USER_ID NAME (a name of 1 to 64 bytes)", \
      "Формат: /addmanager ID ИМЯ (имя от 1 до 64 байт)") \
    /* managers: /addmanager done ({user_id}, {first_name}: the new manager's id and name) */ \
    X(MGR_ADDED, sys_mgr_added, \
      "✅ {user_id} ({first_name}) is a manager now.", \
      "✅ {user_id} ({first_name}) теперь менеджер.") \
    /* managers: /delmanager malformed */ \
    X(MGR_DEL_USAGE, sys_mgr_del_usage, \
      "Usage: /delmanager USER_ID", \
      "Формат: /delmanager ID") \
    /* managers: /delmanager done ({user_id}: who) */ \
    X(MGR_REMOVED, sys_mgr_removed, \
      "✅ {user_id} is no longer a manager.", \
      "✅ {user_id} больше не менеджер.") \
    /* managers: /delmanager of someone who is not one */ \
    X(MGR_NOT_MANAGER, sys_mgr_not_manager, \
      "{user_id} was not a manager.", \
      "{user_id} не был менеджером.") \
    /* managers: a lead's client line after the name ({user_id}: the client's id, {text}: the language) */ \
    X(MGR_LEAD_CLIENT, sys_mgr_lead_client, \
      "id {user_id}, language {text}", \
      "id {user_id}, язык {text}") \
    /* session_start done: the model no longer sees the earlier conversation */ \
    X(SESSION_STARTED, sys_session_started, \
      "🚀 New session started: I no longer take our earlier messages into account. Your first question names it.", \
      "🚀 Начата новая сессия: прежние сообщения я больше не учитываю. Её название — ваш первый вопрос.") \
    /* session_end (or session_start, or a continued session) closed the open
     * session: {text} is its summary */ \
    X(SESSION_ENDED, sys_session_ended, \
      "✅ Session closed. What we talked about:\n{text}", \
      "✅ Сессия закрыта. О чём мы говорили:\n{text}") \
    /* session_end with no session open */ \
    X(SESSION_NONE, sys_session_none, \
      "No session is open. Write a message and one opens by itself.", \
      "Открытой сессии нет. Напишите сообщение — сессия откроется сама.") \
    /* session_list: the heading above the sessions (each a line: its date,
     * title and questions; a button under the message continues it) */ \
    X(SESSIONS_LIST, sys_sessions_list, \
      "🗂 Your sessions, newest first (🟢 open; 💬 questions). Tap one to continue it:", \
      "🗂 Ваши сессии, сначала новые (🟢 открыта; 💬 вопросы). Нажмите, чтобы продолжить:") \
    /* session_list with no session yet */ \
    X(SESSIONS_EMPTY, sys_sessions_empty, \
      "You have no sessions yet. Write a message to start one.", \
      "Сессий пока нет. Напишите сообщение, чтобы начать.") \
    /* a session_list button pressed: {text} is the session's title */ \
    X(SESSION_CONTINUED, sys_session_continued, \
      "▶️ Back to the session «{text}». I remember what we said in it.", \
      "▶️ Вернулись к сессии «{text}». Я помню, о чём мы в ней говорили.") \
    /* a session_list button of a session that is gone (deleted data) */ \
    X(SESSION_GONE, sys_session_gone, \
      "That session no longer exists.", \
      "Этой сессии больше нет.") \
    /* the title of a session with no question yet */ \
    X(SESSION_UNTITLED, sys_session_untitled, \
      "(no question yet)", \
      "(вопросов пока нет)") \
    /* a summary made without the model (offline, or the model failed):
     * {text} is the session's questions */ \
    X(SESSION_DIGEST, sys_session_digest, \
      "Questions: {text}", \
      "Вопросы: {text}") \
    /* the pop-up answering a "👍 Helped" press (counted once per answer) */ \
    X(VOTED, sys_voted, \
      "Thank you! Your feedback is counted.", \
      "Спасибо! Ваш отзыв учтён.") \
    /* the llm action got only numbers, a date or punctuation */ \
    X(NOT_A_QUESTION, sys_not_a_question, \
      "What would you like to know about it? Please ask in a few words, e.g. \"how much is the deposit?\"", \
      "Что вы хотите узнать? Спросите, пожалуйста, словами, например: «какой депозит?»") \
    /* remember: the fact kept ({text}: the fact) */ \
    X(MEMORY_KEPT, sys_memory_kept, \
      "🧠 I'll remember that: {text}", \
      "🧠 Запомнил: {text}") \
    /* remember with nothing after "remember that" */ \
    X(MEMORY_WHAT, sys_memory_what, \
      "What should I remember? Write, for example: \"remember that I prefer Python\".", \
      "Что запомнить? Напишите, например: «запомни, что я пишу на Python».") \
    /* memory_list: the heading above the items; each has a 🗑 button */ \
    X(MEMORY_LIST, sys_memory_list, \
      "🧠 What I remember about you (🗑 N forgets item N):", \
      "🧠 Что я о вас помню (🗑 N — забыть пункт N):") \
    /* memory_list, memory_forget: nothing is kept */ \
    X(MEMORY_EMPTY, sys_memory_empty, \
      "I don't remember anything about you yet. Write \"remember that …\" to keep a fact.", \
      "Я пока ничего о вас не помню. Напишите «запомни, что …», чтобы я запомнил факт.") \
    /* the pop-up answering a 🗑 press */ \
    X(MEMORY_FORGOTTEN, sys_memory_forgotten, \
      "Forgotten.", \
      "Забыл.") \
    /* the pop-up answering a 🗑 press on an item already gone */ \
    X(MEMORY_GONE, sys_memory_gone, \
      "That is already forgotten.", \
      "Это уже забыто.") \
    /* memory_forget: the confirmation ({text}: the number of items) */ \
    X(MEMORY_FORGET_CONFIRM, sys_memory_forget_confirm, \
      "Forget everything I remember about you ({text} items)? This cannot be undone.", \
      "Забыть всё, что я о вас помню (пунктов: {text})? Это нельзя отменить.") \
    /* memory_forget: the confirmation's buttons */ \
    X(MEMORY_FORGET_YES, sys_memory_forget_yes, \
      "Yes, forget everything", \
      "Да, забыть всё") \
    X(MEMORY_FORGET_NO, sys_memory_forget_no, \
      "No, keep it", \
      "Нет, оставить") \
    /* memory_forget confirmed */ \
    X(MEMORY_ALL_FORGOTTEN, sys_memory_all_forgotten, \
      "Done: I have forgotten everything I remembered about you.", \
      "Готово: я забыл всё, что о вас помнил.") \
    /* memory_forget declined */ \
    X(MEMORY_ALL_KEPT, sys_memory_all_kept, \
      "OK, I forgot nothing.", \
      "Хорошо, ничего не забываю.") \
    /* remember, memory_list, memory_forget in a group: memory is private */ \
    X(MEMORY_PRIVATE, sys_memory_private, \
      "What I remember about you stays between us: ask me in a private chat.", \
      "То, что я о вас помню, остаётся между нами: спросите меня в личном чате.")

#endif

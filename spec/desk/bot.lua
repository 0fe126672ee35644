-- desk — DESK TOP, a personal AI agent in Telegram.
--
-- The user picks the agent's role (/personalize) or writes their own
-- instructions for it, talks with it in sessions (/start_session,
-- /end_session, /list_sessions; a question with none open opens one, and
-- a session idle for 30 minutes closes itself with a summary), exports or
-- deletes everything stored about them. The AI and data behaviour (llm,
-- the session actions, export_data, delete_data) is answered by the
-- runtime; this spec is the dialogue around it. Voice questions reach the
-- agent as their transcript (voice = ...).
--
-- Written in Lua to show what Lua buys a spec author: the persona menu, its
-- confirmation screens and texts come from one list, and the main menu is
-- both a reply keyboard and a set of commands built from another list.
--
-- Check it: bin/botc check spec/desk/bot.lua
--
-- Lua tables with string keys are unordered, so texts, commands, states and
-- forms are written as ordered lists of entries with `name = "..."`.
-- `goto` is a Lua keyword: write it as ["goto"] = "state".

-- A text in both languages.
local function t(en, ru)
  return { en = en, ru = ru }
end

-- A transition that enters `state`, plus any other keys from `extra`.
local function go(state, extra)
  local tr = { ["goto"] = state }
  for k, v in pairs(extra or {}) do tr[k] = v end
  return tr
end

-- A copy of `base` with the keys of `extra` added.
local function with(base, extra)
  local out = {}
  for k, v in pairs(base) do out[k] = v end
  for k, v in pairs(extra) do out[k] = v end
  return out
end

-- Named texts, in the order they are defined.
local texts = {}
local function def(name, tr)
  texts[#texts + 1] = { name = name, en = tr.en, ru = tr.ru }
  return name
end

-- ---------------------------------------------------------------------------
-- Personas: the roles the agent can take. `code` is what the `persona`
-- variable holds; llm: personas (at the end) maps it to the role's system
-- prompt, sent with every question; the label is what the user reads, in
-- their language ({persona_label}).
-- ---------------------------------------------------------------------------
local personas = {
  {
    code = "coder",
    label = t("👨‍💻 Coder", "👨‍💻 Кодер"),
    about = t("I write and review code, explain errors and suggest how to structure a project. Short answers with code examples.",
              "Пишу и проверяю код, разбираю ошибки, подсказываю, как устроить проект. Отвечаю коротко и с примерами кода."),
    prompt = t("Role: a senior software engineer. Write and review code, explain errors, suggest how to structure a project. Answer briefly, with code examples in fenced code blocks.",
               "Роль: опытный программист. Пиши и проверяй код, объясняй ошибки, подсказывай, как устроить проект. Отвечай кратко, с примерами кода в блоках кода."),
  },
  {
    code = "product_manager",
    label = t("📊 Product manager", "📊 Продакт-менеджер"),
    about = t("I help with hypotheses, user stories, priorities, metrics and roadmaps, and ask the questions your users would ask.",
              "Помогаю с гипотезами, пользовательскими историями, приоритетами, метриками и дорожной картой и задаю вопросы, которые задали бы ваши пользователи."),
    prompt = t("Role: an experienced product manager. Help with hypotheses, user stories, priorities, metrics and roadmaps; ask the questions the user's customers would ask.",
               "Роль: опытный продакт-менеджер. Помогай с гипотезами, пользовательскими историями, приоритетами, метриками и дорожной картой; задавай вопросы, которые задали бы клиенты пользователя."),
  },
  {
    code = "assistant",
    label = t("🗂 Personal assistant", "🗂 Личный ассистент"),
    about = t("I help you plan the day, sort out tasks, and draft emails and messages.",
              "Помогаю спланировать день, разобрать задачи, написать письма и сообщения."),
    prompt = t("Role: a personal assistant. Help plan the day, sort out tasks, draft emails and messages; be concrete and polite.",
               "Роль: личный ассистент. Помогай спланировать день, разобрать задачи, написать письма и сообщения; будь конкретен и вежлив."),
  },
}

-- "My own instructions": the user writes the role (the form own below),
-- up to OWN_MAX characters; it is shown back and can be edited.
local OWN_MAX = 1000

-- ---------------------------------------------------------------------------
-- The main menu: each entry is a reply button and, where it has one, a
-- command with the same effect.
-- ---------------------------------------------------------------------------
local menu = {
  { key = "new_session", command = "start_session",
    label = t("🚀 New session", "🚀 Новая сессия"),
    desc = t("🚀 Start a new session", "🚀 Начать новую сессию"),
    tr = { action = "session_start" } },
  { key = "end_session", command = "end_session",
    label = t("🏁 End session", "🏁 Завершить сессию"),
    desc = t("🏁 End the session and keep its summary", "🏁 Завершить сессию и сохранить её итог"),
    tr = { action = "session_end" } },
  { key = "sessions", command = "list_sessions",
    label = t("🗂 My sessions", "🗂 Мои сессии"),
    desc = t("🗂 My sessions: continue one", "🗂 Мои сессии: продолжить любую"),
    tr = { action = "session_list" } },
  { key = "persona", command = "personalize",
    label = t("👤 Agent profile", "👤 Профиль агента"),
    desc = t("👤 Set up the agent's profile", "👤 Настроить профиль агента"),
    tr = go("personalize") },
  { key = "export", command = "export_data",
    label = t("📥 Export my data", "📥 Скачать мои данные"),
    desc = t("📥 Download my data", "📥 Скачать свои данные"),
    tr = { action = "export_data" } },
  { key = "delete", command = "delete_my_data",
    label = t("🗑️ Delete my data", "🗑️ Удалить мои данные"),
    desc = t("🗑️ Delete all my data", "🗑️ Удалить все свои данные"),
    tr = go("delete_confirm") },
  { key = "help", command = "help",
    label = t("❓ Help", "❓ Справка"),
    desc = t("❓ What the bot can do", "❓ Что умеет бот"),
    tr = { say = "help" } },
}

for _, m in ipairs(menu) do
  m.label_name = def("btn_" .. m.key, m.label)
  m.desc_name = def("cmd_" .. m.command, m.desc)
end

-- The reply keyboard, two buttons a row.
local function menu_keyboard()
  local rows, row = {}, nil
  for i, m in ipairs(menu) do
    if i % 2 == 1 then
      row = {}
      rows[#rows + 1] = row
    end
    row[#row + 1] = with({ text = m.label_name }, m.tr)
  end
  return rows
end

-- Triggers for states without the reply keyboard of their own: the main
-- menu stays on screen under an inline menu, so its labels must still work
-- there. Then a voice note that could not be transcribed gets a polite
-- "please type" and any other text
-- goes to the agent.
local function menu_triggers(extra)
  local on = {}
  for _, e in ipairs(extra or {}) do on[#on + 1] = e end
  for _, m in ipairs(menu) do
    on[#on + 1] = with({ text = m.label_name }, m.tr)
  end
  on[#on + 1] = { voice = true, say = "voice_unsupported" }
  on[#on + 1] = { any = true, action = "llm" }
  return on
end

-- Reply-keyboard states need only the free-text triggers.
local function chat_triggers()
  return {
    { voice = true, say = "voice_unsupported" },
    { any = true, action = "llm" },
  }
end

-- ---------------------------------------------------------------------------
-- Texts
-- ---------------------------------------------------------------------------
def("cmd_start", t("▶️ Start / restart the bot", "▶️ Запустить/перезапустить бота"))

def("welcome", t(
[[Hi, {first_name}! 👋 I'm DESK TOP, your personal AI agent.

How it works:
💬 Write to me: our conversation is a session, and I keep it in mind.
🚀 New session: I close the current one with a summary and start fresh.
🗂 My sessions: your earlier sessions, each can be continued.
👤 Choose my role: coder, product manager, personal assistant, or your own instructions.
📥 🗑️ Your data is yours: download or delete it at any time.

Just write a message to begin.]],
[[Привет, {first_name}! 👋 Я DESK TOP — ваш персональный AI-агент.

Как это работает:
💬 Пишите мне: наш разговор — это сессия, и я держу её в голове.
🚀 Новая сессия: я закрываю текущую с кратким итогом и начинаю с чистого листа.
🗂 Мои сессии: прежние сессии, любую можно продолжить.
👤 Выберите мою роль: кодер, продакт-менеджер, личный ассистент или ваши собственные инструкции.
📥 🗑️ Ваши данные принадлежат вам: их можно скачать или удалить в любой момент.

Чтобы начать, просто напишите сообщение.]]))

def("main_menu", t(
  "Main menu. Write a message to talk to the agent, or choose an action below.",
  "Главное меню. Напишите сообщение, чтобы поговорить с агентом, или выберите действие ниже."))

def("help", t(
[[❓ DESK TOP commands

/start — start or restart the bot
/personalize — choose the agent's role or write your own instructions
/start_session — start a new session (the current one closes with a summary)
/end_session — end the session and keep its summary
/list_sessions — your sessions: continue any of them
/export_data — download everything stored about you
/delete_my_data — delete all your data
/memory — what I remember about you (a button forgets each item)
/forget — forget everything I remember

"Remember that …" — I keep a fact and recall it when it matters.
Anything else you write goes to the agent. A session closes by itself after 30 minutes of silence.]],
[[❓ Команды DESK TOP

/start — запустить или перезапустить бота
/personalize — выбрать роль агента
/start_session — начать новую сессию (текущая закроется с итогом)
/end_session — завершить сессию и сохранить её итог
/list_sessions — ваши сессии: любую можно продолжить
/export_data — скачать все данные о вас
/delete_my_data — удалить все ваши данные
/memory — что я о вас помню (кнопка забывает любой пункт)
/forget — забыть всё, что я помню

«Запомни, что …» — я сохраню факт и вспомню его, когда он пригодится.
Всё остальное, что вы напишете, получит агент. Сессия закрывается сама после 30 минут тишины.]]))

def("personalize", t(
  "👤 Who should I be for you? The role shapes how I answer.\n\nNow: {persona_label}",
  "👤 Кем мне для вас быть? От роли зависит, как я отвечаю.\n\nСейчас: {persona_label}"))
def("btn_back", t("⬅️ Back", "⬅️ Назад"))
def("btn_change_persona", t("🔄 Choose another role", "🔄 Выбрать другую роль"))

for _, p in ipairs(personas) do
  p.button = def("btn_persona_" .. p.code, p.label)
  p.done = def("persona_set_" .. p.code, t(
    "✅ Persona set: " .. p.label.en .. "\n\n" .. p.about.en ..
      "\n\nI will answer in this role from now on.",
    "✅ Роль агента: " .. p.label.ru .. "\n\n" .. p.about.ru ..
      "\n\nТеперь я буду отвечать в этой роли."))
end

-- "My own instructions": the form's question, its limit, the screen after.
def("btn_persona_own", t("✍️ My own instructions", "✍️ Мои инструкции"))
def("persona_label_own", t("✍️ Your own instructions", "✍️ Ваши инструкции"))
def("own_ask", t(
  "✍️ Write how I should act and answer: a role, a tone, what to focus on (up to " .. OWN_MAX .. " characters). /cancel keeps things as they are.",
  "✍️ Напишите, как мне действовать и отвечать: роль, тон, на чём сосредоточиться (до " .. OWN_MAX .. " символов). /cancel оставит всё как есть."))
def("own_retry", t(
  "⚠️ That is longer than " .. OWN_MAX .. " characters. Please make it shorter and send it again, or /cancel.",
  "⚠️ Это длиннее " .. OWN_MAX .. " символов. Сократите, пожалуйста, и отправьте ещё раз, или /cancel."))
def("persona_set_own", t(
  "✅ I follow your own instructions from now on:",
  "✅ Теперь я следую вашим инструкциям:"))
def("own_text", t("{own.text}", "{own.text}"))
def("btn_edit_own", t("✏️ Edit my instructions", "✏️ Изменить инструкции"))

-- What the model is told (llm: below): who it is, then the active role's
-- prompt (llm: personas), then the policy.
def("llm_persona", t(
  "You are DESK TOP, a personal AI agent in Telegram, talking with {first_name}.",
  "Ты DESK TOP, персональный AI-агент в Telegram; твой собеседник — {first_name}."))
for _, p in ipairs(personas) do
  p.prompt_name = def("prompt_" .. p.code, p.prompt)
end
def("prompt_own", t(
  "Act as the user asks in their own instructions:\n{own.text}",
  "Действуй так, как просит пользователь в своих инструкциях:\n{own.text}"))
def("llm_policy", t(
  "Answer briefly and in the user's language. When you do not know, say so; "
    .. "never invent facts about the user.",
  "Отвечай кратко, на языке пользователя. Если не знаешь ответа, так и скажи; "
    .. "не придумывай фактов о пользователе."))

def("delete_confirm", t(
[[🗑️ Delete all your data?

This erases your profile, the agent's role, our whole conversation history and everything I remember about you. It cannot be undone.

Tip: download a copy first with /export_data.]],
[[🗑️ Удалить все ваши данные?

Будут удалены ваш профиль, роль агента, вся история нашего общения и всё, что я о вас помню. Отменить это нельзя.

Совет: сначала скачайте копию командой /export_data.]]))
def("voice_unsupported", t(
  "🎙 I could not make out that voice message. Please type it.",
  "🎙 Не удалось разобрать голосовое сообщение. Пожалуйста, напишите текстом."))
def("btn_delete_yes", t("✅ Yes, delete everything", "✅ Да, удалить всё"))
def("btn_delete_no", t("❌ No, keep my data", "❌ Нет, оставить"))
def("delete_kept", t("👌 Nothing was deleted.", "👌 Ничего не удалено."))

def("sys_data_deleted", t(
  "🗑️ Done: all your data has been deleted. You can start again at any time.",
  "🗑️ Готово: все ваши данные удалены. Вы можете начать заново в любой момент."))
-- desk has no human operators: the runtime's texts that would offer one
-- (they come without the button in a bot that never hands off) say what
-- the user can do instead.
def("sys_limit_reached", t(
  "⏳ You have used today's allowance of AI answers. It renews at midnight (UTC).",
  "⏳ Дневной лимит ответов ИИ исчерпан. Он обновится в полночь (UTC)."))
def("sys_llm_down", t(
  "😔 Sorry, the AI is not answering right now. Please try again in a minute.",
  "😔 Извините, ИИ сейчас не отвечает. Попробуйте, пожалуйста, через минуту."))
def("sys_no_answer", t(
  "I have no answer to that, and I would rather not guess. Try asking another way.",
  "На это у меня нет ответа, а гадать я не хочу. Попробуйте спросить иначе."))
def("sys_migrated", t(
  "DESK TOP has been updated. Here is the main menu.",
  "DESK TOP обновился. Вот главное меню."))

-- ---------------------------------------------------------------------------
-- Commands: /start and /help first, then the menu entries in menu order.
-- ---------------------------------------------------------------------------
local commands = {
  { name = "start", description = "cmd_start", ["goto"] = "welcome" },
}
for _, m in ipairs(menu) do
  commands[#commands + 1] = with({ name = m.command, description = m.desc_name }, m.tr)
end

-- Long-term memory (the runtime's memory actions): /memory lists what is
-- kept with a button to forget each item, /forget forgets it all once
-- confirmed, and "remember that …" anywhere keeps a fact (everywhere below).
commands[#commands + 1] = { name = "memory", action = "memory_list",
  description = def("cmd_memory", t("🧠 What I remember about you", "🧠 Что я о вас помню")) }
commands[#commands + 1] = { name = "forget", action = "memory_forget",
  description = def("cmd_forget", t("🧽 Forget everything I remember", "🧽 Забыть всё, что я помню")) }

-- ---------------------------------------------------------------------------
-- States
-- ---------------------------------------------------------------------------
local states = {
  {
    name = "welcome",
    say = "welcome",
    keyboard = menu_keyboard(),
    on = chat_triggers(),
  },
  {
    name = "main",
    say = "main_menu",
    keyboard = menu_keyboard(),
    on = chat_triggers(),
  },
}

-- /personalize: an inline menu of the personas, one a row.
local persona_rows = {}
for _, p in ipairs(personas) do
  persona_rows[#persona_rows + 1] = {
    { text = p.button, data = "persona:" .. p.code,
      set = { persona = p.code }, ["goto"] = "persona_" .. p.code },
  }
end
persona_rows[#persona_rows + 1] = {
  { text = "btn_persona_own", data = "persona:own", form = "own" },
}
persona_rows[#persona_rows + 1] = { { text = "btn_back", ["goto"] = "main" } }

states[#states + 1] = {
  name = "personalize",
  say = "personalize",
  inline = persona_rows,
  on = menu_triggers(),
}

-- One confirmation screen per persona; pressing a persona replaces the menu
-- message with it.
for _, p in ipairs(personas) do
  states[#states + 1] = {
    name = "persona_" .. p.code,
    say = p.done,
    inline = { { { text = "btn_change_persona", ["goto"] = "personalize" } } },
    on = menu_triggers(),
  }
end

-- Their own instructions, shown back, with a button to edit them. The
-- form took the menu's keyboard away (a text question hides it): the first
-- message brings it back, the second is the instructions and their buttons.
states[#states + 1] = {
  name = "persona_own",
  say = { "persona_set_own", "own_text" },
  keyboard = menu_keyboard(),
  inline = {
    { { text = "btn_edit_own", data = "own:edit", form = "own" } },
    { { text = "btn_change_persona", ["goto"] = "personalize" } },
  },
  on = chat_triggers(),
}

-- /delete_my_data asks first.
states[#states + 1] = {
  name = "delete_confirm",
  say = "delete_confirm",
  inline = {
    { { text = "btn_delete_yes", data = "delete:yes", action = "delete_data", ["goto"] = "main" } },
    { { text = "btn_delete_no", data = "delete:no", ["goto"] = "delete_kept" } },
  },
  on = menu_triggers(),
}

-- "No" turns the question into the answer, its buttons gone: nothing on
-- screen still offers to delete. (The menu below works here too: a reply
-- button still on screen does what it says in every state.)
states[#states + 1] = {
  name = "delete_kept",
  say = "delete_kept",
  inline = "remove",
  on = chat_triggers(),
}

-- llm: personas: each role's name (the `persona` variable's value), its
-- prompt and its label; "own" is the user's instructions.
local function persona_list()
  local out = {}
  for _, p in ipairs(personas) do
    out[#out + 1] = { name = p.code, prompt = p.prompt_name, label = p.button }
  end
  out[#out + 1] = { name = "own", prompt = "prompt_own", label = "persona_label_own" }
  return out
end

-- ---------------------------------------------------------------------------
-- Tools the model may call for live data (spec/REFERENCE.md, "Tools"). Each
-- base URL comes from the environment: a tool whose ${...} is unset is not
-- offered to the model, so the bot never promises what it cannot fetch.
-- The model fills the {arguments}; {user.lang} is filled by the runtime.
-- ---------------------------------------------------------------------------
local tools = {
  { name = "weather",
    description = "The current weather in a city: temperature (°C), feels-like, "
      .. "humidity, wind and conditions. Use it for any question about the weather now.",
    parameters = {
      type = "object",
      properties = {
        city = { type = "string", description = "The city, e.g. Moscow or Belgrade" },
      },
      required = { "city" },
    },
    -- wttr.in's JSON (WEATHER_API_BASE=https://wttr.in)
    request = { url = "${WEATHER_API_BASE}/{city}?format=j1&lang={user.lang}",
                result = "current_condition.0" } },
  { name = "exchange_rate",
    description = "The current price of a cryptocurrency in a currency, e.g. bitcoin in usd.",
    parameters = {
      type = "object",
      properties = {
        coin = { type = "string", description = "CoinGecko's id of the coin: bitcoin, ethereum, toncoin, ..." },
        currency = { type = "string", description = "A currency code in lower case: usd, eur, rub, ..." },
      },
      required = { "coin", "currency" },
    },
    -- CoinGecko's simple price (RATES_API_BASE=https://api.coingecko.com/api/v3)
    request = { url = "${RATES_API_BASE}/simple/price?ids={coin}&vs_currencies={currency}" } },
  { name = "web_search",
    description = "Searches the web for recent information; returns titles, links and excerpts.",
    parameters = {
      type = "object",
      properties = {
        query = { type = "string", description = "What to search for" },
      },
      required = { "query" },
    },
    -- Tavily's search API (SEARCH_API_BASE=https://api.tavily.com, SEARCH_API_KEY)
    request = { method = "POST", url = "${SEARCH_API_BASE}/search",
                headers = { "Authorization: Bearer ${SEARCH_API_KEY}",
                            "Content-Type: application/json" },
                body = '{"query": "{query}", "max_results": 3}',
                result = "results" } },
}

return {
  bot = {
    name = "desk",
    languages = { "en", "ru" },
    default_language = "en",
    start = "welcome",
  },
  variables = {
    persona = "assistant", -- until the user picks one
  },
  -- The agent is the model itself: answers need OPENAI_API_BASE (without
  -- it, and with no knowledge files to answer from, every message gets
  -- "not available"). strict = false: there is no knowledge to keep to.
  llm = {
    persona = "llm_persona",
    policy = "llm_policy",
    strict = false,
    personas = persona_list(),
    session_idle_minutes = 30,
    daily_tokens = 20000,   -- per user per day ($BOT_DAILY_TOKENS overrides)
    feedback = false,       -- no "👍 Helped" / "Call an operator": desk has no operators
  },
  forms = {
    {
      name = "own",
      fields = {
        { name = "text", ask = "own_ask", retry = "own_retry",
          validate = { text = { max = OWN_MAX } } },
      },
      done = { set = { persona = "own" }, ["goto"] = "persona_own" },
      cancel = { ["goto"] = "personalize" },
    },
  },
  -- Voice questions reach the agent as their transcript; a note that
  -- cannot be transcribed gets voice_unsupported (the voice trigger).
  voice = { max_seconds = 120, echo = true },
  tools = tools,
  texts = texts,
  commands = commands,
  everywhere = {
    { pattern = [=[^(please )?remember( that|:|,)|^запомни[ :,]]=], action = "remember" },
  },
  states = states,
}

-- desk — DESK TOP, a personal AI agent in Telegram.
--
-- The user picks the agent's role (/personalize), talks with it, starts a
-- fresh conversation (/start_session), exports or deletes everything stored
-- about them. The AI and data behaviour (llm, session_start, export_data,
-- delete_data) is answered by the runtime; this spec is the dialogue
-- around it. (Ending and listing sessions, long-term memory and voice notes
-- come with the runtime actions that do them: until then the menu does not
-- offer them.)
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
-- Personas: the roles the agent can take. `code` is what the runtime stores
-- in the `persona` variable and later maps to a system prompt; the label is
-- what the user reads, in their language.
-- ---------------------------------------------------------------------------
local personas = {
  {
    code = "coder",
    label = t("👨‍💻 Coder", "👨‍💻 Кодер"),
    about = t("I write and review code, explain errors and suggest how to structure a project. Short answers with code examples.",
              "Пишу и проверяю код, разбираю ошибки, подсказываю, как устроить проект. Отвечаю коротко и с примерами кода."),
  },
  {
    code = "product_manager",
    label = t("📊 Product manager", "📊 Продакт-менеджер"),
    about = t("I help with hypotheses, user stories, priorities, metrics and roadmaps, and ask the questions your users would ask.",
              "Помогаю с гипотезами, пользовательскими историями, приоритетами, метриками и дорожной картой и задаю вопросы, которые задали бы ваши пользователи."),
  },
  {
    code = "assistant",
    label = t("🗂 Personal assistant", "🗂 Личный ассистент"),
    about = t("I help you plan the day, sort out tasks, and draft emails and messages.",
              "Помогаю спланировать день, разобрать задачи, написать письма и сообщения."),
  },
}

-- ---------------------------------------------------------------------------
-- The main menu: each entry is a reply button and, where it has one, a
-- command with the same effect.
-- ---------------------------------------------------------------------------
local menu = {
  { key = "new_session", command = "start_session",
    label = t("🚀 New session", "🚀 Новая сессия"),
    desc = t("🚀 Start a new session", "🚀 Начать новую сессию"),
    tr = { action = "session_start" } },
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
-- there. Then a voice note gets a polite "please type" and any other text
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
💬 Write to me: I keep our recent messages in mind.
🚀 New session: I put our earlier conversation aside and start fresh.
👤 Choose my role: coder, product manager or personal assistant.
📥 🗑️ Your data is yours: download or delete it at any time.

Just write a message to begin.]],
[[Привет, {first_name}! 👋 Я DESK TOP — ваш персональный AI-агент.

Как это работает:
💬 Пишите мне: я помню наши последние сообщения.
🚀 Новая сессия: я откладываю прежний разговор и начинаю с чистого листа.
👤 Выберите мою роль: кодер, продакт-менеджер или личный ассистент.
📥 🗑️ Ваши данные принадлежат вам: их можно скачать или удалить в любой момент.

Чтобы начать, просто напишите сообщение.]]))

def("main_menu", t(
  "Main menu. Write a message to talk to the agent, or choose an action below.",
  "Главное меню. Напишите сообщение, чтобы поговорить с агентом, или выберите действие ниже."))

def("help", t(
[[❓ DESK TOP commands

/start — start or restart the bot
/personalize — choose the agent's role
/start_session — start a new session (I put our earlier conversation aside)
/export_data — download everything stored about you
/delete_my_data — delete all your data

Anything else you write goes to the agent.]],
[[❓ Команды DESK TOP

/start — запустить или перезапустить бота
/personalize — выбрать роль агента
/start_session — начать новую сессию (прежний разговор я откладываю)
/export_data — скачать все данные о вас
/delete_my_data — удалить все ваши данные

Всё остальное, что вы напишете, получит агент.]]))

def("personalize", t(
  "👤 Who should I be for you? The role shapes how I answer.",
  "👤 Кем мне для вас быть? От роли зависит, как я отвечаю."))
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

-- What the model is told (llm: below). The persona is rendered for each
-- question, so {persona} is the role the user picked; what each role means
-- comes from the same list as the role menu.
local roles_en, roles_ru = {}, {}
for _, p in ipairs(personas) do
  roles_en[#roles_en + 1] = "- " .. p.code .. ": " .. p.about.en
  roles_ru[#roles_ru + 1] = "- " .. p.code .. ": " .. p.about.ru
end
def("llm_persona", t(
  "You are DESK TOP, a personal AI agent in Telegram, talking with {first_name}. "
    .. "Act in the role \"{persona}\". The roles:\n" .. table.concat(roles_en, "\n"),
  "Ты DESK TOP, персональный AI-агент в Telegram; твой собеседник — {first_name}. "
    .. "Действуй в роли «{persona}». Роли:\n" .. table.concat(roles_ru, "\n")))
def("llm_policy", t(
  "Answer briefly and in the user's language. When you do not know, say so; "
    .. "never invent facts about the user.",
  "Отвечай кратко, на языке пользователя. Если не знаешь ответа, так и скажи; "
    .. "не придумывай фактов о пользователе."))

def("delete_confirm", t(
[[🗑️ Delete all your data?

This erases your profile, the agent's role and our whole conversation history. It cannot be undone.

Tip: download a copy first with /export_data.]],
[[🗑️ Удалить все ваши данные?

Будут удалены ваш профиль, роль агента и вся история нашего общения. Отменить это нельзя.

Совет: сначала скачайте копию командой /export_data.]]))
def("voice_unsupported", t(
  "🎙 I can't listen to voice messages yet. Please type your message.",
  "🎙 Голосовые сообщения я пока не слушаю. Пожалуйста, напишите текстом."))
def("btn_delete_yes", t("✅ Yes, delete everything", "✅ Да, удалить всё"))
def("btn_delete_no", t("❌ No, keep my data", "❌ Нет, оставить"))
def("delete_kept", t("👌 Nothing was deleted.", "👌 Ничего не удалено."))

def("sys_data_deleted", t(
  "🗑️ Done: all your data has been deleted. You can start again at any time.",
  "🗑️ Готово: все ваши данные удалены. Вы можете начать заново в любой момент."))
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
  },
  tools = tools,
  texts = texts,
  commands = commands,
  states = states,
}

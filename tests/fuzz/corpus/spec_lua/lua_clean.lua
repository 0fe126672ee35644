-- The same bot as clean.yaml, in Lua: zero diagnostics, the same IR.
local function tr(en, ru) return { en = en, ru = ru } end

local texts = {
  { name = "welcome",
    en = "Hello, {first_name}! You are {persona}.",
    ru = "Здравствуйте, {first_name}!" },
  { name = "menu", en = "Main menu", ru = "Главное меню" },
  { name = "btn_book", en = "Book", ru = "Забронировать" },
  { name = "btn_site", en = "Site", ru = "Сайт" },
  { name = "ask_days", en = "How many days?", ru = "Сколько дней?" },
  { name = "ask_phone", en = "Your phone?", ru = "Ваш телефон?" },
  { name = "done", en = "Booked {booking.days} days, {{ok}}", ru = "Готово: {booking.phone}" },
  { name = "cmd_start", en = "Start over", ru = "Начать заново" },
}

return {
  bot = { name = "clean", default_language = "en", languages = { "en", "ru" }, start = "welcome" },
  variables = { persona = { initial = "", max = 64 } },
  texts = texts,
  commands = {
    { name = "start", description = "cmd_start", ["goto"] = "welcome" },
  },
  states = {
    { name = "welcome",
      say = { "welcome", "menu" },
      keyboard = {
        { { text = "btn_book", form = "booking" } },
      },
      inline = {
        { { text = "btn_site", url = "https://example.com" },
          { text = tr("More", "Ещё"), data = "more", ["goto"] = "welcome" == "x" and "x" or "more" } },
      },
    },
    { name = "more",
      say = "menu",
      on = {
        { pattern = "price|cost|цена", set = { persona = "{text}" }, ["goto"] = "welcome" },
        { any = true, action = "llm" },
      },
    },
  },
  forms = {
    { name = "booking",
      fields = {
        { name = "days", ask = "ask_days", validate = { integer = { 1, 30 } } },
        { name = "phone", ask = "ask_phone", validate = "phone" },
      },
      done = { say = "done", ["goto"] = "welcome" },
    },
  },
  -- the llm action above needs it (else botc warns: "not available")
  llm = { strict = false },
}

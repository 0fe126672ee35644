-- The same bot as bot.yaml: tests/unit/test_emit.c checks that both generate
-- the same C and re2c (apart from #line directives and the header line).
-- Order matters for states, texts, commands and forms, so they are lists of
-- entries with `name`; `goto` is a Lua keyword, hence ["goto"].

local function t(name, en, ru) return { name = name, en = en, ru = ru } end
local function go(state, extra)
  local tr = extra or {}
  tr["goto"] = state
  return tr
end

return {
  bot = { name = "samebot", default_language = "en", languages = { "en", "ru" }, start = "welcome" },

  variables = { persona = "none" },

  texts = {
    t("welcome", "Hello, {first_name}! Persona: {persona}.", "Здравствуйте, {first_name}! Персона: {persona}."),
    t("main_menu", "Main menu", "Главное меню"),
    t("more_info", "Tap a button:", "Нажмите кнопку:"),
    t("cmd_start", "Start over", "Начать заново"),
    t("cmd_help", "Help", "Помощь"),
    t("help_text", "Use the menu. {{Braces}} are literal.", "Пользуйтесь меню. {{Скобки}} буквальны."),
    t("btn_cars", "🚗 Cars", "🚗 Машины"),
    t("btn_book", "📝 Book", "📝 Бронь"),
    t("btn_phone", "📞 Share phone", "📞 Телефон"),
    t("btn_more", "More", "Ещё"),
    t("btn_site", "Website", "Сайт"),
    t("btn_back", "Back", "Назад"),
    t("cars_text", "Our cars. \"Quotes\" and \\ backslash??!", "Наши машины."),
    t("got_phone", "Thanks, we got your number: {text}", "Спасибо, номер получен: {text}"),
    t("ask_date", "Pickup date?", "Дата?"),
    t("bad_date", "Use YYYY-MM-DD.", "Формат ГГГГ-ММ-ДД."),
    t("ask_days", "How many days?", "Сколько дней?"),
    t("ask_weight", "Luggage weight, kg?", "Вес багажа, кг?"),
    t("ask_class", "Which class?", "Какой класс?"),
    t("class_economy", "Economy", "Эконом"),
    t("class_suv", "SUV", "Внедорожник"),
    t("ask_phone", "Your phone?", "Ваш телефон?"),
    t("ask_name", "Your name?", "Ваше имя?"),
    t("ask_note", "Any note?", "Комментарий?"),
    t("booking_done", "Booked for {booking.pickup_date}, {booking.days} days.",
      "Забронировано на {booking.pickup_date}, дней: {booking.days}."),
    t("booking_cancelled", "Booking cancelled.", "Бронь отменена."),
    t("sys_cancelled", "Stopped.", "Остановлено."),
  },

  commands = {
    go("welcome", { name = "start", description = "cmd_start" }),
    { name = "help", description = "cmd_help", say = "help_text" },
    { name = "secret", set = { persona = "secret" } },
  },

  states = {
    {
      name = "welcome",
      say = "welcome",
      keyboard = "remove",
      on = { go("main", { any = true }) },
    },
    {
      name = "main",
      say = { "main_menu", "more_info" },
      keyboard = {
        { go("cars", { text = "btn_cars" }), { text = "btn_book", form = "booking" } },
        { go("phone_ok", { text = "btn_phone", contact = true }) },
      },
      inline = {
        { go("more", { text = "btn_more" }), { text = "btn_site", url = "https://example.com/?a=1&b=2" } },
        { go("welcome", { text = "btn_back", data = "back!" }) },
      },
      on = {
        { command = "help", say = "cars_text" },
        go("welcome", { text = "btn_back" }),
        go("cars", { pattern = "price|cost|цена" }),
        { pattern = "^/?hello$", say = "help_text" },
        go("phone_ok", { contact = true }),
        { voice = true, action = "transcribe" },
        { any = true, action = "llm" },
      },
      renamed_from = { "menu", "home" },
    },
    {
      name = "cars",
      say = "cars_text",
      inline = { { go("main", { text = "btn_back" }) } },
      on = {
        go("main", {
          text = { en = "Persona coder", ru = "Персона кодер" },
          set = { persona = "coder", mood = "{text}" },
          say = "main_menu",
        }),
      },
    },
    {
      name = "more",
      say = "more_info",
      keyboard = { { go("main", { text = "btn_back" }) } },
      on = { { any = true, action = "handoff" } },
    },
    {
      name = "phone_ok",
      say = "got_phone",
      on = { go("main", { any = true }) },
    },
  },

  forms = {
    {
      name = "booking",
      fields = {
        { name = "pickup_date", ask = "ask_date", validate = "date", retry = "bad_date" },
        { name = "days", ask = "ask_days", validate = { integer = { 1, 30 } } },
        { name = "weight", ask = "ask_weight", validate = { number = { 0.5, 100 } } },
        { name = "car_class", ask = "ask_class", validate = { choice = { "class_economy", "class_suv" } } },
        { name = "phone", ask = "ask_phone", validate = "phone", button = "btn_phone" },
        { name = "full_name", ask = "ask_name", validate = { regex = "^[^0-9]{2,60}$" } },
        { name = "note", ask = "ask_note", validate = "text" },
      },
      done = go("main", { say = "booking_done" }),
      cancel = go("main", { say = "booking_cancelled" }),
    },
  },

  moved = { old_cars = "cars" },
}

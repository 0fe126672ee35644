-- Positions in Lua come from searching the source: each mistake must be
-- reported on its own line.
local function button(text, target)
  return { text = text, ["goto"] = target }
end

return {
  bot = {
    name = "t",
    languages = { "en" },
    start = "main",
  },
  texts = {
    hi = { en = "Hi" },
    bye = { en = "Bye", de = "Tschüss" },
  },
  commands = {
    { name = "start", ["goto"] = "main" },
    { name = "Help", say = "hi" },
  },
  states = {
    { name = "main",
      say = "hi",
      keyboard = {
        { button("hi", "mian") },
        { { text = "bye", form = "booking" } },
      },
    },
    { name = "other",
      say = "hello",
      on = {
        { pattern = "a(b", ["goto"] = "main" },
      },
    },
  },
}

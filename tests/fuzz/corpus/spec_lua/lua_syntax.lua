return {
  bot = { name = "t", languages = { "en" }, start = "main" },
  states = {
    main = { say = "hi" x },
  },
}

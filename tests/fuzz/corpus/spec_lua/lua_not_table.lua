return "bot"

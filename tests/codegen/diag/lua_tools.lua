-- Tools in Lua: the schema is a table like any other (properties sorted by
-- key, required a list); an unknown placeholder is reported as in YAML.
return {
  bot = { name = "t", languages = { "en" }, start = "main" },
  texts = { { name = "hi", en = "Ask me anything" } },
  commands = { { name = "start", ["goto"] = "main" } },
  states = {
    { name = "main", say = "hi", on = { { any = true, action = "llm" } } },
  },
  llm = { strict = false },
  tools = {
    { name = "rate",
      description = "The exchange rate of a currency or a coin",
      parameters = {
        type = "object",
        properties = {
          base = { type = "string", description = "e.g. BTC" },
          quote = { type = "string", description = "e.g. USD" },
        },
        required = { "base" },
      },
      request = { url = "${RATES_API_BASE}/rate?base={base}&quote={qoute}", result = "rate" } },
    { name = "search",
      description = "Searches the web",
      parameters = { type = "object", properties = { q = { type = "string" } }, required = { "q" } },
      request = { method = "POST", url = "${SEARCH_API_BASE}/search",
                  headers = { "Authorization: Bearer ${SEARCH_API_KEY}", "Content-Type: application/json" },
                  body = '{"query": "{q}", "lang": "{user.lang}"}' } },
  },
}

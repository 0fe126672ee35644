local names = { "a", "b" }
local n = #names + nil
return { bot = { name = "t" } }

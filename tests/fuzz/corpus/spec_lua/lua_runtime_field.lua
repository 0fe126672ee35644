-- A field of a table that is not there: the error points at the field (issue 12).
local prices = { economy = 30, compact = 40 }
local suv = prices.suv * 2
return { bot = { name = "t", languages = { "en" }, start = "main" } }

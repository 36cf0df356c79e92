-- wrk: a token never seen before on every request. TOKENS names a file of
-- tokens, one a line (mint_tokens.pl); TOKEN_SKIP of them are skipped (an
-- earlier round used them). Running out is an error, never a reuse: wrk
-- stops and prints "tokens exhausted".
local tokens, n = {}, 0
for line in io.lines(os.getenv("TOKENS")) do
  n = n + 1
  tokens[n] = line
end
local i = tonumber(os.getenv("TOKEN_SKIP") or "0")
local quota = tonumber(os.getenv("IR_N") or "0")
local answered = 0

function request()
  i = i + 1
  if i > n then
    io.stderr:write("tokens exhausted\n")
    os.exit(2)
  end
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end

function response(status)
  if status ~= 200 then
    io.stderr:write("status " .. status .. "\n")
    os.exit(3)
  end
  answered = answered + 1
  if quota > 0 and answered >= quota then
    io.write("done\n")
    io.flush()
    os.exit(0)
  end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function done()
  for _, t in ipairs(threads) do
    io.stderr:write("tokens used " .. (t:get("i") - (tonumber(os.getenv("TOKEN_SKIP") or "0"))) .. "\n")
  end
end

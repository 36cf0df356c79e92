-- wrk: requests with the tokens of a "<slug> <token>" file (TOKENS), in a
-- random order fixed per thread (each token once per pass, then the next
-- pass). Requests are built once at init, so wrk's own cost stays that of a
-- plain request. TOKEN_PATH: the URL path (default /cached/index.txt).
-- ONCE=1: one pass, then wrk exits once as many answers as tokens came
-- back (a warm-up; run it with -t1: a thread's answers are counted).
local reqs, n, i, answers = {}, 0, 0, 0
local once = os.getenv("ONCE") == "1"

function init(args)
  local path = os.getenv("TOKEN_PATH") or "/cached/index.txt"
  local toks = {}
  for line in io.lines(os.getenv("TOKENS")) do
    local tok = line:match("^%S+ (%S+)$")
    if tok then toks[#toks + 1] = tok end
  end
  math.randomseed(12345)
  for k = #toks, 2, -1 do
    local j = math.random(k)
    toks[k], toks[j] = toks[j], toks[k]
  end
  for k, tok in ipairs(toks) do
    reqs[k] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tok })
  end
  n = #reqs
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

if once then
  function response()
    answers = answers + 1
    if answers >= n then os.exit(0) end
  end
end

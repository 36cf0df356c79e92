-- wrk script for bench/run.sh: walks a token pool written by mint_pool.py.
--
--   wrk -t1 -s pool.lua URL -- POOL once START   a fresh token on every request,
--                                                pool lines START, START+1, …
--   wrk -t1 -s pool.lua URL -- POOL cycle        the pool's tokens over and over
--   wrk -t1 -s pool.lua URL -- -                 no Authorization header
--
-- Every request string is built before it is needed (cycle) or with one
-- concatenation (once), so the load generator costs the same per request
-- in every case. done() prints one line the caller parses:
--   RESULT requests=… duration_us=… used=… exhausted=0|1 errors=… status_errors=… connect=… …
-- `used` counts the tokens handed out (requests written, answered or not);
-- `exhausted=1` means the pool ran out and a token was sent twice.
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

local head, fixed, ring, file
used, exhausted = 0, 0
local last, idx = nil, 0

function init(args)
  local path, mode, start = args[1], args[2], tonumber(args[3] or "0")
  head = "GET " .. wrk.path .. " HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port .. "\r\n"
  if path == "-" then
    fixed = head .. "\r\n"
    return
  end
  file = assert(io.open(path, "rb"))
  head = head .. "Authorization: Bearer " .. file:read("*l")
  if mode == "cycle" then
    ring = {}
    for line in file:lines() do ring[#ring + 1] = head .. line .. "\r\n\r\n" end
    file:close()
    assert(#ring > 0, path .. ": empty pool")
    return
  end
  -- Lines all have the same length: seek straight to line START.
  local base = file:seek()
  local width = #assert(file:read("*l"), path .. ": empty pool") + 1
  file:seek("set", base + start * width)
end

function request()
  used = used + 1
  if fixed then return fixed end
  if ring then
    idx = idx % #ring + 1
    return ring[idx]
  end
  local line = file:read("*l")
  if line then
    last = head .. line .. "\r\n\r\n"
  else
    exhausted = 1 -- the caller refuses the result
  end
  return last or (head .. "\r\n\r\n")
end

function done(summary, latency, requests)
  local e = summary.errors
  for _, t in ipairs(threads) do
    io.write(string.format(
      "RESULT requests=%d duration_us=%d used=%d exhausted=%d errors=%d status_errors=%d" ..
      " connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, summary.duration, t:get("used"), t:get("exhausted"),
      e.connect + e.read + e.write + e.timeout, e.status, e.connect, e.read, e.write, e.timeout))
  end
end

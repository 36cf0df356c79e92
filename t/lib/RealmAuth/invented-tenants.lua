-- wrk script: every request carries an unsigned token naming a tenant realm
-- that was never created, a new slug each time:
--   iss = $FLOOD_ISS .. "n" .. <request number>
-- After $FLOOD_N answers it prints
-- "flood: <sent> sent, <answered> answered, <unexpected> not 401".
local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function b64u(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local k = 4
    if not b then k = 2 elseif not c then k = 3 end
    for j = 1, k do
      local idx = math.floor(n / 2 ^ (6 * (4 - j))) % 64
      out[#out + 1] = chars:sub(idx + 1, idx + 1)
    end
  end
  return table.concat(out)
end

-- One thread (wrk -t1): wrk runs for its whole -d duration, so the script
-- ends the process itself once it has its answers.
local iss, quota, exp, header, sig
local sent, answered, unexpected = 0, 0, 0
function init(args)
  iss = os.getenv("FLOOD_ISS")
  quota = tonumber(os.getenv("FLOOD_N"))
  exp = os.time() + 3600
  header = b64u('{"alg":"RS256","typ":"JWT","kid":"invented"}')
  sig = string.rep("A", 342) -- 256 zero bytes: an RS256-sized signature
end

function request()
  sent = sent + 1
  local payload = '{"iss":"' .. iss .. "n" .. sent .. '","sub":"x","exp":' .. exp .. "}"
  return wrk.format("GET", "/api/x", { Authorization = "Bearer " .. header .. "." .. b64u(payload) .. "." .. sig })
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 401 then unexpected = unexpected + 1 end
  if answered >= quota then
    io.write(string.format("flood: %d sent, %d answered, %d not 401\n", sent, answered, unexpected))
    io.flush()
    os.exit(0)
  end
end

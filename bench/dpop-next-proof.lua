-- wrk: every request takes the next unused DPoP proof of PROOFS (one per
-- line, made by bench/dpop_material.pl), so none is a replay; TOKEN is the
-- DPoP-bound access token. Non-2xx answers are reported by wrk.
local proofs = {}
for line in io.lines(os.getenv("PROOFS")) do proofs[#proofs + 1] = line end
local token = os.getenv("TOKEN")
local i = 0
request = function()
  i = i + 1
  if i > #proofs then i = 1 end  -- ran out: replays, refused and counted as non-2xx
  return wrk.format("GET", nil, { ["Authorization"] = "DPoP " .. token, ["DPoP"] = proofs[i] })
end

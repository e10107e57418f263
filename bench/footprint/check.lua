-- wrk script: check every token of OUTDIR/tokens.<thread> once on /auth/verify (one distinct
-- token per request), then send GET /healthz and create OUTDIR/checked.<thread> with
-- "<200s> <others>" once every answer for the thread's tokens is in.
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  outdir = os.getenv("OUTDIR")
  tokens = {}
  for line in io.lines(outdir .. "/tokens." .. id) do
    tokens[#tokens + 1] = line
  end
  next_token, ok, bad, drained, finished = 1, 0, 0, 0, false
  idle_request = wrk.format("GET", "/healthz")
end

function request()
  if next_token <= #tokens then
    local t = tokens[next_token]
    next_token = next_token + 1
    return wrk.format("GET", "/auth/verify", { ["Authorization"] = "Bearer " .. t })
  end
  return idle_request
end

function response(status, headers, body)
  if headers["x-auth-token-id"] or headers["X-Auth-Token-Id"] then
    ok = ok + 1
  elseif status ~= 200 then
    bad = bad + 1
  elseif next_token > #tokens then
    drained = drained + 1
  end
  -- Done when every answer is in, or when /healthz has answered 20,000 times since the last
  -- token went out (wrk 4.1 sometimes drops one request that request() produced).
  if not finished and (ok + bad >= #tokens or drained >= 20000) then
    finished = true
    local f = io.open(outdir .. "/checked." .. id, "w")
    f:write(ok, " ", bad, "\n")
    f:close()
  end
end

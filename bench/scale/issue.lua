-- wrk script: issue about QUOTA tokens in all (split over wrk's threads) with the client_credentials
-- grant (Authorization: Basic from the environment, BASIC), writing each access token to
-- OUTDIR/tokens.<thread>. A thread that has sent its share sends GET /healthz instead and,
-- once the answers are in, creates OUTDIR/done.<thread> ("<written> <failed>"); run.sh stops wrk
-- (SIGINT) when every thread is done and counts the tokens in the files.
local counter = 0
local threads = {}
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local total = tonumber(os.getenv("QUOTA"))
  local n = tonumber(os.getenv("THREADS"))
  quota = math.floor(total / n) + ((id <= total % n) and 1 or 0)
  outdir = os.getenv("OUTDIR")
  out = io.open(outdir .. "/tokens." .. id, "w")
  sent, written, failed, drained, finished = 0, 0, 0, 0, false
  token_request = wrk.format("POST", "/oauth/token", {
    ["Authorization"] = "Basic " .. os.getenv("BASIC"),
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "grant_type=client_credentials")
  idle_request = wrk.format("GET", "/healthz")
end

function request()
  if sent < quota then
    sent = sent + 1
    return token_request
  end
  return idle_request
end

function response(status, headers, body)
  local token = body and string.match(body, '"access_token":"([^"]+)"')
  if token then
    out:write(token, "\n")
    out:flush()
    written = written + 1
  elseif status ~= 200 then
    failed = failed + 1
  elseif sent >= quota then
    drained = drained + 1
  end
  -- Done when every answer is in, or when /healthz has answered 20,000 times since the last
  -- token request went out: wrk 4.1 sometimes drops one request that request() produced
  -- (about one per thread per run here), so the count alone may never be reached. Tokens that
  -- come later are still written; run.sh counts the files.
  if not finished and (written + failed >= quota or drained >= 20000) then
    finished = true
    local f = io.open(outdir .. "/done." .. id, "w")
    f:write(written, " ", failed, "\n")
    f:close()
  end
end

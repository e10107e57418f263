-- wrk script for bench/scale: token checks on ROUTE (/auth/verify or /api/v1/whoami), one token
-- per request from OUTDIR/tokens.<thread>.
--   MODE=once   every token exactly once (cold: no token was checked before), then the thread
--               stops and creates OUTDIR/done.<thread>; run.sh interrupts wrk (SIGINT) once every
--               thread is done, so the duration is the time the checks took.
--   MODE=cycle  the tokens over and over, for wrk's -d (warm).
--   DELAY_MS    (optional) each connection's wait after every answer, below.
-- A check counts as ok if /auth/verify answers 200 with X-Auth-Token-Id, or whoami 200 with a
-- JSON "user"; anything else counts as bad. At the end: one line
--   WRK_JSON {"requests":..,"ok":..,"bad":..,"seconds":..,"rps":..(ok/s),"p50_us":..,...}
-- With DELAY_MS set, each connection waits that long after every answer before its next
-- request: a paced load the machine has room for (wrk's latency excludes the wait).
local delay_ms = tonumber(os.getenv("DELAY_MS") or "")
if delay_ms then
  function delay()
    return delay_ms
  end
end

local counter = 0
local threads = {}
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  outdir = os.getenv("OUTDIR")
  mode = os.getenv("MODE") or "once"
  local route = os.getenv("ROUTE")
  reqs = {}
  for line in io.lines(outdir .. "/tokens." .. id) do
    reqs[#reqs + 1] = wrk.format("GET", route, { ["Authorization"] = "Bearer " .. line })
  end
  n, ok, bad, drained, finished = 0, 0, 0, 0, false
  idle = wrk.format("GET", "/healthz")
end

function request()
  if mode == "cycle" then
    n = n + 1
    return reqs[(n - 1) % #reqs + 1]
  end
  if n < #reqs then
    n = n + 1
    return reqs[n]
  end
  return idle
end

function response(status, headers, body)
  if status == 200 and (headers["x-auth-token-id"] or headers["X-Auth-Token-Id"]
                        or (body and string.find(body, '"user":{', 1, true))) then
    ok = ok + 1
  elseif status ~= 200 then
    bad = bad + 1
  else
    drained = drained + 1 -- a /healthz after the last token (once mode)
  end
  -- wrk 4.1 sometimes drops a request request() produced: also done after a few /healthz.
  if mode == "once" and not finished and (ok + bad >= #reqs or drained >= 50) then
    finished = true
    local f = io.open(outdir .. "/done." .. id, "w")
    f:write(ok, " ", bad, "\n")
    f:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local ok_total, bad_total = 0, 0
  for _, t in ipairs(threads) do
    ok_total = ok_total + (t:get("ok") or 0)
    bad_total = bad_total + (t:get("bad") or 0)
  end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"ok":%d,"bad":%d,"seconds":%.3f,"rps":%.2f,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,"errors_connect":%d,"errors_read":%d,' ..
    '"errors_write":%d,"errors_status":%d,"errors_timeout":%d}\n',
    summary.requests, ok_total, bad_total, secs, ok_total / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end

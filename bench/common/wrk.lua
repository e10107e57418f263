-- wrk script for bench/*: the method and body come from the environment (WRK_METHOD,
-- WRK_BODY); headers are given with wrk's -H. With WRK_EXPECT set, every answer's body must
-- contain that text (plain find), else it counts as bad_body (and WRK_DELAY_MS paces it, below).
-- At the end it prints one line
--   WRK_JSON {"requests":..,"rps":..,"p50_us":..,"p99_us":..,"bad_body":..,...}
-- Latencies are wrk's (microseconds, per request, from its histogram).
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.body = body
end

local expect = os.getenv("WRK_EXPECT")
if expect == "" then expect = nil end

-- With WRK_DELAY_MS set, each connection waits that long after every answer before its next
-- request: a paced load well under what the machine can take, whose latency is the server's
-- and not a queue's (wrk's latency is from a request's send to its answer, the wait excluded).
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "")
if delay_ms then
  function delay()
    return delay_ms
  end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

bad = 0
if expect then
  -- Only defined when needed: with a response() function wrk has to hand every body to Lua.
  function response(status, headers, body)
    if not (body and string.find(body, expect, 1, true)) then
      bad = bad + 1
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local bad_total = 0
  for _, t in ipairs(threads) do
    bad_total = bad_total + (t:get("bad") or 0)
  end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"seconds":%.3f,"rps":%.2f,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"errors_connect":%d,"errors_read":%d,"errors_write":%d,' ..
    '"errors_status":%d,"errors_timeout":%d,"bad_body":%d}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout, bad_total))
end

-- wrk script for bench/flash_sale.py and bench/floor.py (one wrk process per endpoint).
--
-- Why wrk and not a Python load tool: the load runs on the same 2 cores as the
-- server, and locust spent about as much CPU per request as the API itself
-- (docs/benchmarks.md). wrk's C event loop and LuaJIT cost a small fraction of that.
--
-- Environment:
--   BENCH_ACCOUNTS  a file of "user_id quantity token" lines. When set, every request is a POST of
--                   {"eventId": BENCH_EVENT_ID, "quantity": <the account's>} to the URL's path as that
--                   account, one account per request, in order (wrapping around if the run outlasts them).
--                   When unset, every request is a GET of the URL given to wrk.
--   BENCH_EVENT_ID  the event booked (POST only).
--   BENCH_RECORD    a file that gets one line per 201 answer: "<unix time> <response body>".
--   BENCH_SUMMARY   a file that gets the run's numbers as JSON when wrk is done.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_REALTIME = 0
local clock = ffi.new("bench_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_REALTIME, clock)
  return tonumber(clock.tv_sec) + tonumber(clock.tv_nsec) / 1e9
end

local accounts_path = os.getenv("BENCH_ACCOUNTS")
local record_path = os.getenv("BENCH_RECORD")

-- Per wrk thread (each has its own Lua state): statuses counted, 201 bodies recorded.
statuses = {}
local record = nil
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  if record_path then
    record = io.open(record_path, "a")
    record:setvbuf("line")  -- whole lines, nothing left in a buffer when wrk exits
  end
end

if accounts_path then
  local accounts, next_account = {}, 1
  local event_id = os.getenv("BENCH_EVENT_ID") or "0"
  for line in io.lines(accounts_path) do
    local quantity, token = line:match("^%d+ (%d+) (%S+)$")
    accounts[#accounts + 1] = {
      headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"},
      body = '{"eventId": ' .. event_id .. ', "quantity": ' .. quantity .. '}',
    }
  end

  function request()
    local account = accounts[next_account]
    next_account = next_account % #accounts + 1
    return wrk.format("POST", nil, account.headers, account.body)
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if record and status == 201 then
    record:write(string.format("%.6f ", now()), (body:gsub("%s+$", "")), "\n")
  end
end

local function json_object(map)
  local parts = {}
  for key, value in pairs(map) do
    parts[#parts + 1] = string.format('"%s": %s', key, value)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- Runs in wrk's main Lua state once every thread has stopped. Latencies are in microseconds.
function done(summary, latency, requests)
  local counted = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counted[tostring(status)] = (counted[tostring(status)] or 0) + count
    end
  end
  local errors = summary.errors
  local out = io.open(os.getenv("BENCH_SUMMARY"), "w")
  out:write(json_object({
    requests = summary.requests,
    seconds = summary.duration / 1e6,
    p50 = latency:percentile(50) / 1000,
    p95 = latency:percentile(95) / 1000,
    p99 = latency:percentile(99) / 1000,
    max = latency.max / 1000,
    statuses = json_object(counted),
    errors = json_object({connect = errors.connect, read = errors.read, write = errors.write,
                          timeout = errors.timeout}),
    finishedAt = string.format("%.6f", now()),
  }), "\n")
  out:close()
end

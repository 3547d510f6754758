-- wrk script for scripts/bench: counts the HTTP status of every response and, when the run is
-- done, prints one machine-readable line that scripts/bench parses:
--
--   BENCH requests=N duration_us=N p50_us=N p99_us=N errors=connect:N,read:N,write:N,timeout:N statuses=200:N,429:N
--
-- Requests themselves are left to wrk (URL and headers come from the command line).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  -- Global, so that `done` can read it back from each thread with thread:get.
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses") or {}
    for status, n in pairs(counts) do
      merged[status] = (merged[status] or 0) + n
    end
  end
  local codes = {}
  for status in pairs(merged) do
    table.insert(codes, status)
  end
  table.sort(codes)
  local parts = {}
  for _, status in ipairs(codes) do
    table.insert(parts, string.format("%d:%d", status, merged[status]))
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d errors=connect:%d,read:%d,write:%d,timeout:%d statuses=%s\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, #parts > 0 and table.concat(parts, ",") or "none"))
end

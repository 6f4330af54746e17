-- wrk script for bench/accept.ts: POSTs a Coder webhook body in which every "__ID__" becomes an id
-- unique to this request (so each one is a new message about a new subject, never a duplicate), and
-- prints the figures as one JSON line after "BENCH_RESULT ".
-- Arguments (after --): template file, run tag.

local counter = 0
local threads = {}
local parts = {}
local tag = "run"

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local template = f:read("*a")
  f:close()
  tag = args[2] or tag
  local from = 1
  while true do
    local s, e = string.find(template, "__ID__", from, true)
    if not s then break end
    table.insert(parts, string.sub(template, from, s - 1))
    from = e + 1
  end
  table.insert(parts, string.sub(template, from))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local id = tag .. "-" .. tid .. "-" .. counter
  return wrk.format(nil, nil, nil, table.concat(parts, id))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"durationUs":%d,"connectErrors":%d,"readErrors":%d,' ..
      '"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end

-- wrk script for W1: POST /jobs with the bench payload {"n":i,"pad":"x"*100}.
-- Each wrk thread numbers its own jobs (n = thread_index + k * threads), so inputs are
-- deterministic for a given request count. done() prints one machine-readable line that
-- bench/_wrk.ts parses: requests, duration (us), p50 and p99 latency (us), non-2xx, errors.
local pad = string.rep("x", 100)
local threads = {}
local counter, step = 0, 1

function setup(thread)
  thread:set("first", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = first or 0
  step = #args > 0 and tonumber(args[1]) or 1
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = '{"type":"bench","queue":"w1","payload":{"n":' .. counter .. ',"pad":"' .. pad .. '"}}'
  counter = counter + step
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("ZIZQ_WRK %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end

-- wrk script of tiergate-bench: spreads GETs over the paths listed one per line in the file
-- named after `--`, each thread from its own offset, and prints the numbers as one JSON line.

local threads = 0

function setup(thread)
  thread:set("offset", threads * 17)
  threads = threads + 1
end

function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  n = offset or 0
end

function request()
  n = n + 1
  return wrk.format("GET", paths[n % #paths + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%.0f,"p99_us":%.0f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end

-- Shared by every bench script: prints wrk's own statistics as one JSON line the harness parses.
-- Latencies are wrk's (microseconds, coordinated-omission-free histogram of the measured run).

local common = {}

function common.read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then
      lines[#lines + 1] = line
    end
  end
  return lines
end

function common.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us":%d,"requests":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"lat_mean_us":%.1f,"lat_stdev_us":%.1f,' ..
    '"lat_max_us":%d,"p50_us":%d,"p75_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max, latency:percentile(50), latency:percentile(75),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end

return common

-- Plain GETs for `kubefacade bench nodeport`: wrk's own request loop (no Lua per request, so the
-- load generator stays as cheap as possible) and a done() that prints the summary and latency
-- percentiles as one JSON line for conformance/plainwrk.py.
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'KUBEFACADE_WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      latency.max, latency.mean))
end

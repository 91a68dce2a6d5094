-- Shared part of the kubefacade bench scripts, loaded with dofile() by each of them.
--
-- Why it exists: wrk's own summary counts only statuses > 399 as errors and its run time is the
-- full -d duration even when threads stop early.  The bench needs every status code counted
-- (a non-2xx answer is never a success), an optional per-thread request cap (create exactly N
-- objects) and the wall time between the first request and the last response.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } kubefacade_timeval;
int gettimeofday(kubefacade_timeval *tv, void *tz);
]]
local timeval = ffi.new("kubefacade_timeval")

function now_us()
   ffi.C.gettimeofday(timeval, nil)
   return tonumber(timeval.tv_sec) * 1000000 + tonumber(timeval.tv_usec)
end

-- Per-thread state (each wrk thread has its own Lua state; done() reads it with thread:get).
thread_id = 0
thread_count = 1
statuses = {}
completed = 0
limit = 0          -- 0: run for the whole duration
first_us = 0
last_us = 0
stopped = false
reserved = 0       -- requests promised to connections so far (see delay)

-- Set-up state (lives in the separate set-up/done Lua state).
local threads = {}

function setup(thread)
   thread:set("thread_id", #threads)
   table.insert(threads, thread)
end

-- Share `total` requests between threads: thread i gets floor(total/n) plus one of the rest.
function share_of(total, count)
   local share = math.floor(total / count)
   if thread_id < total % count then
      share = share + 1
   end
   return share
end

-- With a cap, every request is first reserved here (wrk asks delay() before each request once
-- a script defines it); connections that find the cap reached are parked for an hour, so exactly
-- `limit` requests are sent and none are cut off in flight when the thread stops.
function delay()
   if limit > 0 then
      if reserved >= limit then
         return 3600000
      end
      reserved = reserved + 1
   end
   return 0
end

function mark_request()
   if first_us == 0 then
      first_us = now_us()
   end
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   completed = completed + 1
   last_us = now_us()
   if limit > 0 and completed >= limit and not stopped then
      stopped = true
      -- The Python side ends wrk early (SIGINT) once every thread has said this.
      io.stderr:write("KUBEFACADE_THREAD_DONE\n")
      io.stderr:flush()
      wrk.thread:stop()
   end
end

local function json_object(t)
   local parts = {}
   for k, v in pairs(t) do
      parts[#parts + 1] = string.format('"%s":%d', k, v)
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local all = {}
   local first, last = 0, 0
   for _, t in ipairs(threads) do
      for k, v in pairs(t:get("statuses") or {}) do
         all[k] = (all[k] or 0) + v
      end
      local f, l = t:get("first_us") or 0, t:get("last_us") or 0
      if f > 0 and (first == 0 or f < first) then first = f end
      if l > last then last = l end
   end
   local e = summary.errors
   io.write(string.format(
      'KUBEFACADE_WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"first_us":%d,"last_us":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"statuses":%s,' ..
      '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
      summary.requests, summary.duration, summary.bytes, first, last,
      e.connect, e.read, e.write, e.status, e.timeout, json_object(all),
      latency.min, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9)))
   io.flush()
end

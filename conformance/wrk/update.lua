-- PUT ConfigMaps (no resourceVersion: an unconditional update, which ConfigMaps allow);
-- args: namespace, file with one name a line, value bytes, thread count.
-- Each request carries a new value, so that a real API server really writes (an update that
-- changes nothing is answered without a write).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local names = {}
local namespace, size
local counter = 0
local position = 0

function init(args)
   namespace, size = args[1], tonumber(args[3]) or 256
   thread_count = tonumber(args[4]) or 1
   local all = {}
   for line in io.lines(args[2]) do
      if #line > 0 then all[#all + 1] = line end
   end
   -- Threads take disjoint names when there are enough of them.
   for i, name in ipairs(all) do
      if #all < thread_count or (i - 1) % thread_count == thread_id then
         names[#names + 1] = name
      end
   end
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Accept"] = "application/json"
end

function request()
   mark_request()
   counter = counter + 1
   position = position % #names + 1
   local name = names[position]
   local stamp = string.format("%d-%d-", thread_id, counter)
   local body = string.format(
      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s","namespace":"%s"},"data":{"payload":"%s%s"}}',
      name, namespace, stamp, string.rep("y", math.max(0, size - #stamp)))
   return wrk.format("PUT", "/api/v1/namespaces/" .. namespace .. "/configmaps/" .. name, nil, body)
end

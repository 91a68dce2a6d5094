-- POST ConfigMaps with metadata.generateName; args: namespace, total (0 = no cap), value bytes.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local req

function init(args)
   local namespace, total, size = args[1], tonumber(args[2]) or 0, tonumber(args[3]) or 256
   thread_count = tonumber(args[4]) or 1
   if total > 0 then
      limit = share_of(total, thread_count)
   end
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Accept"] = "application/json"
   local body = string.format(
      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"bench-"},"data":{"payload":"%s"}}',
      string.rep("x", size))
   req = wrk.format("POST", "/api/v1/namespaces/" .. namespace .. "/configmaps", nil, body)
end

function request()
   mark_request()
   return req
end

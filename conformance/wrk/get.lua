-- GET one object again and again; args: the request path.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local req

function init(args)
   wrk.headers["Accept"] = "application/json"
   req = wrk.format("GET", args[1])
end

function request()
   mark_request()
   return req
end

-- POST /v1/user-groups/{id}/cards {"uid": ...}: one new card per request, a unique UID each time
-- (prefix + run id + counter), into a random active user group.
-- args: [1] file of user group ids, [2] admin key, [3] random seed, [4] UID prefix (unique per run)
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local groups = {}
local prefix = ""
local counter = 0
local next_thread = 0

function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_id", next_thread)
end

function init(args)
  math.randomseed(tonumber(args[3]) or os.time())
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
  groups = common.read_lines(args[1])
  prefix = args[4] .. string.format("T%d", thread_id or 1)
end

function request()
  counter = counter + 1
  local uid = string.format("%s%08X", prefix, counter)
  local group = groups[math.random(#groups)]
  return wrk.format("POST", "/v1/user-groups/" .. group .. "/cards", nil, '{"uid":"' .. uid .. '"}')
end

done = common.done

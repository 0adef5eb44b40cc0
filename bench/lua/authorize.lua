-- POST /v1/authorize with a random body from a file of pre-built bodies (one JSON per line:
-- {"id_token", "connector_id"} or {"id_token", "evse_id"}, in the mix the harness sampled).
-- args: [1] bodies file, [2] integration key, [3] random seed
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local requests = {}

function init(args)
  math.randomseed(tonumber(args[3]) or os.time())
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
  for _, body in ipairs(common.read_lines(args[1])) do
    requests[#requests + 1] = wrk.format("POST", "/v1/authorize", nil, body)
  end
end

function request()
  return requests[math.random(#requests)]
end

done = common.done

-- GET of a random path from a file (one path per line), with a bearer key.
-- args: [1] paths file, [2] key, [3] random seed
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")
local requests = {}

function init(args)
  math.randomseed(tonumber(args[3]) or os.time())
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  for _, path in ipairs(common.read_lines(args[1])) do
    requests[#requests + 1] = wrk.format("GET", path)
  end
end

function request()
  return requests[math.random(#requests)]
end

done = common.done

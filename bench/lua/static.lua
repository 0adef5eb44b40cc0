-- A fixed request (wrk's fast path): GET of the URL given to wrk, optional bearer key.
-- args: [1] bearer key or "-"
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")

function init(args)
  if args[1] and args[1] ~= "-" then
    wrk.headers["Authorization"] = "Bearer " .. args[1]
  end
end

done = common.done

-- GET a path; "{w}" in it becomes a random wallet id from FIRST to LAST.
-- args: PATH [FIRST LAST]
function init(args)
    path = args[1]
    first = tonumber(args[2] or "0")
    last = tonumber(args[3] or "0")
    math.randomseed(os.time())
end

function request()
    local p = path
    if last > 0 then
        p = string.gsub(path, "{w}", tostring(math.random(first, last)))
    end
    return wrk.format("GET", p, with_key({ ["Accept"] = "application/vnd.api+json" }))
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/auth.lua")
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

-- POST /transactions with a unique txid per request.
-- args: RUN_ID FIRST_WALLET LAST_WALLET  (one wallet when FIRST = LAST)
local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

function init(args)
    run = args[1]
    first = tonumber(args[2])
    last = tonumber(args[3])
    n = 0
    math.randomseed(os.time() * 1000 + tid)
end

function request()
    n = n + 1
    local wallet = first
    if last > first then
        wallet = math.random(first, last)
    end
    local body = string.format(
        '{"data":{"type":"transactions","attributes":{"txid":"%s-%d-%d","amount":"-0.01"},'
            .. '"relationships":{"wallet":{"data":{"type":"wallets","id":"%d"}}}}}',
        run, tid, n, wallet)
    return wrk.format("POST", "/transactions", { ["Content-Type"] = "application/vnd.api+json" }, body)
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

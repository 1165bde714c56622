-- POST /transfers: 0.01 from one random wallet to another, with a unique txid.
-- args: RUN_ID FIRST_WALLET LAST_WALLET
dofile(os.getenv("BENCH_LUA_DIR") .. "/threads.lua")

function init(args)
    run = args[1]
    first = tonumber(args[2])
    last = tonumber(args[3])
    n = 0
    math.randomseed(os.time() * 1000 + tid)
end

function request()
    n = n + 1
    local from = math.random(first, last)
    local to = math.random(first, last - 1)
    if to >= from then
        to = to + 1
    end
    local body = string.format(
        '{"data":{"type":"transfers","attributes":{"txid":"%s-%d-%d","amount":"0.01"},'
            .. '"relationships":{"source":{"data":{"type":"wallets","id":"%d"}},'
            .. '"destination":{"data":{"type":"wallets","id":"%d"}}}}}',
        run, tid, n, from, to)
    local media = "application/vnd.api+json"
    return wrk.format("POST", "/transfers", with_key({ ["Content-Type"] = media, ["Accept"] = media }), body)
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/auth.lua")
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

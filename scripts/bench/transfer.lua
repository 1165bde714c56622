-- POST /operations: a transfer of 0.01 between two random wallets (two add operations,
-- the debit first), with unique txids.
-- args: RUN_ID FIRST_WALLET LAST_WALLET
dofile(os.getenv("BENCH_LUA_DIR") .. "/threads.lua")

function init(args)
    run = args[1]
    first = tonumber(args[2])
    last = tonumber(args[3])
    n = 0
    math.randomseed(os.time() * 1000 + tid)
end

local function booking(wallet, txid, amount)
    return string.format(
        '{"op":"add","data":{"type":"transactions","attributes":{"txid":"%s","amount":"%s"},'
            .. '"relationships":{"wallet":{"data":{"type":"wallets","id":"%d"}}}}}',
        txid, amount, wallet)
end

function request()
    n = n + 1
    local from, to = math.random(first, last), math.random(first, last)
    local reference = string.format("%s-%d-%d", run, tid, n)
    local body = '{"atomic:operations":[' .. booking(from, reference .. "-out", "-0.01") .. ","
        .. booking(to, reference .. "-in", "0.01") .. "]}"
    local atomic = 'application/vnd.api+json; ext="https://jsonapi.org/ext/atomic"'
    return wrk.format("POST", "/operations", with_key({ ["Content-Type"] = atomic, ["Accept"] = atomic }), body)
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/auth.lua")
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

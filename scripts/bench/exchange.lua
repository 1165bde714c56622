-- POST /exchanges: 0.01 USD of a random client into its BTC wallet at a quoted rate (the
-- liquidity wallets of USD and BTC take and give), with a unique txid.
-- args: RUN_ID FIRST_USD_WALLET FIRST_BTC_WALLET CLIENTS
dofile(os.getenv("BENCH_LUA_DIR") .. "/threads.lua")

function init(args)
    run = args[1]
    first_usd = tonumber(args[2])
    first_btc = tonumber(args[3])
    clients = tonumber(args[4])
    n = 0
    math.randomseed(os.time() * 1000 + tid)
end

function request()
    n = n + 1
    local client = math.random(0, clients - 1)
    local body = string.format(
        '{"data":{"type":"exchanges","attributes":{"txid":"%s-%d-%d","sourceAmount":"0.01",'
            .. '"rate":"0.0000105"},'
            .. '"relationships":{"source":{"data":{"type":"wallets","id":"%d"}},'
            .. '"destination":{"data":{"type":"wallets","id":"%d"}}}}}',
        run, tid, n, first_usd + client, first_btc + client)
    local media = "application/vnd.api+json"
    return wrk.format("POST", "/exchanges", with_key({ ["Content-Type"] = media, ["Accept"] = media }), body)
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/auth.lua")
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

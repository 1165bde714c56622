-- POST /transactions with a unique txid per request.
-- args: RUN_ID FIRST_WALLET LAST_WALLET [keyed] [tagged]  (one wallet when FIRST = LAST; with
-- "keyed", each request carries an Idempotency-Key of its own; with "tagged", a metadata
-- object of 5 keys)
dofile(os.getenv("BENCH_LUA_DIR") .. "/threads.lua")

function init(args)
    run = args[1]
    first = tonumber(args[2])
    last = tonumber(args[3])
    keyed, tagged = false, false
    for i = 4, #args do
        keyed = keyed or args[i] == "keyed"
        tagged = tagged or args[i] == "tagged"
    end
    n = 0
    math.randomseed(os.time() * 1000 + tid)
end

function request()
    n = n + 1
    local wallet = first
    if last > first then
        wallet = math.random(first, last)
    end
    local metadata = ""
    if tagged then
        metadata = string.format(
            ',"metadata":{"invoice":"inv-%d-%d","customer":"c-%d","order":"o-%d",'
                .. '"channel":"web","region":"eu-west"}',
            tid, n, wallet, n)
    end
    local body = string.format(
        '{"data":{"type":"transactions","attributes":{"txid":"%s-%d-%d","amount":"-0.01"%s},'
            .. '"relationships":{"wallet":{"data":{"type":"wallets","id":"%d"}}}}}',
        run, tid, n, metadata, wallet)
    local headers = { ["Content-Type"] = "application/vnd.api+json" }
    if keyed then
        headers["Idempotency-Key"] = string.format("%s-%d-%d", run, tid, n)
    end
    return wrk.format("POST", "/transactions", with_key(headers), body)
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/auth.lua")
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

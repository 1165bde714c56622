-- A hold of 0.01 on a random wallet, then its capture: POST /holds, then PATCH /holds/{id}
-- with status captured, per iteration (two requests). Each thread captures the holds its
-- own POSTs made, in order.
-- args: FIRST_WALLET LAST_WALLET
dofile(os.getenv("BENCH_LUA_DIR") .. "/threads.lua")

function init(args)
    first = tonumber(args[1])
    last = tonumber(args[2])
    made = {}
    math.randomseed(os.time() * 1000 + tid)
end

function request()
    local id = table.remove(made, 1)
    if id then
        local body = string.format(
            '{"data":{"type":"holds","id":"%s","attributes":{"status":"captured"}}}', id)
        return wrk.format("PATCH", "/holds/" .. id,
            with_key({ ["Content-Type"] = "application/vnd.api+json" }), body)
    end
    local body = string.format(
        '{"data":{"type":"holds","attributes":{"amount":"0.01"},'
            .. '"relationships":{"wallet":{"data":{"type":"wallets","id":"%d"}}}}}',
        math.random(first, last))
    return wrk.format("POST", "/holds", with_key({ ["Content-Type"] = "application/vnd.api+json" }), body)
end

function response(status, headers, body)
    if status == 201 then
        local id = string.match(body, '"type":"holds","id":"(%d+)"')
            or string.match(body, '"id":"(%d+)","type":"holds"')
        if id then
            table.insert(made, id)
        end
    end
end

dofile(os.getenv("BENCH_LUA_DIR") .. "/auth.lua")
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

-- The API key every request sends: BENCH_KEY (bench.py makes one), as Authorization: Bearer.
local key = os.getenv("BENCH_KEY")

function with_key(headers)
    if key and key ~= "" then
        headers["Authorization"] = "Bearer " .. key
    end
    return headers
end

-- Numbers wrk's threads (tid, from 1): each seeds its random numbers and names its txids by
-- its number, so that no two threads send the same txid.
local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

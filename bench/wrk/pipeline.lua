-- Pipelining as TechEmpower's plaintext test does it: every write carries `depth` requests
-- (16 unless given as `wrk ... -s pipeline.lua URL -- DEPTH`), and the next write goes out
-- once all their responses are in. wrk counts each response as one request.
local depth = 16
local batch

function init(args)
   depth = tonumber(args[1]) or depth
   local r = {}
   for i = 1, depth do
      r[i] = wrk.format()
   end
   batch = table.concat(r)
end

function request()
   return batch
end

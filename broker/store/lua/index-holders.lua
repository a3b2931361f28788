--[[
  index-holders: Adds leases to the holder index (includes/holders.lua), for a store whose leases were written before
  the index existed; the owner GC runs it over the lease hashes in pages once, then sets `holdidx`. Idempotent, and a
  lease released meanwhile is skipped (each page re-reads its leases here), so leases and releases may go on.
  ARGV: P, kind (node: block ids | owner: ips), targets...
  Answers OK <entries indexed>

  keys: 0 (every key is ARGV[1] .. a family of broker/store/keys.ts)
]]
--@include prelude
--@include holders
local kind = ARGV[2]
local hash = P .. 'o:AddressLease'
if kind == 'node' then hash = P .. 'o:Block' end
local n = 0
for i = 3, #ARGV do
  local cur = redis.call('HGET', hash, ARGV[i])
  if cur then
    local obj = cjson.decode(cur)
    local who = obj.owner
    if kind == 'node' then who = obj.node end
    holdAdd(kind, obj.cluster, who, ARGV[i])
    n = n + 1
  end
end
return {'OK', tostring(n)}

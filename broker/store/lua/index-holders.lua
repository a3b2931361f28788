--[[
  index-holders: Adds leases to the holder index (includes/holders.lua), for a store whose leases were written before
  the index existed; the owner GC runs it over the lease hashes in pages once, then sets `holdidx`. Idempotent, and a
  lease released meanwhile is skipped (each page re-reads its leases here), so leases and releases may go on.
  KEYS:
    blocks               KEY.objects('Block')
    addressLeases        KEY.objects('AddressLease')
    @holderIndex         includes/holders.lua
  ARGV: kind (node: block ids | owner: ips), targets...
  Answers OK <entries indexed>
]]
--@include holders
local kind = ARGV[1]
local hash = K.addressLeases
if kind == 'node' then hash = K.blocks end
local n = 0
for i = 2, #ARGV do
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

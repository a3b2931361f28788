--[[
  releaseBlock / releaseAddress, shared by the release scripts and the owner GC. Needs common and ip-math.
  Keys: K.blocks, K.addressLeases, K.addressMeta, K.poolMeta, and the prefixes K.poolBlocksOf, K.poolAddressesOf,
  K.poolAddressBlocksOf, K.poolOwnersOf to which the pool of the released lease (read from its record) is appended.
]]
--@include holders
local function releaseBlock(id, required)
  local cur = redis.call('HGET', K.blocks, id)
  if not cur then return {'NOTFOUND'} end
  local obj = cjson.decode(cur)
  if required ~= '' and obj.cluster ~= required then return {'FORBIDDEN', obj.cluster} end
  local pool, idx = string.match(id, '^(.*)%.(%d+)%.%d+$')
  redis.call('HDEL', K.poolBlocksOf .. pool, idx)
  redis.call('HDEL', K.blocks, id)
  holdDel('node', obj.cluster, obj.node, id)
  local rev = nextrev()
  local json = stamp(cur, rev)
  emit('Block', 'DELETED', json, rev)
  return {'OK', json}
end
local function releaseAddress(ip, required)
  local meta = redis.call('HGET', K.addressMeta, ip)
  if not meta then return {'NOTFOUND'} end
  local cur = redis.call('HGET', K.addressLeases, ip)
  local obj = cjson.decode(cur)
  if required ~= '' and obj.cluster ~= required then return {'FORBIDDEN', obj.cluster} end
  local pool, idx, owner = string.match(meta, '^([^|]*)|(%d+)|(.*)$')
  local m = poolmeta(pool)
  redis.call('HDEL', K.poolAddressesOf .. pool, idx)
  if m then
    local b = math.floor(tonumber(idx) / (2 ^ (m.bits - m.bs)))
    if redis.call('HINCRBY', K.poolAddressBlocksOf .. pool, b, -1) <= 0 then redis.call('HDEL', K.poolAddressBlocksOf .. pool, b) end
  end
  redis.call('HDEL', K.poolOwnersOf .. pool, owner)
  redis.call('HDEL', K.addressMeta, ip)
  redis.call('HDEL', K.addressLeases, ip)
  holdDel('owner', obj.cluster, obj.owner, ip)
  local rev = nextrev()
  local json = stamp(cur, rev)
  emit('AddressLease', 'DELETED', json, rev)
  return {'OK', json}
end

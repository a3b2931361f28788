--[[
  releaseBlock / releaseAddress, shared by the release scripts and the owner GC. Needs prelude and ip-math.
]]
--@include holders
local function releaseBlock(id, required)
  local cur = redis.call('HGET', P .. 'o:Block', id)
  if not cur then return {'NOTFOUND'} end
  local obj = cjson.decode(cur)
  if required ~= '' and obj.cluster ~= required then return {'FORBIDDEN', obj.cluster} end
  local pool, idx = string.match(id, '^(.*)%.(%d+)%.%d+$')
  redis.call('HDEL', P .. 'pb:' .. pool, idx)
  redis.call('HDEL', P .. 'o:Block', id)
  holdDel('node', obj.cluster, obj.node, id)
  local rev = nextrev()
  local json = stamp(cur, rev)
  emit('Block', 'DELETED', json, rev)
  return {'OK', json}
end
local function releaseAddress(ip, required)
  local meta = redis.call('HGET', P .. 'am', ip)
  if not meta then return {'NOTFOUND'} end
  local cur = redis.call('HGET', P .. 'o:AddressLease', ip)
  local obj = cjson.decode(cur)
  if required ~= '' and obj.cluster ~= required then return {'FORBIDDEN', obj.cluster} end
  local pool, idx, owner = string.match(meta, '^([^|]*)|(%d+)|(.*)$')
  local m = poolmeta(pool)
  redis.call('HDEL', P .. 'pa:' .. pool, idx)
  if m then
    local b = math.floor(tonumber(idx) / (2 ^ (m.bits - m.bs)))
    if redis.call('HINCRBY', P .. 'pab:' .. pool, b, -1) <= 0 then redis.call('HDEL', P .. 'pab:' .. pool, b) end
  end
  redis.call('HDEL', P .. 'po:' .. pool, owner)
  redis.call('HDEL', P .. 'am', ip)
  redis.call('HDEL', P .. 'o:AddressLease', ip)
  holdDel('owner', obj.cluster, obj.owner, ip)
  local rev = nextrev()
  local json = stamp(cur, rev)
  emit('AddressLease', 'DELETED', json, rev)
  return {'OK', json}
end

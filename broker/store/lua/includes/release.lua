--[[
  releaseBlock / releaseAddress, shared by the release scripts, the owner GC and the gc of leavers. Needs common and
  ip-math.
  KEYS blockRelease: what releaseBlock touches (BrokerKeys.blockRelease())
    blocks               KEY.objects('Block')
    poolBlocksOf*        KEY.poolBlocks('') — a prefix: the pool of the block (from its id) is appended
    rev                  KEY.rev
    events               KEY.events
    @holderRelease
  KEYS addressRelease: what releaseAddress touches (BrokerKeys.addressRelease())
    addressLeases        KEY.objects('AddressLease')
    addressMeta          KEY.addressMeta
    poolMeta             KEY.poolMeta
    poolAddressesOf*     KEY.poolAddresses('') — a prefix: the pool of the address (from its addressMeta) is appended
    poolAddressBlocksOf* KEY.poolAddressBlocks('') — a prefix, as above
    poolOwnersOf*        KEY.poolOwners('') — a prefix, as above
    rev                  KEY.rev
    events               KEY.events
    @holderRelease
]]
--@include holders
-- The end of both releases: the lease leaves its hash and its holder's index, and its deletion is an event.
local function dropLease(kind, hash, id, cur, holderKind, cluster, holder)
  redis.call('HDEL', hash, id)
  holdDel(holderKind, cluster, holder, id)
  local rev = nextrev()
  local json = stamp(cur, rev)
  emit(kind, 'DELETED', json, rev)
  return {'OK', json}
end
local function releaseBlock(id, required)
  local cur = redis.call('HGET', K.blocks, id)
  if not cur then return {'NOTFOUND'} end
  local obj = cjson.decode(cur)
  if required ~= '' and obj.cluster ~= required then return {'FORBIDDEN', obj.cluster} end
  local pool, idx = string.match(id, '^(.*)%.(%d+)%.%d+$')
  redis.call('HDEL', K.poolBlocksOf .. pool, idx)
  return dropLease('Block', K.blocks, id, cur, 'node', obj.cluster, obj.node)
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
  return dropLease('AddressLease', K.addressLeases, ip, cur, 'owner', obj.cluster, obj.owner)
end

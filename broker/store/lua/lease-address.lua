--[[
  lease-address: Leases one address of a pool to an owner; the same owner gets its address back (idempotent). Skips addresses
  inside leased blocks. ARGV: P, pool, owner, cluster, nowIso

  keys: 0 (every key is ARGV[1] .. a family of broker/store/keys.ts)
]]
--@include prelude
--@include ip-math
--@include holders
--@include idem-open
local pool, owner, cluster = ARGV[2], ARGV[3], ARGV[4]
local m = poolmeta(pool)
if not m then return {'NOPOOL'} end
if redis.call('HEXISTS', P .. 'o:Cluster', cluster) == 0 then return {'NOCLUSTER'} end
local po, pa, pab, pb = P .. 'po:' .. pool, P .. 'pa:' .. pool, P .. 'pab:' .. pool, P .. 'pb:' .. pool
local have = redis.call('HGET', po, owner)
if have then
  local json = redis.call('HGET', P .. 'o:AddressLease', have)
  local obj = cjson.decode(json)
  if obj.cluster ~= cluster then return {'OWNED', json} end
  return {'EXISTING', json}
end
local lo, hi = 0, m.naddr - 1
if m.edges == 1 then lo, hi = 1, m.naddr - 2 end
local span = hi - lo + 1
local per = 2 ^ (m.bits - m.bs)
if redis.call('HLEN', pa) >= span then return {'EXHAUSTED'} end
-- Addresses are taken from the top of the pool downwards (blocks grow from the bottom), and a leased block is
-- skipped whole, so the two kinds of lease rarely meet and a scan never walks through a block address by address.
local cur = tonumber(redis.call('HGET', P .. 'cur:' .. pool, 'a') or '0')
local pos, probes, found = 0, 0, nil
while pos < span and probes < MAX_PROBES do
  probes = probes + 1
  local idx = hi - ((cur + pos) % span)
  local b = math.floor(idx / per)
  if redis.call('HEXISTS', pb, b) == 1 then
    pos = pos + (idx - b * per) + 1
  elseif redis.call('HEXISTS', pa, idx) == 0 then
    found = idx
    break
  else
    pos = pos + 1
  end
end
if not found then return {'EXHAUSTED'} end
redis.call('HSET', P .. 'cur:' .. pool, 'a', (cur + pos + 1) % span)
local g = copy(m.groups)
addgroups(g, found, 0)
local ip = fmtip(g)
local rev = nextrev()
local json = '{"resourceVersion":"' .. rev .. '","ip":"' .. ip .. '","pool":' .. cjson.encode(pool) ..
  ',"owner":' .. cjson.encode(owner) .. ',"cluster":' .. cjson.encode(cluster) .. ',"createdAt":"' .. ARGV[5] .. '"}'
redis.call('HSET', pa, found, ip)
redis.call('HINCRBY', pab, math.floor(found / per), 1)
redis.call('HSET', po, owner, ip)
redis.call('HSET', P .. 'am', ip, pool .. '|' .. found .. '|' .. owner)
redis.call('HSET', P .. 'o:AddressLease', ip, json)
holdAdd('owner', cluster, owner, ip)
emit('AddressLease', 'ADDED', json, rev)
return {'OK', json}
--@include idem-close

--[[
  lease-block: Leases the next free block of a pool (cursor scan; skips blocks holding single-address leases).
  ARGV: P, pool, cluster, node, nowIso

  keys: 0 (every key is ARGV[1] .. a family of broker/store/keys.ts)
]]
--@include prelude
--@include ip-math
--@include idem-open
local pool = ARGV[2]
local m = poolmeta(pool)
if not m then return {'NOPOOL'} end
if redis.call('HEXISTS', P .. 'o:Cluster', ARGV[3]) == 0 then return {'NOCLUSTER'} end
local pb, pab = P .. 'pb:' .. pool, P .. 'pab:' .. pool
if redis.call('HLEN', pb) + redis.call('HLEN', pab) >= m.nblocks then return {'EXHAUSTED'} end
local cur = tonumber(redis.call('HGET', P .. 'cur:' .. pool, 'b') or '0')
local found = nil
local probes = math.min(m.nblocks, MAX_PROBES)
for k = 0, probes - 1 do
  local idx = (cur + k) % m.nblocks
  if redis.call('HEXISTS', pb, idx) == 0 and redis.call('HEXISTS', pab, idx) == 0 then found = idx break end
end
if not found then return {'EXHAUSTED'} end
redis.call('HSET', P .. 'cur:' .. pool, 'b', (found + 1) % m.nblocks)
local g = copy(m.groups)
addgroups(g, found, m.bits - m.bs)
local cidr = fmtip(g) .. '/' .. m.bs
local rev = nextrev()
-- The revision in the id makes every lease distinct: a late DELETE of an old lease never frees its successor.
local id = pool .. '.' .. found .. '.' .. rev
local json = '{"resourceVersion":"' .. rev .. '","id":' .. cjson.encode(id) .. ',"pool":' .. cjson.encode(pool) ..
  ',"cidr":"' .. cidr .. '","cluster":' .. cjson.encode(ARGV[3]) .. ',"node":' .. cjson.encode(ARGV[4]) ..
  ',"createdAt":"' .. ARGV[5] .. '"}'
redis.call('HSET', pb, found, id)
redis.call('HSET', P .. 'o:Block', id, json)
emit('Block', 'ADDED', json, rev)
return {'OK', json}
--@include idem-close

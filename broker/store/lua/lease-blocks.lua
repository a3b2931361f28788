--[[
  lease-blocks: Leases one block per entry of `nodes` in one step, all or nothing: the free blocks are found first
  (nothing is written if there are not enough), then leased in order, one event each. A single block lease is a
  batch of one.
  KEYS:
    clusters             KEY.objects('Cluster')
    blocks               KEY.objects('Block')
    poolMeta             KEY.poolMeta
    poolBlocks           KEY.poolBlocks(pool)
    poolAddressBlocks    KEY.poolAddressBlocks(pool)
    poolCursor           KEY.poolCursor(pool)
    rev                  KEY.rev
    events               KEY.events
    addressLeases        KEY.objects('AddressLease') — read by holders.lua
    @holderIndex         includes/holders.lua
    idem                 KEY.idempotency(scoped key); untouched without an Idempotency-Key
  ARGV: fingerprint ('' = no Idempotency-Key), idempotencyTtlMs, pool, cluster, nowIso, n, nodes...
  Answers OK <rev> <json>... | NOPOOL | NOCLUSTER | EXHAUSTED <free blocks found>
]]
--@include common
--@include ip-math
--@include holders
--@include idem-open
local pool, cluster, nowIso, n = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local m = poolmeta(pool)
if not m then return {'NOPOOL'} end
if redis.call('HEXISTS', K.clusters, cluster) == 0 then return {'NOCLUSTER'} end
local pb, pab = K.poolBlocks, K.poolAddressBlocks
local cur = tonumber(redis.call('HGET', K.poolCursor, 'b') or '0')
local found = {}
local k = 0
local function scan(limit)
  while #found < n and k < limit do
    local idx = (cur + k) % m.nblocks
    if redis.call('HEXISTS', pb, idx) == 0 and redis.call('HEXISTS', pab, idx) == 0 then found[#found + 1] = idx end
    k = k + 1
  end
end
-- The blocks from the cursor on are free in a pool that is not nearly full: found there, the lease needs no count
-- of the pool's leases (two calls of a dozen, each call in a script costing about 2 us). Only when they are not does
-- the count say whether n free blocks can exist at all, before a longer scan.
scan(math.min(m.nblocks, n + QUICK_PROBES))
local used
if #found < n then
  used = redis.call('HLEN', pb) + redis.call('HLEN', pab)
  if used + n > m.nblocks then return {'EXHAUSTED', tostring(math.max(0, m.nblocks - used))} end
  scan(math.min(m.nblocks, MAX_PROBES + n))
  if #found < n then return {'EXHAUSTED', tostring(#found)} end
end
redis.call('HSET', K.poolCursor, 'b', (found[#found] + 1) % m.nblocks)
local out = {'OK', ''}
local cjpool, cjcluster = cjson.encode(pool), cjson.encode(cluster)
for i = 1, n do
  local idx = found[i]
  local g = copy(m.groups)
  addgroups(g, idx, m.bits - m.bs)
  local rev = nextrev()
  local id = pool .. '.' .. idx .. '.' .. rev
  local json = '{"resourceVersion":"' .. rev .. '","id":' .. cjson.encode(id) .. ',"pool":' .. cjpool ..
    ',"cidr":"' .. fmtip(g) .. '/' .. m.bs .. '","cluster":' .. cjcluster .. ',"node":' .. cjson.encode(ARGV[6 + i]) ..
    ',"createdAt":"' .. nowIso .. '"}'
  redis.call('HSET', pb, idx, id)
  redis.call('HSET', K.blocks, id, json)
  holdAdd('node', cluster, ARGV[6 + i], id, i > 1 or (used ~= nil and used > 0))
  emit('Block', 'ADDED', json, rev)
  out[2] = tostring(rev)
  out[#out + 1] = json
end
return out
--@include idem-close

--[[
  lease-addresses: Leases one address per owner in one step, all or nothing, owner-idempotent: owners holding an
  address of the pool (for this cluster) get it back, an owner listed twice gets one address; an owner holding one
  for another cluster refuses the whole batch (OWNED). Free addresses are found first (nothing is written if there
  are not enough), from the top of the pool downwards (blocks grow from the bottom), skipping a leased block whole,
  so the two kinds of lease rarely meet and a scan never walks through a block address by address. A single lease
  is a batch of one with `single` set: it answers OK or EXISTING with the one lease, as a single lease always did.
  KEYS:
    clusters             KEY.objects('Cluster')
    addressLeases        KEY.objects('AddressLease')
    addressMeta          KEY.addressMeta
    poolMeta             KEY.poolMeta
    poolOwners           KEY.poolOwners(pool)
    poolAddresses        KEY.poolAddresses(pool)
    poolAddressBlocks    KEY.poolAddressBlocks(pool)
    poolBlocks           KEY.poolBlocks(pool)
    poolCursor           KEY.poolCursor(pool)
    poolReserved         KEY.poolReserved(pool): the offsets ReservedIPs hold in it, as of its field `#`
    reservedGen          KEY.reservedGen
    rev                  KEY.rev
    events               KEY.events
    blocks               KEY.objects('Block') — read by holders.lua
    @holderIndex         includes/holders.lua
    idem                 KEY.idempotency(scoped key); untouched without an Idempotency-Key
  ARGV: fingerprint ('' = no Idempotency-Key), idempotencyTtlMs, pool, cluster, nowIso, single ('1' | ''), n, owners...
  The offsets ReservedIPs hold in the pool (poolReserved) are skipped like a leased block. They are read here, in
  the script, so a lease is one call: when they were computed before the last ReservedIP write or pool delete
  (their `#` is not reservedGen), or never (a pool created since, a store from before them), nothing is written and
  the answer is NORESERVED: the caller fills them (fill-reserved.lua) and calls again.
  Answers OK <rev> <json per owner, in order>... (single: OK <json> for a new lease, EXISTING <json> for the one
  the owner holds) | NOPOOL | NOCLUSTER | OWNED <owner> | EXHAUSTED <free found> | NORESERVED
]]
--@include common
--@include ip-math
--@include holders
--@include idem-open
local pool, cluster, nowIso, single, n = ARGV[3], ARGV[4], ARGV[5], ARGV[6] == '1', tonumber(ARGV[7])
local m = poolmeta(pool)
if not m then return {'NOPOOL'} end
if redis.call('HEXISTS', K.clusters, cluster) == 0 then return {'NOCLUSTER'} end
local po, pa, pb = K.poolOwners, K.poolAddresses, K.poolBlocks
local result, first, need = {}, {}, {}
for i = 1, n do
  local owner = ARGV[7 + i]
  local have = redis.call('HGET', po, owner)
  if have then
    local json = redis.call('HGET', K.addressLeases, have)
    if cjson.decode(json).cluster ~= cluster then return {'OWNED', owner} end
    result[i] = json
  elseif not first[owner] then
    first[owner] = i
    need[#need + 1] = i
  end
end
if single and #need == 0 then return {'EXISTING', result[1]} end
local lo, hi = 0, m.naddr - 1
if m.edges == 1 then lo, hi = 1, m.naddr - 2 end
local span = hi - lo + 1
local per = 2 ^ (m.bits - m.bs)
local leased = redis.call('HLEN', pa)
if leased + #need > span then return {'EXHAUSTED', tostring(math.max(0, span - leased))} end
local ranges, filled = {}, nil
do
  local h = redis.call('HGETALL', K.poolReserved)
  for j = 1, #h, 2 do
    if h[j] == '#' then filled = h[j + 1]
    else
      for a, z in string.gmatch(h[j + 1], '(%d+) (%d+)') do ranges[#ranges + 1] = {tonumber(a), tonumber(z)} end
    end
  end
end
if filled ~= (redis.call('GET', K.reservedGen) or '0') then return {'NORESERVED'} end
local nres = #ranges
-- The first offset of the reserved range holding idx, or nil (an egress IP must never be a router's or a VIP's).
local function reservedfrom(idx)
  for r = 1, nres do
    if idx >= ranges[r][1] and idx <= ranges[r][2] then return ranges[r][1] end
  end
  return nil
end
local cur = tonumber(redis.call('HGET', K.poolCursor, 'a') or '0')
local found = {}
local pos, probes = 0, 0
while #found < #need and pos < span and probes < MAX_PROBES + #need do
  probes = probes + 1
  local idx = hi - ((cur + pos) % span)
  local b = math.floor(idx / per)
  local rf = nres > 0 and reservedfrom(idx) or nil
  if redis.call('HEXISTS', pb, b) == 1 then
    pos = pos + (idx - b * per) + 1
  elseif rf then
    pos = pos + (idx - rf) + 1
  else
    if redis.call('HEXISTS', pa, idx) == 0 then found[#found + 1] = idx end
    pos = pos + 1
  end
end
if #found < #need then return {'EXHAUSTED', tostring(#found)} end
if #need > 0 then redis.call('HSET', K.poolCursor, 'a', (cur + pos) % span) end
local cjpool, cjcluster = cjson.encode(pool), cjson.encode(cluster)
local rev
for k, i in ipairs(need) do
  local idx, owner = found[k], ARGV[7 + i]
  local g = copy(m.groups)
  addgroups(g, idx, 0)
  local ip = fmtip(g)
  rev = nextrev()
  local json = '{"resourceVersion":"' .. rev .. '","ip":"' .. ip .. '","pool":' .. cjpool ..
    ',"owner":' .. cjson.encode(owner) .. ',"cluster":' .. cjcluster .. ',"createdAt":"' .. nowIso .. '"}'
  redis.call('HSET', pa, idx, ip)
  redis.call('HINCRBY', K.poolAddressBlocks, math.floor(idx / per), 1)
  redis.call('HSET', po, owner, ip)
  redis.call('HSET', K.addressMeta, ip, pool .. '|' .. idx .. '|' .. owner)
  redis.call('HSET', K.addressLeases, ip, json)
  holdAdd('owner', cluster, owner, ip, leased + k > 1)
  emit('AddressLease', 'ADDED', json, rev)
  result[i] = json
end
if single then return {'OK', result[1]} end
local out = {'OK', tostring(rev or redis.call('GET', K.rev) or '0')}
for i = 1, n do out[#out + 1] = result[i] or result[first[ARGV[7 + i]]] end
return out
--@include idem-close

--[[
  lease-addresses: Leases one address per owner in one step, all or nothing, owner-idempotent: owners holding an address of the
  pool (for this cluster) get it back, an owner listed twice gets one address; an owner holding one for another
  cluster refuses the whole batch (OWNED). Free addresses are found first (nothing is written if there are not
  enough), scanning like LEASE_ADDRESS. ARGV: P, pool, cluster, nowIso, n, owners...
  Answers OK <rev> <json per owner, in order>... | NOPOOL | NOCLUSTER | OWNED <owner> | EXHAUSTED <free found>

  keys: 0 (every key is ARGV[1] .. a family of broker/store/keys.ts)
]]
--@include prelude
--@include ip-math
--@include holders
--@include idem-open
local pool, cluster, nowIso, n = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local m = poolmeta(pool)
if not m then return {'NOPOOL'} end
if redis.call('HEXISTS', P .. 'o:Cluster', cluster) == 0 then return {'NOCLUSTER'} end
local po, pa, pab, pb = P .. 'po:' .. pool, P .. 'pa:' .. pool, P .. 'pab:' .. pool, P .. 'pb:' .. pool
local result, first, need = {}, {}, {}
for i = 1, n do
  local owner = ARGV[5 + i]
  local have = redis.call('HGET', po, owner)
  if have then
    local json = redis.call('HGET', P .. 'o:AddressLease', have)
    if cjson.decode(json).cluster ~= cluster then return {'OWNED', owner} end
    result[i] = json
  elseif not first[owner] then
    first[owner] = i
    need[#need + 1] = i
  end
end
local lo, hi = 0, m.naddr - 1
if m.edges == 1 then lo, hi = 1, m.naddr - 2 end
local span = hi - lo + 1
local per = 2 ^ (m.bits - m.bs)
local leased = redis.call('HLEN', pa)
if leased + #need > span then return {'EXHAUSTED', tostring(math.max(0, span - leased))} end
local cur = tonumber(redis.call('HGET', P .. 'cur:' .. pool, 'a') or '0')
local found = {}
local pos, probes = 0, 0
while #found < #need and pos < span and probes < MAX_PROBES + #need do
  probes = probes + 1
  local idx = hi - ((cur + pos) % span)
  local b = math.floor(idx / per)
  if redis.call('HEXISTS', pb, b) == 1 then
    pos = pos + (idx - b * per) + 1
  else
    if redis.call('HEXISTS', pa, idx) == 0 then found[#found + 1] = idx end
    pos = pos + 1
  end
end
if #found < #need then return {'EXHAUSTED', tostring(#found)} end
if #need > 0 then redis.call('HSET', P .. 'cur:' .. pool, 'a', (cur + pos) % span) end
local cjpool, cjcluster = cjson.encode(pool), cjson.encode(cluster)
for k, i in ipairs(need) do
  local idx, owner = found[k], ARGV[5 + i]
  local g = copy(m.groups)
  addgroups(g, idx, 0)
  local ip = fmtip(g)
  local rev = nextrev()
  local json = '{"resourceVersion":"' .. rev .. '","ip":"' .. ip .. '","pool":' .. cjpool ..
    ',"owner":' .. cjson.encode(owner) .. ',"cluster":' .. cjcluster .. ',"createdAt":"' .. nowIso .. '"}'
  redis.call('HSET', pa, idx, ip)
  redis.call('HINCRBY', pab, math.floor(idx / per), 1)
  redis.call('HSET', po, owner, ip)
  redis.call('HSET', P .. 'am', ip, pool .. '|' .. idx .. '|' .. owner)
  redis.call('HSET', P .. 'o:AddressLease', ip, json)
  holdAdd('owner', cluster, owner, ip)
  emit('AddressLease', 'ADDED', json, rev)
  result[i] = json
end
local out = {'OK', redis.call('GET', P .. 'rev') or '0'}
for i = 1, n do out[#out + 1] = result[i] or result[first[ARGV[5 + i]]] end
return out
--@include idem-close

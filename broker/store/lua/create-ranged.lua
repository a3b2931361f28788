--[[
  create-ranged: Creates a subnet or pool: refuses overlap with its siblings, checks containment in the parent subnet.
  KEYS:
    objects              KEY.objects(kind)
    ranges               KEY.ranges('subnet' | 'pool'): the siblings' bounds
    subnetRanges         KEY.ranges('subnet'): the parent's bounds; untouched without a parent
    subnetPools          KEY.subnetPools(parentName); untouched without a parent
    poolMeta             KEY.poolMeta; untouched without a metaValue
    clusters             KEY.objects('Cluster'); untouched without an ownerCluster
    rev                  KEY.rev
    events               KEY.events
    idem                 KEY.idempotency(scoped key); untouched without an Idempotency-Key
  ARGV: fingerprint ('' = no Idempotency-Key), idempotencyTtlMs, kind, name, json, start, end, cidr,
        parentName ('' = none), metaValue ('' = none), ownerCluster ('' = none): refused with NOOWNER unless that
        cluster is registered, so a cluster removed a moment ago cannot leave a pool behind.
  Answers OK <json> | EXISTS <json> | NOOWNER | NOPARENT | OUTSIDE <parent cidr> | OVERLAP <sibling> <its cidr>
]]
--@include common
--@include idem-open
local kind, name = ARGV[3], ARGV[4]
local cur = redis.call('HGET', K.objects, name)
if cur then return {'EXISTS', cur} end
if ARGV[11] ~= '' and redis.call('HEXISTS', K.clusters, ARGV[11]) == 0 then return {'NOOWNER'} end
local s, e = ARGV[6], ARGV[7]
if ARGV[9] ~= '' then
  local r = redis.call('HGET', K.subnetRanges, ARGV[9])
  if not r then return {'NOPARENT'} end
  local f = split(r, ',')
  if #f[1] ~= #s or s < f[1] or e > f[2] then return {'OUTSIDE', f[3]} end
end
local all = redis.call('HGETALL', K.ranges)
for i = 1, #all, 2 do
  local f = split(all[i + 1], ',')
  if #f[1] == #s and s <= f[2] and f[1] <= e then return {'OVERLAP', all[i], f[3]} end
end
local rev = nextrev()
local json = stamp(ARGV[5], rev)
redis.call('HSET', K.objects, name, json)
redis.call('HSET', K.ranges, name, s .. ',' .. e .. ',' .. ARGV[8])
if ARGV[9] ~= '' then redis.call('SADD', K.subnetPools, name) end
if ARGV[10] ~= '' then redis.call('HSET', K.poolMeta, name, ARGV[10]) end
emit(kind, 'ADDED', json, rev)
return {'OK', json}
--@include idem-close

--[[
  create-ranged: Creates a subnet or pool: refuses overlap with its siblings, checks containment in the parent subnet.
  ARGV: P, kind, rangesKey, name, json, start, end, cidr, parentName ('' = none), metaValue ('' = none),
        ownerCluster (optional; '' = none): refused with NOOWNER unless that cluster is registered, so a cluster
        removed a moment ago cannot leave a pool behind.

  keys: 0 (every key is ARGV[1] .. a family of broker/store/keys.ts)
]]
--@include prelude
--@include idem-open
local kind, rk, name = ARGV[2], P .. ARGV[3], ARGV[4]
local key = P .. 'o:' .. kind
local cur = redis.call('HGET', key, name)
if cur then return {'EXISTS', cur} end
if ARGV[11] and ARGV[11] ~= '' and redis.call('HEXISTS', P .. 'o:Cluster', ARGV[11]) == 0 then return {'NOOWNER'} end
local s, e = ARGV[6], ARGV[7]
if ARGV[9] ~= '' then
  local r = redis.call('HGET', P .. 'ranges:subnet', ARGV[9])
  if not r then return {'NOPARENT'} end
  local f = split(r, ',')
  if #f[1] ~= #s or s < f[1] or e > f[2] then return {'OUTSIDE', f[3]} end
end
local all = redis.call('HGETALL', rk)
for i = 1, #all, 2 do
  local f = split(all[i + 1], ',')
  if #f[1] == #s and s <= f[2] and f[1] <= e then return {'OVERLAP', all[i], f[3]} end
end
local rev = nextrev()
local json = stamp(ARGV[5], rev)
redis.call('HSET', key, name, json)
redis.call('HSET', rk, name, s .. ',' .. e .. ',' .. ARGV[8])
if ARGV[9] ~= '' then redis.call('SADD', P .. 'sp:' .. ARGV[9], name) end
if ARGV[10] ~= '' then redis.call('HSET', P .. 'pm', name, ARGV[10]) end
emit(kind, 'ADDED', json, rev)
return {'OK', json}
--@include idem-close

--[[
  heartbeat: Records a heartbeat and, when given, the cluster's complete sets of live node names and live address owners.
  ARGV: P, cluster, nowMs, nNodes (-1 = not reported), nodes..., nOwners (-1 = not reported), owners...
  Keys per kind (node|owner) and cluster: `live:<kind>:<c>` (the reported set), `miss:<kind>:<c>` (name → ms it was
  first seen missing, written by the GC), field `<kind>:<c>` of `lr` (when the set was last reported). A reported
  set clears the missing marks of names in it; an unreported one makes the kind unknown again (no GC): an agent
  that stops sending the set must not have its newer nodes judged against a stale one.

  keys: 0 (every key is ARGV[1] .. a family of broker/store/keys.ts)
]]
--@include prelude
local c, now = ARGV[2], ARGV[3]
if redis.call('HEXISTS', P .. 'o:Cluster', c) == 0 then return {'NOTFOUND'} end
redis.call('HSET', P .. 'hb', c, now)
local i = 4
for _, kind in ipairs({'node', 'owner'}) do
  local n = tonumber(ARGV[i])
  i = i + 1
  local live, miss, field = P .. 'live:' .. kind .. ':' .. c, P .. 'miss:' .. kind .. ':' .. c, kind .. ':' .. c
  redis.call('DEL', live)
  if n < 0 then
    redis.call('DEL', miss)
    redis.call('HDEL', P .. 'lr', field)
  else
    local j = i
    while j < i + n do
      local upto = math.min(j + 999, i + n - 1)
      redis.call('SADD', live, unpack(ARGV, j, upto))
      j = upto + 1
    end
    redis.call('HSET', P .. 'lr', field, now)
    for _, who in ipairs(redis.call('HKEYS', miss)) do
      if redis.call('SISMEMBER', live, who) == 1 then redis.call('HDEL', miss, who) end
    end
    i = i + n
  end
end
return {'OK'}

--[[
  heartbeat: Records a heartbeat and, when given, the cluster's complete sets of live node names and live address owners.
  Keys per kind (node|owner) and cluster: `live:<kind>:<c>` (the reported set), field `<kind>:<c>` of `lr` (when the
  set was last reported), and the holder index of includes/holders.lua (`hold:`, `absent:`, `absentq`). A reported set
  moves the names that left it and still hold a lease into `absent` and takes the names in it out (their clocks
  stop); its work grows with the size of the set and of the change, never with the leases of other clusters. The
  first set after none compares the whole holder index of the cluster once. An unreported set makes the kind
  unknown again (no GC): an agent that stops sending the set must not have its newer nodes judged against a stale one.
  `miss:<kind>:<c>` is the family the GC used before the holder index; it is deleted on sight.
  KEYS:
    clusters             KEY.objects('Cluster')
    heartbeats           KEY.heartbeats
    lastReported         KEY.lastReported
    absentQueue          KEY.absentQueue
    liveOf*              KEY.liveOf — a prefix: the script appends `<kind>:<cluster>`
    liveNextOf*          KEY.liveNextOf — a prefix, as above
    absentOf*            KEY.absentOf — a prefix, as above
    holdersOf*           KEY.holdersOf — a prefix, as above
    legacyMissingOf*     KEY.legacyMissingOf — a prefix, as above
  ARGV: cluster, nowMs, nNodes (-1 = not reported), nodes..., nOwners (-1 = not reported), owners...
  Answers OK | NOTFOUND
]]
--@include holders
local c, now = ARGV[1], ARGV[2]
if redis.call('HEXISTS', K.clusters, c) == 0 then return {'NOTFOUND'} end
redis.call('HSET', K.heartbeats, c, now)
local i = 3
for _, kind in ipairs({'node', 'owner'}) do
  local n = tonumber(ARGV[i])
  i = i + 1
  local field = kind .. ':' .. c
  local live, absent, hold = K.liveOf .. field, K.absentOf .. field, K.holdersOf .. field
  redis.call('DEL', K.legacyMissingOf .. field)
  if n < 0 then
    redis.call('DEL', live, absent)
    redis.call('SREM', K.absentQueue, field)
    redis.call('HDEL', K.lastReported, field)
  else
    local fresh = K.liveNextOf .. field
    redis.call('DEL', fresh)
    local j = i
    while j < i + n do
      local upto = math.min(j + 999, i + n - 1)
      redis.call('SADD', fresh, unpack(ARGV, j, upto))
      j = upto + 1
    end
    if redis.call('HEXISTS', K.lastReported, field) == 1 then
      for _, who in ipairs(redis.call('SDIFF', fresh, live)) do unmarkAbsent(kind, c, who) end
      for _, who in ipairs(redis.call('SDIFF', live, fresh)) do
        if redis.call('HEXISTS', hold, who) == 1 then markAbsent(kind, c, who) end
      end
    else
      redis.call('DEL', absent)
      redis.call('SREM', K.absentQueue, field)
      for _, who in ipairs(redis.call('HKEYS', hold)) do
        if redis.call('SISMEMBER', fresh, who) == 0 then markAbsent(kind, c, who) end
      end
    end
    if n > 0 then redis.call('RENAME', fresh, live) else redis.call('DEL', live) end
    redis.call('HSET', K.lastReported, field, now)
    i = i + n
  end
end
return {'OK'}

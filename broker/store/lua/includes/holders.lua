--[[
  The holder index, kept in the same atomic step as every lease and release, so the owner GC never has to list
  leases: `hold:<kind>:<c>` maps each name of cluster c (kind node: node name → its block ids; kind owner: address
  owner → its ips; space-separated) to what it holds. `absent:<kind>:<c>` is the sorted set of names that hold
  something but are missing from the set c last reported (score: when the owner GC first saw them missing, +inf
  until it has), and `absentq` names the `<kind>:<c>` whose absent set is not empty. heartbeat.lua moves names in
  and out of `absent` as the reported sets change; owner-gc.lua walks `absentq` only. StatefulSet owners (`sts:…`)
  are never absent: no agent reports them and they must outlive their pods. Needs common.
  Keys: K.holdersOf, K.absentOf, K.absentQueue (holdDel); holdAdd also K.holdIndexDone, K.blocks, K.addressLeases,
  K.lastReported, K.liveOf. The *Of keys are prefixes to which `<kind>:<cluster>` is appended.
]]
local function markAbsent(kind, c, who)
  if kind == 'owner' and string.sub(who, 1, 4) == 'sts:' then return end
  redis.call('ZADD', K.absentOf .. kind .. ':' .. c, 'NX', '+inf', who)
  redis.call('SADD', K.absentQueue, kind .. ':' .. c)
end
local function unmarkAbsent(kind, c, who)
  local z = K.absentOf .. kind .. ':' .. c
  if redis.call('ZREM', z, who) == 1 and redis.call('EXISTS', z) == 0 then redis.call('SREM', K.absentQueue, kind .. ':' .. c) end
end
-- Records that `who` of cluster c holds `target` (called after the lease object is written); idempotent. A name
-- the cluster reports sets for but not among its live names (e.g. a node that leases before its cluster's next
-- heartbeat lists it) becomes absent at once. The first lease of an empty store marks the index complete
-- (`holdidx`): no lease of an older version can be missing from it, so the GC need not index anything.
local function holdAdd(kind, c, who, target)
  if redis.call('EXISTS', K.holdIndexDone) == 0 and redis.call('HLEN', K.blocks) + redis.call('HLEN', K.addressLeases) == 1 then
    redis.call('SET', K.holdIndexDone, 'empty')
  end
  local h = K.holdersOf .. kind .. ':' .. c
  local cur = redis.call('HGET', h, who)
  if cur then
    if string.find(' ' .. cur .. ' ', ' ' .. target .. ' ', 1, true) then return end
    redis.call('HSET', h, who, cur .. ' ' .. target)
  else
    redis.call('HSET', h, who, target)
  end
  if redis.call('HEXISTS', K.lastReported, kind .. ':' .. c) == 1 and redis.call('SISMEMBER', K.liveOf .. kind .. ':' .. c, who) == 0 then
    markAbsent(kind, c, who)
  end
end
-- Forgets that `who` of cluster c holds `target`; a name left holding nothing is no longer absent either.
local function holdDel(kind, c, who, target)
  local h = K.holdersOf .. kind .. ':' .. c
  local cur = redis.call('HGET', h, who)
  if not cur then return end
  local rest = {}
  for t in string.gmatch(cur, '%S+') do
    if t ~= target then rest[#rest + 1] = t end
  end
  if #rest > 0 then
    redis.call('HSET', h, who, table.concat(rest, ' '))
  else
    redis.call('HDEL', h, who)
    unmarkAbsent(kind, c, who)
  end
end

--[[
  The holder index, kept in the same atomic step as every lease and release, so the owner GC never has to list
  leases: `hold:<kind>:<c>` lists the names of cluster c that hold something (kind node: node names; kind owner:
  address owners; the value is '+'), and `held:<kind>:<c>:<name>` is the set of what that name holds (block ids /
  ips). A set per name keeps a lease and a release O(1) however much one name holds (a node leasing a whole pool:
  one string of everything it held, rewritten on every lease, made that O(n) per lease). A value other than '+' is
  the space-separated list an older version kept in the hash itself; it becomes a set the first time the name is
  touched (heldSet). `absent:<kind>:<c>` is the sorted set of names that hold something but are missing from the
  set c last reported (score: when the owner GC first saw them missing, +inf until it has), and `absentq` names the
  `<kind>:<c>` whose absent set is not empty. heartbeat.lua moves names in and out of `absent` as the reported sets
  change; owner-gc.lua walks `absentq` only. StatefulSet owners (`sts:…`) are never absent: no agent reports them
  and they must outlive their pods. Needs common. holdAdd also reads K.blocks and K.addressLeases (a script that leases
  names them itself).
  KEYS holderRelease: what holdDel and heldSet touch (BrokerKeys.holderRelease())
    holdersOf*           KEY.holdersOf — a prefix: holders.lua appends `<kind>:<cluster>`
    heldOf*              KEY.heldOf — a prefix: holders.lua appends `<kind>:<cluster>:<name>`
    absentOf*            KEY.absentOf — a prefix: holders.lua appends `<kind>:<cluster>`
    absentQueue          KEY.absentQueue
  KEYS holderIndex: what holdAdd touches besides the lease hashes (BrokerKeys.holderIndex())
    holdIndexDone        KEY.holdersIndexed
    lastReported         KEY.lastReported
    liveOf*              KEY.liveOf — a prefix: holders.lua appends `<kind>:<cluster>`
    @holderRelease
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
-- The key of the set of what `who` of cluster c holds, or nil when it holds nothing. An entry an older version
-- wrote (the list itself in the hash) is moved into the set first.
local function heldSet(kind, c, who)
  local h = K.holdersOf .. kind .. ':' .. c
  local cur = redis.call('HGET', h, who)
  if not cur then return nil end
  local s = K.heldOf .. kind .. ':' .. c .. ':' .. who
  if cur ~= '+' then
    for t in string.gmatch(cur, '%S+') do redis.call('SADD', s, t) end
    redis.call('HSET', h, who, '+')
  end
  return s
end
-- Records that `who` of cluster c holds `target` (called after the lease object is written); idempotent. A name
-- the cluster reports sets for but not among its live names (e.g. a node that leases before its cluster's next
-- heartbeat lists it) becomes absent at once. A name that held something already needs neither check below: it
-- was judged when it became a holder, and heartbeat.lua keeps judging every holder as the reported sets change.
-- The first lease of an empty store marks the index complete (`holdidx`): no lease of an older version can be
-- missing from it, so the GC need not index anything. That lease's name is a new holder, and the caller knows
-- when the store cannot be empty (`notEmpty`: the pool it leases from held a lease before), which spares the check.
local function holdAdd(kind, c, who, target, notEmpty)
  local h = K.holdersOf .. kind .. ':' .. c
  local s = K.heldOf .. kind .. ':' .. c .. ':' .. who
  local cur = redis.call('HGET', h, who)
  if cur == '+' then
    redis.call('SADD', s, target)
    return
  end
  if cur then
    heldSet(kind, c, who)
    if redis.call('SADD', s, target) == 0 then return end
  else
    if not notEmpty and redis.call('EXISTS', K.holdIndexDone) == 0 and redis.call('HLEN', K.blocks) + redis.call('HLEN', K.addressLeases) == 1 then
      redis.call('SET', K.holdIndexDone, 'empty')
    end
    redis.call('SADD', s, target)
    redis.call('HSET', h, who, '+')
  end
  if redis.call('HEXISTS', K.lastReported, kind .. ':' .. c) == 1 and redis.call('SISMEMBER', K.liveOf .. kind .. ':' .. c, who) == 0 then
    markAbsent(kind, c, who)
  end
end
-- Forgets that `who` of cluster c holds `target`; a name left holding nothing is no longer absent either.
local function holdDel(kind, c, who, target)
  local s = heldSet(kind, c, who)
  if not s then return end
  redis.call('SREM', s, target)
  if redis.call('EXISTS', s) == 0 then
    redis.call('HDEL', K.holdersOf .. kind .. ':' .. c, who)
    unmarkAbsent(kind, c, who)
  end
end

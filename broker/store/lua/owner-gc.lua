--[[
  owner-gc: One step of the owner GC. Walks only the names that hold a lease and are missing from their cluster's
  reported set (`absent:<kind>:<c>`, listed in `absentq`; kept by heartbeat.lua and includes/holders.lua): a name not
  seen missing before gets nowMs as the time it was first seen missing; a name missing for at least graceMs has every
  lease it holds returned (check and release are one step, so a name reported live again in between keeps its
  leases). Touches at most `budget` names per call, so one call never holds Redis long; the caller calls again while
  the answer says more. StatefulSet address leases (owner `sts:…`) are never absent (see holders.lua).
  KEYS:
    lastReported         KEY.lastReported
    liveOf*              KEY.liveOf — a prefix: the script appends `<kind>:<cluster>` (from absentq)
    @blockRelease        includes/release.lua; the script walks its holder keys (@holderRelease) too
    @addressRelease      includes/release.lua
  ARGV: nowMs, graceMs, budget
  Answers OK <blocks returned> <addresses returned> <more: 1 when the budget ran out, else 0>
]]
--@include common
--@include ip-math
--@include release
local now, grace, budget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local blocks, addresses, used = 0, 0, 0
for _, field in ipairs(redis.call('SMEMBERS', K.absentQueue)) do
  if used >= budget then break end
  local kind, c = string.match(field, '^(%a+):(.*)$')
  local absent = K.absentOf .. field
  if redis.call('HEXISTS', K.lastReported, field) == 0 then
    -- unknown again (or the cluster left): nothing is judged against a set it no longer reports
    redis.call('DEL', absent)
    redis.call('SREM', K.absentQueue, field)
  else
    for _, who in ipairs(redis.call('ZRANGEBYSCORE', absent, '+inf', '+inf', 'LIMIT', 0, budget - used)) do
      redis.call('ZADD', absent, 'XX', now, who)
      used = used + 1
    end
    local due = {}
    if used < budget then due = redis.call('ZRANGEBYSCORE', absent, '-inf', now - grace, 'LIMIT', 0, budget - used) end
    local live = K.liveOf .. field
    for _, who in ipairs(due) do
      used = used + 1
      local held = heldSet(kind, c, who)
      if not held or redis.call('SISMEMBER', live, who) == 1 then
        unmarkAbsent(kind, c, who)
      else
        for _, target in ipairs(redis.call('SMEMBERS', held)) do
          -- The lease must still be this name's in this cluster; an index entry that is not is dropped, not obeyed.
          local cur
          if kind == 'node' then cur = redis.call('HGET', K.blocks, target) else cur = redis.call('HGET', K.addressLeases, target) end
          local obj = cur and cjson.decode(cur)
          local mine = obj and obj.cluster == c and ((kind == 'node' and obj.node == who) or (kind == 'owner' and obj.owner == who))
          if not mine then
            holdDel(kind, c, who, target)
          elseif kind == 'node' then
            if releaseBlock(target, '')[1] == 'OK' then blocks = blocks + 1 end
          else
            if releaseAddress(target, '')[1] == 'OK' then addresses = addresses + 1 end
          end
        end
      end
    end
    if redis.call('EXISTS', absent) == 0 then redis.call('SREM', K.absentQueue, field) end
  end
end
local more = 0
if used >= budget then more = 1 end
return {'OK', tostring(blocks), tostring(addresses), tostring(more)}

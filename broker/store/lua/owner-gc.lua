--[[
  owner-gc: Owner GC of one lease: returns a block whose node (or an address whose owner) has been missing from its
  cluster's reported set for at least the grace; marks it missing (first time) otherwise. Check and release are
  one step, so a name reported live again in between keeps its lease. StatefulSet address leases (owner `sts:…`,
  bound to an ordinal by the node agents) are never owner-GC'd: they must outlive their pod, no agent reports them,
  and the node agents release them when the StatefulSet is gone.
  ARGV: P, kind (node|owner), target (block id | ip), nowMs, graceMs
  Answers UNKNOWN (cluster reports no set), GONE, LIVE, WAIT <firstMissingMs>, or the release's OK.

  keys: 0 (every key is ARGV[1] .. a family of broker/store/keys.ts)
]]
--@include prelude
--@include ip-math
--@include release
local kind, target, now, grace = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local cur
if kind == 'node' then cur = redis.call('HGET', P .. 'o:Block', target) else cur = redis.call('HGET', P .. 'o:AddressLease', target) end
if not cur then return {'GONE'} end
local obj = cjson.decode(cur)
local c, who = obj.cluster, obj.owner
if kind == 'node' then who = obj.node end
if kind == 'owner' and string.sub(who, 1, 4) == 'sts:' then return {'LIVE'} end
if redis.call('HEXISTS', P .. 'lr', kind .. ':' .. c) == 0 then return {'UNKNOWN'} end
local miss = P .. 'miss:' .. kind .. ':' .. c
if redis.call('SISMEMBER', P .. 'live:' .. kind .. ':' .. c, who) == 1 then
  redis.call('HDEL', miss, who)
  return {'LIVE'}
end
redis.call('HSETNX', miss, who, now)
local first = tonumber(redis.call('HGET', miss, who))
if now - first < grace then return {'WAIT', tostring(first)} end
if kind == 'node' then return releaseBlock(target, '') end
return releaseAddress(target, '')

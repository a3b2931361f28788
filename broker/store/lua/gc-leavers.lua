--[[
  gc-leavers: One page of the gc job's pass over the leases of clusters that left: HSCAN of `count` entries of one
  lease hash from `cursor`, returning each lease whose cluster is one of the given ones (through release.lua, which
  checks the cluster again and keeps the pools, the holder index and the event log). The gc job calls it only while
  a cluster is due (gone longer than the grace, not yet passed over), page after page until the cursor is 0, so a
  run with nobody due reads no lease and one call holds Redis for a page only. Leases of a cluster that is gone are
  never added (leasing needs the Cluster object), so one full pass returns all of them.
  KEYS:
    @blockRelease        includes/release.lua
    @addressRelease      includes/release.lua
  ARGV: kind (Block | AddressLease), cursor, count, cluster...
  Answers OK <next cursor> <leases returned>
]]
--@include common
--@include ip-math
--@include release
local kind, count = ARGV[1], tonumber(ARGV[3])
local gone = {}
for i = 4, #ARGV do gone[ARGV[i]] = true end
local hash = K.blocks
if kind == 'AddressLease' then hash = K.addressLeases end
local page = redis.call('HSCAN', hash, ARGV[2], 'COUNT', count)
local flat, returned = page[2], 0
for i = 1, #flat, 2 do
  -- The objects are written by the lease scripts with `"cluster":` once and cluster ids need no escaping; a lease
  -- this misses is not returned, and release.lua refuses one that is not the cluster's.
  local c = string.match(flat[i + 1], '"cluster":"([^"]*)"')
  if c and gone[c] then
    local r
    if kind == 'Block' then r = releaseBlock(flat[i], c) else r = releaseAddress(flat[i], c) end
    if r[1] == 'OK' then returned = returned + 1 end
  end
end
return {'OK', page[1], tostring(returned)}

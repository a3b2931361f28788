--[[
  fill-reserved: Writes the offsets ReservedIPs hold in one pool (computed by the caller from a snapshot taken with
  reservedGen), for lease-addresses.lua; refused with STALE when a ReservedIP or pool write came since the snapshot
  (the caller takes a new one).
  KEYS:
    reservedGen          KEY.reservedGen
    poolReserved         KEY.poolReserved(pool)
  ARGV: gen (reservedGen of the snapshot, '0' when unset), then pairs: ReservedIP name, `first last first last …`
  Answers OK | STALE
]]
if (redis.call('GET', K.reservedGen) or '0') ~= ARGV[1] then return {'STALE'} end
redis.call('DEL', K.poolReserved)
redis.call('HSET', K.poolReserved, '#', ARGV[1], unpack(ARGV, 2))
return {'OK'}

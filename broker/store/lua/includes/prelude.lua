--[[
  For the scripts that still build every key from the prefix P in ARGV[1] and take no KEYS (`keys: 0`: owner-gc and
  heartbeat, until their rework): K holds the keys common.lua, ip-math.lua, release.lua and holders.lua use, built from P.
]]
local P = ARGV[1]
local K = {
  rev = P .. 'rev', events = P .. 'events', blocks = P .. 'o:Block', addressLeases = P .. 'o:AddressLease',
  poolMeta = P .. 'pm', addressMeta = P .. 'am', poolBlocksOf = P .. 'pb:', poolAddressesOf = P .. 'pa:',
  poolAddressBlocksOf = P .. 'pab:', poolOwnersOf = P .. 'po:',
  -- the holder index (holders.lua)
  holdIndexDone = P .. 'holdidx', lastReported = P .. 'lr', liveOf = P .. 'live:', holdersOf = P .. 'hold:',
  absentOf = P .. 'absent:', absentQueue = P .. 'absentq', clusters = P .. 'o:Cluster',
}
--@include common

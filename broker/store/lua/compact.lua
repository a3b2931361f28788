--[[
  compact: Trims the event log to revisions > keepAfter and records the compaction point. ARGV: P, keepAfterRev

  keys: 0 (every key is ARGV[1] .. a family of broker/store/keys.ts)
]]
--@include prelude
local upto = tonumber(ARGV[2])
local was = tonumber(redis.call('GET', P .. 'compacted') or '0')
if upto <= was then return was end
redis.call('XTRIM', P .. 'events', 'MINID', (upto + 1) .. '-0')
redis.call('SET', P .. 'compacted', upto)
return upto

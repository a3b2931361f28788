--[[
  compact: Trims the event log to revisions > keepAfter and records the compaction point.
  KEYS:
    compacted            KEY.compacted
    events               KEY.events
  ARGV: keepAfterRev
  Answers the compaction point (a number)
]]
local upto = tonumber(ARGV[1])
local was = tonumber(redis.call('GET', K.compacted) or '0')
if upto <= was then return was end
redis.call('XTRIM', K.events, 'MINID', (upto + 1) .. '-0')
redis.call('SET', K.compacted, upto)
return upto

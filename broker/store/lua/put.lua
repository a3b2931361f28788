--[[
  put: Generic create/update/upsert with compare-and-swap.
  ARGV: P, kind, name, mode (create|update|upsert), json (with placeholder rv), expectedRv ('' = any),
        refKey ('' = none), refField: the write is refused with NOREF unless HEXISTS P..refKey refField,
        keepCreated ('1': json's second member is `"createdAt":"…"` and a replaced object keeps its own).

  keys: 0 (every key is ARGV[1] .. a family of broker/store/keys.ts)
]]
--@include prelude
--@include idem-open
local key = P .. 'o:' .. ARGV[2]
local cur = redis.call('HGET', key, ARGV[3])
local mode = ARGV[4]
if mode == 'create' and cur then return {'EXISTS', cur} end
if mode == 'update' and not cur then return {'NOTFOUND'} end
if ARGV[6] ~= '' then
  if not cur then return {'NOTFOUND'} end
  if rvOf(cur) ~= ARGV[6] then return {'STALE', cur} end
end
if ARGV[7] ~= '' and redis.call('HEXISTS', P .. ARGV[7], ARGV[8]) == 0 then return {'NOREF'} end
local rev = nextrev()
local json = stamp(ARGV[5], rev)
if ARGV[9] == '1' and cur then
  local was = string.match(cur, '^{"resourceVersion":"%d*","createdAt":"([^"]*)"')
  local rest = string.match(json, '^{"resourceVersion":"%d*","createdAt":"[^"]*"(.*)$')
  if was and rest then json = '{"resourceVersion":"' .. rev .. '","createdAt":"' .. was .. '"' .. rest end
end
redis.call('HSET', key, ARGV[3], json)
local typ = 'ADDED'
if cur then typ = 'MODIFIED' end
emit(ARGV[2], typ, json, rev)
return {'OK', json}
--@include idem-close

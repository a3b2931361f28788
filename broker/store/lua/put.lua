--[[
  put: Generic create/update/upsert with compare-and-swap.
  KEYS:
    objects              KEY.objects(kind)
    ref                  the hash the write refers to (e.g. KEY.objects('Cluster')); untouched when refField is ''
    rev                  KEY.rev
    events               KEY.events
    bump                 KEY.reservedGen, INCRed with a ReservedIP write (pools' reserved offsets are then stale); untouched unless bump is '1'
    idem                 KEY.idempotency(scoped key); untouched without an Idempotency-Key
  ARGV: fingerprint ('' = no Idempotency-Key), idempotencyTtlMs, kind, name, mode (create|update|upsert),
        json (with placeholder rv), expectedRv ('' = any), refField ('' = none): the write is refused with NOREF
        unless HEXISTS ref refField, keepCreated ('1': json's second member is `"createdAt":"…"` and a replaced
        object keeps its own), bump ('1' | '')
  Answers OK <json> | EXISTS <json> | NOTFOUND | STALE <json> | NOREF
]]
--@include common
--@include idem-open
local kind, name, mode = ARGV[3], ARGV[4], ARGV[5]
local cur = redis.call('HGET', K.objects, name)
if mode == 'create' and cur then return {'EXISTS', cur} end
if mode == 'update' and not cur then return {'NOTFOUND'} end
if ARGV[7] ~= '' then
  if not cur then return {'NOTFOUND'} end
  if rvOf(cur) ~= ARGV[7] then return {'STALE', cur} end
end
if ARGV[8] ~= '' and redis.call('HEXISTS', K.ref, ARGV[8]) == 0 then return {'NOREF'} end
local rev = nextrev()
local json = stamp(ARGV[6], rev)
if ARGV[9] == '1' and cur then
  local was = string.match(cur, '^{"resourceVersion":"%d*","createdAt":"([^"]*)"')
  local rest = string.match(json, '^{"resourceVersion":"%d*","createdAt":"[^"]*"(.*)$')
  if was and rest then json = '{"resourceVersion":"' .. rev .. '","createdAt":"' .. was .. '"' .. rest end
end
redis.call('HSET', K.objects, name, json)
if ARGV[10] == '1' then redis.call('INCR', K.bump) end
local typ = 'ADDED'
if cur then typ = 'MODIFIED' end
emit(kind, typ, json, rev)
return {'OK', json}
--@include idem-close

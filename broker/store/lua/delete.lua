--[[
  delete: Delete with CAS, guards and cleanup.
  KEYS:
    objects              KEY.objects(kind)
    rev                  KEY.rev
    events               KEY.events
    idem                 KEY.idempotency(scoped key); untouched without an Idempotency-Key
    ...more              nguards guard keys (one that exists refuses the delete with INUSE <its name>), then the
                         keys of the cleanup steps
  ARGV: fingerprint ('' = no Idempotency-Key), idempotencyTtlMs, kind, name, expectedRv, nowMs, nguards, then one
        pair (op, field) per cleanup key, in order, with op in hdel|srem|del|hsetnow|incr (hsetnow: HSET key field nowMs)
  Answers OK <json> | NOTFOUND | STALE <json> | INUSE <guard key>
]]
--@include common
--@include idem-open
local kind, name = ARGV[3], ARGV[4]
local cur = redis.call('HGET', K.objects, name)
if not cur then return {'NOTFOUND'} end
if ARGV[5] ~= '' and rvOf(cur) ~= ARGV[5] then return {'STALE', cur} end
local ng = tonumber(ARGV[7])
for i = 1, ng do
  if redis.call('EXISTS', KEYS[4 + i]) == 1 then return {'INUSE', KEYS[4 + i]} end
end
local i = 8
for j = 5 + ng, #KEYS do
  local op, k, f = ARGV[i], KEYS[j], ARGV[i + 1]
  if op == 'hdel' then redis.call('HDEL', k, f)
  elseif op == 'srem' then redis.call('SREM', k, f)
  elseif op == 'del' then redis.call('DEL', k)
  elseif op == 'hsetnow' then redis.call('HSET', k, f, ARGV[6])
  elseif op == 'incr' then redis.call('INCR', k) end
  i = i + 2
end
redis.call('HDEL', K.objects, name)
local rev = nextrev()
local json = stamp(cur, rev)
emit(kind, 'DELETED', json, rev)
return {'OK', json}
--@include idem-close

--[[
  delete: Delete with CAS, guards and cleanup.
  ARGV: P, kind, name, expectedRv, now, nguards, guardKeys..., then triples (op, key, field) with
  op in hdel|srem|del|hsetnow. A guard key that exists refuses the delete with INUSE.

  keys: 0 (every key is ARGV[1] .. a family of broker/store/keys.ts)
]]
--@include prelude
--@include idem-open
local key = P .. 'o:' .. ARGV[2]
local cur = redis.call('HGET', key, ARGV[3])
if not cur then return {'NOTFOUND'} end
if ARGV[4] ~= '' and rvOf(cur) ~= ARGV[4] then return {'STALE', cur} end
local ng = tonumber(ARGV[6])
for i = 1, ng do
  if redis.call('EXISTS', P .. ARGV[6 + i]) == 1 then return {'INUSE', ARGV[6 + i]} end
end
local i = 7 + ng
while i + 2 <= #ARGV do
  local op, k, f = ARGV[i], P .. ARGV[i + 1], ARGV[i + 2]
  if op == 'hdel' then redis.call('HDEL', k, f)
  elseif op == 'srem' then redis.call('SREM', k, f)
  elseif op == 'del' then redis.call('DEL', k)
  elseif op == 'hsetnow' then redis.call('HSET', k, f, ARGV[5]) end
  i = i + 3
end
redis.call('HDEL', key, ARGV[3])
local rev = nextrev()
local json = stamp(cur, rev)
emit(ARGV[2], 'DELETED', json, rev)
return {'OK', json}
--@include idem-close

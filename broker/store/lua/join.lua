--[[
  join: Registers a NEW cluster with a join token: token valid (exists, not expired, uses left), id not registered, no
  CIDR overlap with another cluster; then consumes one use and stores the cluster, its ranges and its credential
  hash. A join token never touches a registered cluster: re-joining proves identity with the cluster's current
  credential (checked in BrokerStore.rejoinCluster, writes nothing) and a lost credential is replaced by the admin
  (ROTATE). Knowing a cluster's public id and CIDRs is not enough to take it over.
  ARGV: P, tokenId, tokenSecretHash, nowMs, clusterId, json, cidrKey (sorted CIDR list), credHash,
        ranges ("s,e,cidr" entries joined by ';'), credential (echoed in the reply, so a replayed reply carries it)
  Answers OK <json> <credential> | TOKEN <reason> | REGISTERED <json> <registered cidrKey> | OVERLAP <cluster> <pairs>

  keys: 0 (every key is ARGV[1] .. a family of broker/store/keys.ts)
]]
--@include prelude
--@include idem-open
local tk = P .. 'tok:' .. ARGV[2]
local t = redis.call('HMGET', tk, 'hash', 'expiresAt', 'uses', 'used')
if not t[1] or t[1] ~= ARGV[3] then return {'TOKEN', 'unknown or revoked'} end
if tonumber(t[2]) <= tonumber(ARGV[4]) then return {'TOKEN', 'expired'} end
if tonumber(t[4]) >= tonumber(t[3]) then return {'TOKEN', 'used up'} end
local id = ARGV[5]
local key = P .. 'o:Cluster'
local cur = redis.call('HGET', key, id)
if cur then return {'REGISTERED', cur, redis.call('HGET', P .. 'cidrs', id) or ''} end
local mine = {}
for _, entry in ipairs(split(ARGV[9], ';')) do
  if entry ~= '' then mine[#mine + 1] = split(entry, ',') end
end
local all = redis.call('HGETALL', P .. 'ranges:cluster')
for i = 1, #all, 2 do
  local hits = {}
  for _, entry in ipairs(split(all[i + 1], ';')) do
    if entry ~= '' then
      local o = split(entry, ',')
      for _, m in ipairs(mine) do
        if #m[1] == #o[1] and m[1] <= o[2] and o[1] <= m[2] then hits[#hits + 1] = m[3] .. '=' .. o[3] end
      end
    end
  end
  if #hits > 0 then return {'OVERLAP', all[i], table.concat(hits, ';')} end
end
redis.call('HINCRBY', tk, 'used', 1)
local rev = nextrev()
local json = stamp(ARGV[6], rev)
redis.call('HSET', key, id, json)
redis.call('HSET', P .. 'cidrs', id, ARGV[7])
redis.call('HSET', P .. 'ranges:cluster', id, ARGV[9])
redis.call('HSET', P .. 'creds', id, ARGV[8])
redis.call('HSET', P .. 'joinedvia', id, ARGV[2])
redis.call('HSET', P .. 'hb', id, ARGV[4])
redis.call('HDEL', P .. 'left', id)
emit('Cluster', 'ADDED', json, rev)
return {'OK', json, ARGV[10]}
--@include idem-close

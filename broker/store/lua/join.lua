--[[
  join: Registers a NEW cluster with a join token: token valid (exists, not expired, uses left), id not registered, no
  CIDR overlap with another cluster; then consumes one use and stores the cluster, its ranges and its credential
  hash. A join token never touches a registered cluster: re-joining proves identity with the cluster's current
  credential (checked in BrokerStore.rejoinCluster, writes nothing) and a lost credential is replaced by the admin
  (ROTATE). Knowing a cluster's public id and CIDRs is not enough to take it over.
  KEYS:
    token                KEY.token(tokenId)
    clusters             KEY.objects('Cluster')
    cidrs                KEY.cidrs
    clusterRanges        KEY.ranges('cluster')
    creds                KEY.creds
    joinedVia            KEY.joinedVia
    heartbeats           KEY.heartbeats
    left                 KEY.left
    rev                  KEY.rev
    events               KEY.events
    idem                 KEY.idempotency(scoped key); untouched without an Idempotency-Key
  ARGV: fingerprint ('' = no Idempotency-Key), idempotencyTtlMs, tokenId, tokenSecretHash, nowMs, clusterId, json,
        cidrKey (sorted CIDR list), credHash, ranges ("s,e,cidr" entries joined by ';'), credential (echoed in the
        reply, so a replayed reply carries it)
  Answers OK <json> <credential> | TOKEN <reason> | REGISTERED <json> <registered cidrKey> | OVERLAP <cluster> <pairs>
]]
--@include common
--@include idem-open
local t = redis.call('HMGET', K.token, 'hash', 'expiresAt', 'uses', 'used')
if not t[1] or t[1] ~= ARGV[4] then return {'TOKEN', 'unknown or revoked'} end
if tonumber(t[2]) <= tonumber(ARGV[5]) then return {'TOKEN', 'expired'} end
if tonumber(t[4]) >= tonumber(t[3]) then return {'TOKEN', 'used up'} end
local id = ARGV[6]
local cur = redis.call('HGET', K.clusters, id)
if cur then return {'REGISTERED', cur, redis.call('HGET', K.cidrs, id) or ''} end
local mine = {}
for _, entry in ipairs(split(ARGV[10], ';')) do
  if entry ~= '' then mine[#mine + 1] = split(entry, ',') end
end
local all = redis.call('HGETALL', K.clusterRanges)
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
redis.call('HINCRBY', K.token, 'used', 1)
local rev = nextrev()
local json = stamp(ARGV[7], rev)
redis.call('HSET', K.clusters, id, json)
redis.call('HSET', K.cidrs, id, ARGV[8])
redis.call('HSET', K.clusterRanges, id, ARGV[10])
redis.call('HSET', K.creds, id, ARGV[9])
redis.call('HSET', K.joinedVia, id, ARGV[3])
redis.call('HSET', K.heartbeats, id, ARGV[5])
redis.call('HDEL', K.left, id)
emit('Cluster', 'ADDED', json, rev)
return {'OK', json, ARGV[11]}
--@include idem-close

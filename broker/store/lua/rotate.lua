--[[
  rotate: Replaces a registered cluster's credential hash (the old credential stops working at once).
  KEYS:
    clusters             KEY.objects('Cluster')
    creds                KEY.creds
    idem                 KEY.idempotency(scoped key); untouched without an Idempotency-Key
  ARGV: fingerprint ('' = no Idempotency-Key), idempotencyTtlMs, clusterId, credHash, credential (echoed)
  Answers OK <json> <credential> | NOTFOUND
]]
--@include common
--@include idem-open
local cur = redis.call('HGET', K.clusters, ARGV[3])
if not cur then return {'NOTFOUND'} end
redis.call('HSET', K.creds, ARGV[3], ARGV[4])
return {'OK', cur, ARGV[5]}
--@include idem-close

--[[
  rotate: Replaces a registered cluster's credential hash (the old credential stops working at once).
  ARGV: P, clusterId, credHash, credential (echoed). Answers OK <json> <credential> | NOTFOUND

  keys: 0 (every key is ARGV[1] .. a family of broker/store/keys.ts)
]]
--@include prelude
--@include idem-open
local cur = redis.call('HGET', P .. 'o:Cluster', ARGV[2])
if not cur then return {'NOTFOUND'} end
redis.call('HSET', P .. 'creds', ARGV[2], ARGV[3])
return {'OK', cur, ARGV[4]}
--@include idem-close

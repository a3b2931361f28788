--[[
  release-address: Returns an address.
  KEYS:
    @addressRelease      includes/release.lua
    idem                 KEY.idempotency(scoped key); untouched without an Idempotency-Key
  ARGV: fingerprint ('' = no Idempotency-Key), idempotencyTtlMs, ip, requiredCluster ('' = any)
  Answers OK <json> | NOTFOUND | FORBIDDEN <owner cluster>
]]
--@include common
--@include ip-math
--@include release
--@include idem-open
return releaseAddress(ARGV[3], ARGV[4])
--@include idem-close

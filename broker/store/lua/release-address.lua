--[[
  release-address: Returns an address.
  KEYS:
    addressLeases        KEY.objects('AddressLease')
    addressMeta          KEY.addressMeta
    poolMeta             KEY.poolMeta
    poolAddressesOf*     KEY.poolAddresses('') — a prefix: the pool of the address (from its addressMeta) is appended
    poolAddressBlocksOf* KEY.poolAddressBlocks('') — a prefix, as above
    poolOwnersOf*        KEY.poolOwners('') — a prefix, as above
    rev                  KEY.rev
    events               KEY.events
    holdersOf*           KEY.holdersOf — a prefix: holders.lua appends `<kind>:<cluster>` of the released lease
    heldOf*              KEY.heldOf — a prefix: holders.lua appends `<kind>:<cluster>:<name>`
    absentOf*            KEY.absentOf — a prefix, as above
    absentQueue          KEY.absentQueue
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

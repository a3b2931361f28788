--[[
  release-block: Returns a block.
  KEYS:
    blocks               KEY.objects('Block')
    poolBlocksOf*        KEY.poolBlocks('') — a prefix: the pool of the block (from its id) is appended
    rev                  KEY.rev
    events               KEY.events
    holdersOf*           KEY.holdersOf — a prefix: holders.lua appends `<kind>:<cluster>` of the released lease
    heldOf*              KEY.heldOf — a prefix: holders.lua appends `<kind>:<cluster>:<name>`
    absentOf*            KEY.absentOf — a prefix, as above
    absentQueue          KEY.absentQueue
    idem                 KEY.idempotency(scoped key); untouched without an Idempotency-Key
  ARGV: fingerprint ('' = no Idempotency-Key), idempotencyTtlMs, id, requiredCluster ('' = any)
  Answers OK <json> | NOTFOUND | FORBIDDEN <owner cluster>
]]
--@include common
--@include ip-math
--@include release
--@include idem-open
return releaseBlock(ARGV[3], ARGV[4])
--@include idem-close

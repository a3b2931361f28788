--[[
  replay: The reply recorded under an Idempotency-Key, for writes that read before their script runs (a delete or
  an update whose own write would answer differently when retried). Reads only.
  KEYS:
    idem                 KEY.idempotency(scoped key)
  ARGV: fingerprint, idempotencyTtlMs (unused)
  Answers the recorded reply | IDEMMISMATCH | NONE (nothing recorded)
]]
--@include idem-record
local recorded = idemRecorded()
if recorded then return recorded end
return {'NONE'}

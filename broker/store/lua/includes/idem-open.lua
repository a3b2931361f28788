--[[
  Opens an idempotent body (closed by idem-close): a recorded Idempotency-Key answers its recorded reply
  (IDEMMISMATCH for another request) without running; else the body runs as main().
]]
--@include idem-record
do
  local recorded = idemRecorded()
  if recorded then return recorded end
end
local function main()

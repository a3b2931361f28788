--[[
  Opens an idempotent body (closed by idem-close): a recorded Idempotency-Key answers its recorded reply
  (IDEMMISMATCH for another request) without running; else the body runs as main().
]]
local idemk = nil
if IK then
  idemk = P .. 'idem:' .. IK
  local seen = redis.call('HMGET', idemk, 'fp', 'reply')
  if seen[1] then
    if seen[1] ~= IF then return {'IDEMMISMATCH'} end
    return cjson.decode(seen[2])
  end
end
local function main()

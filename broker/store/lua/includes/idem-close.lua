--[[
  Closes idem-open: records the reply of a write that happened (OK / EXISTING) under the key, in the same
  atomic step as the write, with its TTL.
]]
end
local reply = main()
if idemk and (reply[1] == 'OK' or reply[1] == 'EXISTING') then
  redis.call('HSET', idemk, 'fp', IF, 'reply', cjson.encode(reply))
  redis.call('PEXPIRE', idemk, ITTL)
end
return reply

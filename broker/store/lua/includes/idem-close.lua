--[[
  Closes idem-open: records the reply of a write that happened (OK / EXISTING) under K.idem, in the same atomic
  step as the write, with its TTL.
]]
end
local reply = main()
if IF ~= '' and (reply[1] == 'OK' or reply[1] == 'EXISTING') then idemRecord(reply) end
return reply

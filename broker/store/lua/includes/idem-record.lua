--[[
  The record of an Idempotency-Key. ARGV[1] is the request's fingerprint ('' when it has no Idempotency-Key),
  ARGV[2] how long its answer is kept (ms); K.idem the record: one string, `<fingerprint>\n` then each element of
  the recorded reply as `<bytes>:<element>` (one SET with its expiry, no JSON encoding, no second call).
]]
local IF, ITTL = ARGV[1], ARGV[2]
-- The recorded reply ({'IDEMMISMATCH'} when the key was used for another request), or nil.
local function idemRecorded()
  if IF == '' then return nil end
  local seen = redis.pcall('GET', K.idem)
  if type(seen) == 'table' and seen.err then
    -- A record kept as a hash {fp, reply (JSON)} by a broker from before this format, within its TTL.
    local h = redis.call('HMGET', K.idem, 'fp', 'reply')
    if h[1] ~= IF then return {'IDEMMISMATCH'} end
    return cjson.decode(h[2])
  end
  if not seen then return nil end
  local nl = string.find(seen, '\n', 1, true)
  if string.sub(seen, 1, nl - 1) ~= IF then return {'IDEMMISMATCH'} end
  local out, pos = {}, nl + 1
  while pos <= #seen do
    local colon = string.find(seen, ':', pos, true)
    local stop = colon + tonumber(string.sub(seen, pos, colon - 1))
    out[#out + 1] = string.sub(seen, colon + 1, stop)
    pos = stop + 1
  end
  return out
end
local function idemRecord(reply)
  local parts = {IF, '\n'}
  for _, v in ipairs(reply) do
    v = tostring(v)
    parts[#parts + 1] = #v .. ':' .. v
  end
  redis.call('SET', K.idem, table.concat(parts), 'PX', ITTL)
end

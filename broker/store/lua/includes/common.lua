--[[
  Shared by every broker script: resourceVersion stamping, the revision counter (K.rev), the event log (K.events)
  and string splitting. The keys come from the table K: the loader builds it from the script's KEYS (see
  script-loader.ts).
]]
local function rvOf(json) return string.match(json, '^{"resourceVersion":"(%d*)"') end
local function stamp(json, rev)
  local rest = string.match(json, '^{"resourceVersion":"[^"]*"(.*)$')
  return '{"resourceVersion":"' .. rev .. '"' .. rest
end
local function nextrev() return redis.call('INCR', K.rev) end
local function emit(kind, typ, json, rev)
  redis.call('XADD', K.events, rev .. '-0', 't', typ, 'k', kind, 'o', json)
end
local function split(s, sep)
  local out = {}
  for piece in string.gmatch(s .. sep, '([^' .. sep .. ']*)' .. sep) do out[#out + 1] = piece end
  return out
end

--[[
  Shared by every broker script: the key prefix P (and the Idempotency-Key parts IK, IF, ITTL) from ARGV[1],
  resourceVersion stamping, the revision counter, the event log and string splitting.
]]
local P, IK, IF, ITTL = ARGV[1], nil, nil, nil
do
  local p, k, f, t = string.match(ARGV[1], '^([^\n]*)\n([^\n]+)\n([^\n]+)\n(%d+)$')
  if p then P, IK, IF, ITTL = p, k, f, t end
end
local function rvOf(json) return string.match(json, '^{"resourceVersion":"(%d*)"') end
local function stamp(json, rev)
  local rest = string.match(json, '^{"resourceVersion":"[^"]*"(.*)$')
  return '{"resourceVersion":"' .. rev .. '"' .. rest
end
local function nextrev() return redis.call('INCR', P .. 'rev') end
local function emit(kind, typ, json, rev)
  redis.call('XADD', P .. 'events', rev .. '-0', 't', typ, 'k', kind, 'o', json)
end
local function split(s, sep)
  local out = {}
  for piece in string.gmatch(s .. sep, '([^' .. sep .. ']*)' .. sep) do out[#out + 1] = piece end
  return out
end

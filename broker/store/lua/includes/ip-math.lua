--[[
  Addresses as 16-bit groups (IPv4: 2, IPv6: 8): adding, formatting, a pool's geometry (K.poolMeta), MAX_PROBES.
]]
-- Most slots a lease script probes before answering EXHAUSTED; keeps one script call short.
local MAX_PROBES = 65536
-- Slots a lease script looks at from its cursor before it counts the pool's leases (see lease-blocks.lua).
local QUICK_PROBES = 8
local function addgroups(g, value, shift)
  local pos = #g - math.floor(shift / 16)
  local carry = value * (2 ^ (shift % 16))
  while carry > 0 and pos >= 1 do
    local t = g[pos] + carry
    g[pos] = t % 65536
    carry = math.floor(t / 65536)
    pos = pos - 1
  end
end
local function fmtip(g)
  if #g == 2 then
    return math.floor(g[1] / 256) .. '.' .. (g[1] % 256) .. '.' .. math.floor(g[2] / 256) .. '.' .. (g[2] % 256)
  end
  local bs, bl, cs, cl = 0, 0, 0, 0
  for i = 1, 8 do
    if g[i] == 0 then
      if cl == 0 then cs = i end
      cl = cl + 1
      if cl > bl then bs, bl = cs, cl end
    else cl = 0 end
  end
  local function hx(i) return string.format('%x', g[i]) end
  if bl < 2 then
    local parts = {}
    for i = 1, 8 do parts[i] = hx(i) end
    return table.concat(parts, ':')
  end
  local left, right = {}, {}
  for i = 1, bs - 1 do left[#left + 1] = hx(i) end
  for i = bs + bl, 8 do right[#right + 1] = hx(i) end
  return table.concat(left, ':') .. '::' .. table.concat(right, ':')
end
local function poolmeta(pool)
  local m = redis.call('HGET', K.poolMeta, pool)
  if not m then return nil end
  local f = split(m, '|')
  local g = {}
  for _, x in ipairs(split(f[2], ',')) do g[#g + 1] = tonumber(x) end
  return { fam = tonumber(f[1]), groups = g, prefix = tonumber(f[3]), bs = tonumber(f[4]),
           nblocks = tonumber(f[5]), naddr = tonumber(f[6]), edges = tonumber(f[7]), bits = (#g) * 16 }
end
local function copy(t) local c = {} for i, v in ipairs(t) do c[i] = v end return c end

/**
 * Lua scripts for every broker write. Each one bumps the global revision, changes state and appends the event
 * (stream id `<rev>-0`) in one atomic step, so the event log and the state always agree. ARGV[1] is the key
 * prefix; all keys share the `{…}` hash tag of the prefix so Redis Cluster keeps them in one slot.
 *
 * Idempotency: ARGV[1] may instead be `<prefix>\n<scoped key>\n<request fingerprint>\n<ttl ms>`. Scripts wrapped in
 * IDEM_OPEN/IDEM_CLOSE then answer a key they have seen with the reply they recorded for it (IDEMMISMATCH when the
 * fingerprint differs) without running, and record the reply of a successful write under `idem:<key>` in the same
 * atomic step as the write, so "written" and "recorded" can never disagree.
 *
 * Stored objects are JSON whose first member is `"resourceVersion":"<rev>"`; `stamp` rewrites just that member,
 * so scripts never need to decode and re-encode (cjson turns empty arrays into objects).
 */

const PRELUDE = `
local P, IK, IF, ITTL = ARGV[1], nil, nil, nil
do
  local p, k, f, t = string.match(ARGV[1], '^([^\\n]*)\\n([^\\n]+)\\n([^\\n]+)\\n(%d+)$')
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
`;

/** Opens an idempotent script body (closed by IDEM_CLOSE): replays a recorded reply, else runs the body as main(). */
const IDEM_OPEN = `
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
`;

/** Records the reply of a write that happened (OK / EXISTING) under the idempotency key, with its TTL. */
const IDEM_CLOSE = `
end
local reply = main()
if idemk and (reply[1] == 'OK' or reply[1] == 'EXISTING') then
  redis.call('HSET', idemk, 'fp', IF, 'reply', cjson.encode(reply))
  redis.call('PEXPIRE', idemk, ITTL)
end
return reply
`;

/** Adding to and formatting addresses held as 16-bit groups (IPv4: 2 groups, IPv6: 8). */
const IP_MATH = `
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
  local m = redis.call('HGET', P .. 'pm', pool)
  if not m then return nil end
  local f = split(m, '|')
  local g = {}
  for _, x in ipairs(split(f[2], ',')) do g[#g + 1] = tonumber(x) end
  return { fam = tonumber(f[1]), groups = g, prefix = tonumber(f[3]), bs = tonumber(f[4]),
           nblocks = tonumber(f[5]), naddr = tonumber(f[6]), edges = tonumber(f[7]), bits = (#g) * 16 }
end
local function copy(t) local c = {} for i, v in ipairs(t) do c[i] = v end return c end
`;

/**
 * Generic create/update/upsert with compare-and-swap.
 * ARGV: P, kind, name, mode (create|update|upsert), json (with placeholder rv), expectedRv ('' = any),
 *       refKey ('' = none), refField: the write is refused with NOREF unless HEXISTS P..refKey refField,
 *       keepCreated ('1': json's second member is `"createdAt":"…"` and a replaced object keeps its own).
 */
export const PUT = `${PRELUDE}${IDEM_OPEN}
local key = P .. 'o:' .. ARGV[2]
local cur = redis.call('HGET', key, ARGV[3])
local mode = ARGV[4]
if mode == 'create' and cur then return {'EXISTS', cur} end
if mode == 'update' and not cur then return {'NOTFOUND'} end
if ARGV[6] ~= '' then
  if not cur then return {'NOTFOUND'} end
  if rvOf(cur) ~= ARGV[6] then return {'STALE', cur} end
end
if ARGV[7] ~= '' and redis.call('HEXISTS', P .. ARGV[7], ARGV[8]) == 0 then return {'NOREF'} end
local rev = nextrev()
local json = stamp(ARGV[5], rev)
if ARGV[9] == '1' and cur then
  local was = string.match(cur, '^{"resourceVersion":"%d*","createdAt":"([^"]*)"')
  local rest = string.match(json, '^{"resourceVersion":"%d*","createdAt":"[^"]*"(.*)$')
  if was and rest then json = '{"resourceVersion":"' .. rev .. '","createdAt":"' .. was .. '"' .. rest end
end
redis.call('HSET', key, ARGV[3], json)
local typ = 'ADDED'
if cur then typ = 'MODIFIED' end
emit(ARGV[2], typ, json, rev)
return {'OK', json}
${IDEM_CLOSE}`;

/**
 * Delete with CAS, guards and cleanup.
 * ARGV: P, kind, name, expectedRv, now, nguards, guardKeys..., then triples (op, key, field) with
 * op in hdel|srem|del|hsetnow. A guard key that exists refuses the delete with INUSE.
 */
export const DELETE = `${PRELUDE}${IDEM_OPEN}
local key = P .. 'o:' .. ARGV[2]
local cur = redis.call('HGET', key, ARGV[3])
if not cur then return {'NOTFOUND'} end
if ARGV[4] ~= '' and rvOf(cur) ~= ARGV[4] then return {'STALE', cur} end
local ng = tonumber(ARGV[6])
for i = 1, ng do
  if redis.call('EXISTS', P .. ARGV[6 + i]) == 1 then return {'INUSE', ARGV[6 + i]} end
end
local i = 7 + ng
while i + 2 <= #ARGV do
  local op, k, f = ARGV[i], P .. ARGV[i + 1], ARGV[i + 2]
  if op == 'hdel' then redis.call('HDEL', k, f)
  elseif op == 'srem' then redis.call('SREM', k, f)
  elseif op == 'del' then redis.call('DEL', k)
  elseif op == 'hsetnow' then redis.call('HSET', k, f, ARGV[5]) end
  i = i + 3
end
redis.call('HDEL', key, ARGV[3])
local rev = nextrev()
local json = stamp(cur, rev)
emit(ARGV[2], 'DELETED', json, rev)
return {'OK', json}
${IDEM_CLOSE}`;

/**
 * Creates a subnet or pool: refuses overlap with its siblings, checks containment in the parent subnet.
 * ARGV: P, kind, rangesKey, name, json, start, end, cidr, parentName ('' = none), metaValue ('' = none),
 *       ownerCluster (optional; '' = none): refused with NOOWNER unless that cluster is registered, so a cluster
 *       removed a moment ago cannot leave a pool behind.
 */
export const CREATE_RANGED = `${PRELUDE}${IDEM_OPEN}
local kind, rk, name = ARGV[2], P .. ARGV[3], ARGV[4]
local key = P .. 'o:' .. kind
local cur = redis.call('HGET', key, name)
if cur then return {'EXISTS', cur} end
if ARGV[11] and ARGV[11] ~= '' and redis.call('HEXISTS', P .. 'o:Cluster', ARGV[11]) == 0 then return {'NOOWNER'} end
local s, e = ARGV[6], ARGV[7]
if ARGV[9] ~= '' then
  local r = redis.call('HGET', P .. 'ranges:subnet', ARGV[9])
  if not r then return {'NOPARENT'} end
  local f = split(r, ',')
  if #f[1] ~= #s or s < f[1] or e > f[2] then return {'OUTSIDE', f[3]} end
end
local all = redis.call('HGETALL', rk)
for i = 1, #all, 2 do
  local f = split(all[i + 1], ',')
  if #f[1] == #s and s <= f[2] and f[1] <= e then return {'OVERLAP', all[i], f[3]} end
end
local rev = nextrev()
local json = stamp(ARGV[5], rev)
redis.call('HSET', key, name, json)
redis.call('HSET', rk, name, s .. ',' .. e .. ',' .. ARGV[8])
if ARGV[9] ~= '' then redis.call('SADD', P .. 'sp:' .. ARGV[9], name) end
if ARGV[10] ~= '' then redis.call('HSET', P .. 'pm', name, ARGV[10]) end
emit(kind, 'ADDED', json, rev)
return {'OK', json}
${IDEM_CLOSE}`;

/**
 * Registers a NEW cluster with a join token: token valid (exists, not expired, uses left), id not registered, no
 * CIDR overlap with another cluster; then consumes one use and stores the cluster, its ranges and its credential
 * hash. A join token never touches a registered cluster: re-joining proves identity with the cluster's current
 * credential (checked in BrokerStore.rejoinCluster, writes nothing) and a lost credential is replaced by the admin
 * (ROTATE). Knowing a cluster's public id and CIDRs is not enough to take it over.
 * ARGV: P, tokenId, tokenSecretHash, nowMs, clusterId, json, cidrKey (sorted CIDR list), credHash,
 *       ranges ("s,e,cidr" entries joined by ';'), credential (echoed in the reply, so a replayed reply carries it)
 * Answers OK <json> <credential> | TOKEN <reason> | REGISTERED <json> <registered cidrKey> | OVERLAP <cluster> <pairs>
 */
export const JOIN = `${PRELUDE}${IDEM_OPEN}
local tk = P .. 'tok:' .. ARGV[2]
local t = redis.call('HMGET', tk, 'hash', 'expiresAt', 'uses', 'used')
if not t[1] or t[1] ~= ARGV[3] then return {'TOKEN', 'unknown or revoked'} end
if tonumber(t[2]) <= tonumber(ARGV[4]) then return {'TOKEN', 'expired'} end
if tonumber(t[4]) >= tonumber(t[3]) then return {'TOKEN', 'used up'} end
local id = ARGV[5]
local key = P .. 'o:Cluster'
local cur = redis.call('HGET', key, id)
if cur then return {'REGISTERED', cur, redis.call('HGET', P .. 'cidrs', id) or ''} end
local mine = {}
for _, entry in ipairs(split(ARGV[9], ';')) do
  if entry ~= '' then mine[#mine + 1] = split(entry, ',') end
end
local all = redis.call('HGETALL', P .. 'ranges:cluster')
for i = 1, #all, 2 do
  local hits = {}
  for _, entry in ipairs(split(all[i + 1], ';')) do
    if entry ~= '' then
      local o = split(entry, ',')
      for _, m in ipairs(mine) do
        if #m[1] == #o[1] and m[1] <= o[2] and o[1] <= m[2] then hits[#hits + 1] = m[3] .. '=' .. o[3] end
      end
    end
  end
  if #hits > 0 then return {'OVERLAP', all[i], table.concat(hits, ';')} end
end
redis.call('HINCRBY', tk, 'used', 1)
local rev = nextrev()
local json = stamp(ARGV[6], rev)
redis.call('HSET', key, id, json)
redis.call('HSET', P .. 'cidrs', id, ARGV[7])
redis.call('HSET', P .. 'ranges:cluster', id, ARGV[9])
redis.call('HSET', P .. 'creds', id, ARGV[8])
redis.call('HSET', P .. 'joinedvia', id, ARGV[2])
redis.call('HSET', P .. 'hb', id, ARGV[4])
redis.call('HDEL', P .. 'left', id)
emit('Cluster', 'ADDED', json, rev)
return {'OK', json, ARGV[10]}
${IDEM_CLOSE}`;

/**
 * Replaces a registered cluster's credential hash (the old credential stops working at once).
 * ARGV: P, clusterId, credHash, credential (echoed). Answers OK <json> <credential> | NOTFOUND
 */
export const ROTATE = `${PRELUDE}${IDEM_OPEN}
local cur = redis.call('HGET', P .. 'o:Cluster', ARGV[2])
if not cur then return {'NOTFOUND'} end
redis.call('HSET', P .. 'creds', ARGV[2], ARGV[3])
return {'OK', cur, ARGV[4]}
${IDEM_CLOSE}`;

/** Most slots a lease script probes before answering EXHAUSTED; keeps one script call short. */
export const MAX_PROBES = 65536;

/**
 * Leases the next free block of a pool (cursor scan; skips blocks holding single-address leases).
 * ARGV: P, pool, cluster, node, nowIso
 */
export const LEASE_BLOCK = `${PRELUDE}${IP_MATH}${IDEM_OPEN}
local pool = ARGV[2]
local m = poolmeta(pool)
if not m then return {'NOPOOL'} end
if redis.call('HEXISTS', P .. 'o:Cluster', ARGV[3]) == 0 then return {'NOCLUSTER'} end
local pb, pab = P .. 'pb:' .. pool, P .. 'pab:' .. pool
if redis.call('HLEN', pb) + redis.call('HLEN', pab) >= m.nblocks then return {'EXHAUSTED'} end
local cur = tonumber(redis.call('HGET', P .. 'cur:' .. pool, 'b') or '0')
local found = nil
local probes = math.min(m.nblocks, ${MAX_PROBES})
for k = 0, probes - 1 do
  local idx = (cur + k) % m.nblocks
  if redis.call('HEXISTS', pb, idx) == 0 and redis.call('HEXISTS', pab, idx) == 0 then found = idx break end
end
if not found then return {'EXHAUSTED'} end
redis.call('HSET', P .. 'cur:' .. pool, 'b', (found + 1) % m.nblocks)
local g = copy(m.groups)
addgroups(g, found, m.bits - m.bs)
local cidr = fmtip(g) .. '/' .. m.bs
local rev = nextrev()
-- The revision in the id makes every lease distinct: a late DELETE of an old lease never frees its successor.
local id = pool .. '.' .. found .. '.' .. rev
local json = '{"resourceVersion":"' .. rev .. '","id":' .. cjson.encode(id) .. ',"pool":' .. cjson.encode(pool) ..
  ',"cidr":"' .. cidr .. '","cluster":' .. cjson.encode(ARGV[3]) .. ',"node":' .. cjson.encode(ARGV[4]) ..
  ',"createdAt":"' .. ARGV[5] .. '"}'
redis.call('HSET', pb, found, id)
redis.call('HSET', P .. 'o:Block', id, json)
emit('Block', 'ADDED', json, rev)
return {'OK', json}
${IDEM_CLOSE}`;

/**
 * Leases one block per entry of `nodes` in one step, all or nothing: the free blocks are found first (nothing is
 * written if there are not enough), then leased in order, one event each.
 * ARGV: P, pool, cluster, nowIso, n, nodes...
 * Answers OK <rev> <json>... | NOPOOL | NOCLUSTER | EXHAUSTED <free blocks found>
 */
export const LEASE_BLOCKS = `${PRELUDE}${IP_MATH}${IDEM_OPEN}
local pool, cluster, nowIso, n = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local m = poolmeta(pool)
if not m then return {'NOPOOL'} end
if redis.call('HEXISTS', P .. 'o:Cluster', cluster) == 0 then return {'NOCLUSTER'} end
local pb, pab = P .. 'pb:' .. pool, P .. 'pab:' .. pool
local used = redis.call('HLEN', pb) + redis.call('HLEN', pab)
if used + n > m.nblocks then return {'EXHAUSTED', tostring(math.max(0, m.nblocks - used))} end
local cur = tonumber(redis.call('HGET', P .. 'cur:' .. pool, 'b') or '0')
local found = {}
local probes = math.min(m.nblocks, ${MAX_PROBES} + n)
local k = 0
while #found < n and k < probes do
  local idx = (cur + k) % m.nblocks
  if redis.call('HEXISTS', pb, idx) == 0 and redis.call('HEXISTS', pab, idx) == 0 then found[#found + 1] = idx end
  k = k + 1
end
if #found < n then return {'EXHAUSTED', tostring(#found)} end
redis.call('HSET', P .. 'cur:' .. pool, 'b', (found[#found] + 1) % m.nblocks)
local out = {'OK', ''}
local cjpool, cjcluster = cjson.encode(pool), cjson.encode(cluster)
for i = 1, n do
  local idx = found[i]
  local g = copy(m.groups)
  addgroups(g, idx, m.bits - m.bs)
  local rev = nextrev()
  local id = pool .. '.' .. idx .. '.' .. rev
  local json = '{"resourceVersion":"' .. rev .. '","id":' .. cjson.encode(id) .. ',"pool":' .. cjpool ..
    ',"cidr":"' .. fmtip(g) .. '/' .. m.bs .. '","cluster":' .. cjcluster .. ',"node":' .. cjson.encode(ARGV[5 + i]) ..
    ',"createdAt":"' .. nowIso .. '"}'
  redis.call('HSET', pb, idx, id)
  redis.call('HSET', P .. 'o:Block', id, json)
  emit('Block', 'ADDED', json, rev)
  out[2] = tostring(rev)
  out[#out + 1] = json
end
return out
${IDEM_CLOSE}`;

/**
 * Leases one address per owner in one step, all or nothing, owner-idempotent: owners holding an address of the
 * pool (for this cluster) get it back, an owner listed twice gets one address; an owner holding one for another
 * cluster refuses the whole batch (OWNED). Free addresses are found first (nothing is written if there are not
 * enough), scanning like LEASE_ADDRESS. ARGV: P, pool, cluster, nowIso, n, owners...
 * Answers OK <rev> <json per owner, in order>... | NOPOOL | NOCLUSTER | OWNED <owner> | EXHAUSTED <free found>
 */
export const LEASE_ADDRESSES = `${PRELUDE}${IP_MATH}${IDEM_OPEN}
local pool, cluster, nowIso, n = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local m = poolmeta(pool)
if not m then return {'NOPOOL'} end
if redis.call('HEXISTS', P .. 'o:Cluster', cluster) == 0 then return {'NOCLUSTER'} end
local po, pa, pab, pb = P .. 'po:' .. pool, P .. 'pa:' .. pool, P .. 'pab:' .. pool, P .. 'pb:' .. pool
local result, first, need = {}, {}, {}
for i = 1, n do
  local owner = ARGV[5 + i]
  local have = redis.call('HGET', po, owner)
  if have then
    local json = redis.call('HGET', P .. 'o:AddressLease', have)
    if cjson.decode(json).cluster ~= cluster then return {'OWNED', owner} end
    result[i] = json
  elseif not first[owner] then
    first[owner] = i
    need[#need + 1] = i
  end
end
local lo, hi = 0, m.naddr - 1
if m.edges == 1 then lo, hi = 1, m.naddr - 2 end
local span = hi - lo + 1
local per = 2 ^ (m.bits - m.bs)
local leased = redis.call('HLEN', pa)
if leased + #need > span then return {'EXHAUSTED', tostring(math.max(0, span - leased))} end
local cur = tonumber(redis.call('HGET', P .. 'cur:' .. pool, 'a') or '0')
local found = {}
local pos, probes = 0, 0
while #found < #need and pos < span and probes < ${MAX_PROBES} + #need do
  probes = probes + 1
  local idx = hi - ((cur + pos) % span)
  local b = math.floor(idx / per)
  if redis.call('HEXISTS', pb, b) == 1 then
    pos = pos + (idx - b * per) + 1
  else
    if redis.call('HEXISTS', pa, idx) == 0 then found[#found + 1] = idx end
    pos = pos + 1
  end
end
if #found < #need then return {'EXHAUSTED', tostring(#found)} end
if #need > 0 then redis.call('HSET', P .. 'cur:' .. pool, 'a', (cur + pos) % span) end
local cjpool, cjcluster = cjson.encode(pool), cjson.encode(cluster)
for k, i in ipairs(need) do
  local idx, owner = found[k], ARGV[5 + i]
  local g = copy(m.groups)
  addgroups(g, idx, 0)
  local ip = fmtip(g)
  local rev = nextrev()
  local json = '{"resourceVersion":"' .. rev .. '","ip":"' .. ip .. '","pool":' .. cjpool ..
    ',"owner":' .. cjson.encode(owner) .. ',"cluster":' .. cjcluster .. ',"createdAt":"' .. nowIso .. '"}'
  redis.call('HSET', pa, idx, ip)
  redis.call('HINCRBY', pab, math.floor(idx / per), 1)
  redis.call('HSET', po, owner, ip)
  redis.call('HSET', P .. 'am', ip, pool .. '|' .. idx .. '|' .. owner)
  redis.call('HSET', P .. 'o:AddressLease', ip, json)
  emit('AddressLease', 'ADDED', json, rev)
  result[i] = json
end
local out = {'OK', redis.call('GET', P .. 'rev') or '0'}
for i = 1, n do out[#out + 1] = result[i] or result[first[ARGV[5 + i]]] end
return out
${IDEM_CLOSE}`;

/** Lua functions returning a block or an address (shared by the release scripts and the owner GC). */
const RELEASE_FNS = `
local function releaseBlock(id, required)
  local cur = redis.call('HGET', P .. 'o:Block', id)
  if not cur then return {'NOTFOUND'} end
  local obj = cjson.decode(cur)
  if required ~= '' and obj.cluster ~= required then return {'FORBIDDEN', obj.cluster} end
  local pool, idx = string.match(id, '^(.*)%.(%d+)%.%d+$')
  redis.call('HDEL', P .. 'pb:' .. pool, idx)
  redis.call('HDEL', P .. 'o:Block', id)
  local rev = nextrev()
  local json = stamp(cur, rev)
  emit('Block', 'DELETED', json, rev)
  return {'OK', json}
end
local function releaseAddress(ip, required)
  local meta = redis.call('HGET', P .. 'am', ip)
  if not meta then return {'NOTFOUND'} end
  local cur = redis.call('HGET', P .. 'o:AddressLease', ip)
  local obj = cjson.decode(cur)
  if required ~= '' and obj.cluster ~= required then return {'FORBIDDEN', obj.cluster} end
  local pool, idx, owner = string.match(meta, '^([^|]*)|(%d+)|(.*)$')
  local m = poolmeta(pool)
  redis.call('HDEL', P .. 'pa:' .. pool, idx)
  if m then
    local b = math.floor(tonumber(idx) / (2 ^ (m.bits - m.bs)))
    if redis.call('HINCRBY', P .. 'pab:' .. pool, b, -1) <= 0 then redis.call('HDEL', P .. 'pab:' .. pool, b) end
  end
  redis.call('HDEL', P .. 'po:' .. pool, owner)
  redis.call('HDEL', P .. 'am', ip)
  redis.call('HDEL', P .. 'o:AddressLease', ip)
  local rev = nextrev()
  local json = stamp(cur, rev)
  emit('AddressLease', 'DELETED', json, rev)
  return {'OK', json}
end
`;

/** Returns a block. ARGV: P, id, requiredCluster ('' = any) */
export const RELEASE_BLOCK = `${PRELUDE}${IP_MATH}${RELEASE_FNS}${IDEM_OPEN}
return releaseBlock(ARGV[2], ARGV[3])
${IDEM_CLOSE}`;

/**
 * Leases one address of a pool to an owner; the same owner gets its address back (idempotent). Skips addresses
 * inside leased blocks. ARGV: P, pool, owner, cluster, nowIso
 */
export const LEASE_ADDRESS = `${PRELUDE}${IP_MATH}${IDEM_OPEN}
local pool, owner, cluster = ARGV[2], ARGV[3], ARGV[4]
local m = poolmeta(pool)
if not m then return {'NOPOOL'} end
if redis.call('HEXISTS', P .. 'o:Cluster', cluster) == 0 then return {'NOCLUSTER'} end
local po, pa, pab, pb = P .. 'po:' .. pool, P .. 'pa:' .. pool, P .. 'pab:' .. pool, P .. 'pb:' .. pool
local have = redis.call('HGET', po, owner)
if have then
  local json = redis.call('HGET', P .. 'o:AddressLease', have)
  local obj = cjson.decode(json)
  if obj.cluster ~= cluster then return {'OWNED', json} end
  return {'EXISTING', json}
end
local lo, hi = 0, m.naddr - 1
if m.edges == 1 then lo, hi = 1, m.naddr - 2 end
local span = hi - lo + 1
local per = 2 ^ (m.bits - m.bs)
if redis.call('HLEN', pa) >= span then return {'EXHAUSTED'} end
-- Addresses are taken from the top of the pool downwards (blocks grow from the bottom), and a leased block is
-- skipped whole, so the two kinds of lease rarely meet and a scan never walks through a block address by address.
local cur = tonumber(redis.call('HGET', P .. 'cur:' .. pool, 'a') or '0')
local pos, probes, found = 0, 0, nil
while pos < span and probes < ${MAX_PROBES} do
  probes = probes + 1
  local idx = hi - ((cur + pos) % span)
  local b = math.floor(idx / per)
  if redis.call('HEXISTS', pb, b) == 1 then
    pos = pos + (idx - b * per) + 1
  elseif redis.call('HEXISTS', pa, idx) == 0 then
    found = idx
    break
  else
    pos = pos + 1
  end
end
if not found then return {'EXHAUSTED'} end
redis.call('HSET', P .. 'cur:' .. pool, 'a', (cur + pos + 1) % span)
local g = copy(m.groups)
addgroups(g, found, 0)
local ip = fmtip(g)
local rev = nextrev()
local json = '{"resourceVersion":"' .. rev .. '","ip":"' .. ip .. '","pool":' .. cjson.encode(pool) ..
  ',"owner":' .. cjson.encode(owner) .. ',"cluster":' .. cjson.encode(cluster) .. ',"createdAt":"' .. ARGV[5] .. '"}'
redis.call('HSET', pa, found, ip)
redis.call('HINCRBY', pab, math.floor(found / per), 1)
redis.call('HSET', po, owner, ip)
redis.call('HSET', P .. 'am', ip, pool .. '|' .. found .. '|' .. owner)
redis.call('HSET', P .. 'o:AddressLease', ip, json)
emit('AddressLease', 'ADDED', json, rev)
return {'OK', json}
${IDEM_CLOSE}`;

/** Returns an address. ARGV: P, ip, requiredCluster ('' = any) */
export const RELEASE_ADDRESS = `${PRELUDE}${IP_MATH}${RELEASE_FNS}${IDEM_OPEN}
return releaseAddress(ARGV[2], ARGV[3])
${IDEM_CLOSE}`;

/**
 * Records a heartbeat and, when given, the cluster's complete sets of live node names and live address owners.
 * ARGV: P, cluster, nowMs, nNodes (-1 = not reported), nodes..., nOwners (-1 = not reported), owners...
 * Keys per kind (node|owner) and cluster: `live:<kind>:<c>` (the reported set), `miss:<kind>:<c>` (name → ms it was
 * first seen missing, written by the GC), field `<kind>:<c>` of `lr` (when the set was last reported). A reported
 * set clears the missing marks of names in it; an unreported one makes the kind unknown again (no GC): an agent
 * that stops sending the set must not have its newer nodes judged against a stale one.
 */
export const HEARTBEAT = `${PRELUDE}
local c, now = ARGV[2], ARGV[3]
if redis.call('HEXISTS', P .. 'o:Cluster', c) == 0 then return {'NOTFOUND'} end
redis.call('HSET', P .. 'hb', c, now)
local i = 4
for _, kind in ipairs({'node', 'owner'}) do
  local n = tonumber(ARGV[i])
  i = i + 1
  local live, miss, field = P .. 'live:' .. kind .. ':' .. c, P .. 'miss:' .. kind .. ':' .. c, kind .. ':' .. c
  redis.call('DEL', live)
  if n < 0 then
    redis.call('DEL', miss)
    redis.call('HDEL', P .. 'lr', field)
  else
    local j = i
    while j < i + n do
      local upto = math.min(j + 999, i + n - 1)
      redis.call('SADD', live, unpack(ARGV, j, upto))
      j = upto + 1
    end
    redis.call('HSET', P .. 'lr', field, now)
    for _, who in ipairs(redis.call('HKEYS', miss)) do
      if redis.call('SISMEMBER', live, who) == 1 then redis.call('HDEL', miss, who) end
    end
    i = i + n
  end
end
return {'OK'}
`;

/**
 * Owner GC of one lease: returns a block whose node (or an address whose owner) has been missing from its
 * cluster's reported set for at least the grace; marks it missing (first time) otherwise. Check and release are
 * one step, so a name reported live again in between keeps its lease.
 * ARGV: P, kind (node|owner), target (block id | ip), nowMs, graceMs
 * Answers UNKNOWN (cluster reports no set), GONE, LIVE, WAIT <firstMissingMs>, or the release's OK.
 */
export const OWNER_GC = `${PRELUDE}${IP_MATH}${RELEASE_FNS}
local kind, target, now, grace = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local cur
if kind == 'node' then cur = redis.call('HGET', P .. 'o:Block', target) else cur = redis.call('HGET', P .. 'o:AddressLease', target) end
if not cur then return {'GONE'} end
local obj = cjson.decode(cur)
local c, who = obj.cluster, obj.owner
if kind == 'node' then who = obj.node end
if redis.call('HEXISTS', P .. 'lr', kind .. ':' .. c) == 0 then return {'UNKNOWN'} end
local miss = P .. 'miss:' .. kind .. ':' .. c
if redis.call('SISMEMBER', P .. 'live:' .. kind .. ':' .. c, who) == 1 then
  redis.call('HDEL', miss, who)
  return {'LIVE'}
end
redis.call('HSETNX', miss, who, now)
local first = tonumber(redis.call('HGET', miss, who))
if now - first < grace then return {'WAIT', tostring(first)} end
if kind == 'node' then return releaseBlock(target, '') end
return releaseAddress(target, '')
`;

/** Trims the event log to revisions > keepAfter and records the compaction point. ARGV: P, keepAfterRev */
export const COMPACT = `${PRELUDE}
local upto = tonumber(ARGV[2])
local was = tonumber(redis.call('GET', P .. 'compacted') or '0')
if upto <= was then return was end
redis.call('XTRIM', P .. 'events', 'MINID', (upto + 1) .. '-0')
redis.call('SET', P .. 'compacted', upto)
return upto
`;

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { startTestRedis, waitFor, type TestRedis } from '../../testing/index.js';
import { BrokerStore, brokerScripts } from '../broker-store.js';
import type { LuaScript } from './script-loader.js';

// Every key a broker script touches must be one it was given in KEYS (Redis Cluster routes a script by its KEYS
// and refuses or misroutes any other key; Redis asks it of every script). Redis itself only checks that in a
// cluster, and only across slots, and every broker key shares the `{…}` slot: so this test watches what the
// scripts really do. MONITOR shows each command a script runs (`[0 lua] "HSET" …`) right after the EVALSHA that ran
// it; each of those keys must be a key of that EVALSHA's KEYS, or start with a KEYS entry the script's header
// marks as a prefix. The workload below runs every script through the store, success and refusal paths.

interface MonitorLine {
  args: string[];
  source: string;
}

interface Violation {
  script: string;
  command: string;
  key: string;
}

/** Key positions of a command (COMMAND INFO: first key, last key, step; 1-based into the command's arguments). */
async function keysOf(redis: Redis, cache: Map<string, [number, number, number]>, args: string[]): Promise<string[]> {
  const name = args[0]!.toLowerCase();
  let spec = cache.get(name);
  if (!spec) {
    const info = (await redis.call('COMMAND', 'INFO', name)) as [[string, number, string[], number, number, number]];
    spec = [info[0][3], info[0][4], info[0][5]];
    cache.set(name, spec);
  }
  const [first, lastSpec, step] = spec;
  if (first === 0) return [];
  const last = lastSpec < 0 ? args.length + lastSpec : lastSpec;
  const out: string[] = [];
  for (let i = first; i <= last; i += step) out.push(args[i]!);
  return out;
}

/** The keys each script call touched that its KEYS do not cover. */
async function violations(redis: Redis, lines: readonly MonitorLine[], scripts: ReadonlyMap<string, LuaScript>): Promise<{ violations: Violation[]; calls: Map<string, number> }> {
  const cache = new Map<string, [number, number, number]>();
  const out: Violation[] = [];
  const calls = new Map<string, number>();
  let current: { script: LuaScript; exact: Set<string>; prefixes: string[] } | undefined;
  for (const l of lines) {
    if (l.source !== 'lua') {
      current = undefined;
      const cmd = l.args[0]?.toLowerCase();
      if (cmd !== 'evalsha' && cmd !== 'eval') continue;
      // ioredis sends a script's first call on a connection as EVAL; MONITOR shows its text escaped (\\n, \\xe2…),
      // so an EVAL is known by the name its header starts with.
      const script = cmd === 'evalsha' ? scripts.get(l.args[1]!) : [...scripts.values()].find((s) => s.lua === l.args[1] || evalName(l.args[1]!) === s.name);
      if (!script) continue;
      calls.set(script.name, (calls.get(script.name) ?? 0) + 1);
      if (!script.keyNames) continue;
      const keys = l.args.slice(3, 3 + Number(l.args[2]));
      const prefixes = script.keyNames.flatMap((n, i) => (script.prefixKeys?.has(n) ? [keys[i]!] : []));
      current = { script, exact: new Set(keys), prefixes };
      continue;
    }
    if (!current) continue;
    for (const key of await keysOf(redis, cache, l.args)) {
      if (current.exact.has(key) || current.prefixes.some((p) => key.startsWith(p) && key.length > p.length)) continue;
      out.push({ script: current.script.name, command: l.args[0]!, key });
    }
  }
  return { violations: out, calls };
}

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');
/** The name at the start of a script's header (`--[[` newline, then `  lease-blocks: …`). */
const evalName = (text: string): string | undefined => /--\[\[(?:\\n|\n) *([a-z-]+):/.exec(text)?.[1];

let redis: TestRedis;
let conn: Redis;
let base: Redis;
let mon: Redis;
let lines: MonitorLine[] = [];
const byName = new Map(Object.entries(brokerScripts()));
const bySha = new Map([...byName.values()].map((s) => [sha1(s.lua), s]));

beforeAll(async () => {
  redis = await startTestRedis();
  conn = new Redis({ path: redis.socket });
  base = new Redis({ path: redis.socket });
  mon = await base.monitor();
  mon.on('monitor', (_time: string, args: string[], source: string) => lines.push({ args, source }));
});
afterAll(async () => {
  mon.disconnect();
  base.disconnect();
  conn.disconnect();
  await redis.stop();
});

/** Runs `work`, then waits until the monitor has seen a marker sent after it, and returns what it saw. */
async function monitored(work: () => Promise<void>): Promise<MonitorLine[]> {
  lines = [];
  await work();
  const marker = `done-${Math.random()}`;
  await conn.echo(marker);
  await waitFor('the monitor to see the marker', () => lines.some((l) => l.args[0]?.toLowerCase() === 'echo' && l.args[1] === marker), 10_000);
  return lines;
}

const refused = async (p: Promise<unknown>): Promise<void> => {
  await p.then(
    () => {
      throw new Error('expected a refusal');
    },
    () => undefined,
  );
};

describe('broker Lua scripts touch only the keys they are given', () => {
  it('declares KEYS in every script header', () => {
    expect([...byName].filter(([, s]) => !s.keyNames).map(([op]) => op)).toEqual([]);
  });

  it('finds a key a script builds itself (the check can fail)', async () => {
    const bad: LuaScript = { name: 'bad', numberOfKeys: 1, keyNames: ['given'], prefixKeys: new Set(), lua: "redis.call('GET', KEYS[1]) return redis.call('GET', ARGV[1] .. 'x')" };
    const seen = await monitored(async () => {
      await conn.eval(bad.lua, 1, '{t}:given', '{t}:');
    });
    const r = await violations(conn, seen, new Map([[sha1(bad.lua), bad]]));
    expect(r.violations).toEqual([{ script: 'bad', command: 'GET', key: '{t}:x' }]);
  });

  it('every script, on its success and refusal paths', async () => {
    const store = new BrokerStore(conn, '{t}:');
    const idem = (k: string): { key: string; fingerprint: string } => ({ key: `admin/${k}`, fingerprint: `fp-${k}` });
    const seen = await monitored(async () => {
      const { secret } = await store.createToken(60, 3);
      await store.joinCluster(secret, { id: 'east', podCIDRs: ['10.1.0.0/16'], serviceCIDRs: [] }, idem('join'));
      await store.joinCluster(secret, { id: 'east', podCIDRs: ['10.1.0.0/16'], serviceCIDRs: [] }, idem('join'));
      await refused(store.joinCluster(secret, { id: 'west', podCIDRs: ['10.1.128.0/17'], serviceCIDRs: [] }));
      await store.joinCluster(secret, { id: 'west', podCIDRs: ['10.2.0.0/16'], serviceCIDRs: [] });
      await store.rotateCredential('west', idem('rotate'));
      await refused(store.rotateCredential('nobody'));
      await store.createSubnet({ name: 's1', cidr: '10.50.0.0/16' }, idem('subnet'));
      await store.createPool({ name: 'p1', cidr: '10.50.0.0/24', blockSize: 28, subnet: 's1', purpose: 'pods', cluster: 'east' }, idem('pool'));
      await store.createPool({ name: 'p6', cidr: 'fd00:50::/120', blockSize: 124, purpose: 'pods' });
      await refused(store.createPool({ name: 'p2', cidr: '10.50.0.128/25', purpose: 'pods' }));
      await refused(store.createPool({ name: 'p3', cidr: '10.51.0.0/24', subnet: 's1', purpose: 'pods' }));
      await refused(store.createPool({ name: 'p4', cidr: '10.52.0.0/24', subnet: 'nope', purpose: 'pods' }));
      const b = await store.leaseBlock('p1', 'east', 'n1', idem('block'));
      await store.leaseBlock('p1', 'east', 'n1', idem('block'));
      await store.leaseBlocks('p1', 'east', ['n2', 'n3']);
      await store.leaseBlock('p6', 'east', 'n1');
      await refused(store.leaseBlocks('p1', 'east', Array.from({ length: 40 }, (_, i) => `x${i}`)));
      await refused(store.leaseBlock('nope', 'east', 'n1'));
      await refused(store.leaseBlock('p1', 'nobody', 'n1'));
      const a = await store.leaseAddress('p1', 'o1', 'east', idem('address'));
      await store.leaseAddress('p1', 'o1', 'east', idem('address'));
      await store.leaseAddress('p1', 'o1', 'east');
      await refused(store.leaseAddress('p1', 'o1', 'west'));
      await store.leaseAddresses('p1', ['o2', 'o3', 'o1', 'o2'], 'east', idem('addresses'));
      await store.leaseAddress('p6', 'o1', 'east');
      await refused(store.leaseAddresses('p1', Array.from({ length: 300 }, (_, i) => `y${i}`), 'east'));
      await refused(store.deletePool('p1'));
      await store.releaseBlock(b.id, 'east', idem('release-block'));
      await store.releaseBlock(b.id, 'east', idem('release-block'));
      await refused(store.releaseBlock(b.id));
      await store.releaseAddress(a.lease.ip, '', idem('release-address'));
      await refused(store.releaseAddress(a.lease.ip));
      await store.put('Gateway', 'east/gw', 'upsert', { cluster: 'east', name: 'gw', endpoints: ['192.0.2.1'], tunnelTypes: ['wireguard'] } as never, '', { kind: 'Cluster', name: 'east' }, false, idem('gw'));
      await refused(store.put('Gateway', 'nobody/gw', 'upsert', { cluster: 'nobody', name: 'gw', endpoints: ['192.0.2.1'], tunnelTypes: ['wireguard'] } as never, '', { kind: 'Cluster', name: 'nobody' }));
      await store.update('Subnet', 's1', (s) => ({ ...s, description: 'd' }), undefined, idem('update'));
      await store.delete('Gateway', 'east/gw', { idem: idem('delete-gw') });
      await store.delete('Gateway', 'east/gw', { idem: idem('delete-gw') });
      // the upgrade path: a store written before the holder index
      await conn.del('{t}:holdidx');
      await store.indexHolders();
      await store.heartbeat('east', { nodes: ['n1'], addressOwners: ['o2'] });
      await store.heartbeat('east', { nodes: [], addressOwners: [] });
      await store.collectOwnerless(Date.now(), 0);
      await store.collectOwnerless(Date.now(), 0);
      for (const l of (await store.list('Block')).items) await store.releaseBlock(l.id);
      for (const l of (await store.list('AddressLease')).items) await store.releaseAddress(l.ip);
      await store.deletePool('p1', undefined, undefined, idem('delete-pool'));
      await refused(store.deleteSubnet('nope'));
      await store.deleteSubnet('s1');
      await store.leaseBlock('p6', 'west', 'w1');
      await store.leaseAddress('p6', 'w-o', 'west');
      await store.removeCluster('west');
      await store.returnLeasesOf(['west'], 1);
      await store.compact(2);
    });
    const r = await violations(conn, seen, bySha);
    expect(r.violations).toEqual([]);
    // The workload reached every script.
    expect([...byName.values()].map((s) => s.name).filter((n) => !r.calls.has(n))).toEqual([]);
  });
});

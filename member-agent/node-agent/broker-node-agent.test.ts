import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Block, BrokerClient } from '../../api/index.js';
import { createLogger } from '../../host/index.js';
import { cidrContains, parseCidr, parseIp } from '../../ipam/index.js';
import { startTestRedis, type TestRedis, startTestBroker, type TestBroker } from '../../testing/index.js';
import { runPlugin } from '../cni-plugin/plugin.js';
import { startBrokerNodeAgent, type BrokerNodeAgentOptions, type RunningBrokerNodeAgent } from './broker-node-agent.js';

// Two clusters, each with a node named n1 (names only need to be unique within a cluster), lease /28 blocks of one
// broker pool through their node agents; pods are added through the agents' unix sockets (the CNI plugin's path).
const dir = mkdtempSync(join(tmpdir(), 'strait-broker-agent-'));
const POOL_CIDR = '10.90.0.0/24';
let redis: TestRedis;
let broker: TestBroker;
const cred: Record<string, string> = {};
const clients: Record<string, BrokerClient> = {};
const agents: Record<string, RunningBrokerNodeAgent> = {};

const sock = (cluster: string): string => join(dir, `${cluster}.sock`);
const conf = (cluster: string): string => JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'bridge', ipam: { type: 'strait-ipam', socket: sock(cluster) } });
const env = (id: string, cmd = 'ADD'): Record<string, string> => ({ CNI_COMMAND: cmd, CNI_CONTAINERID: id, CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0' });

async function add(cluster: string, id: string): Promise<string> {
  const r = await runPlugin(env(id), conf(cluster));
  expect(r.exitCode).toBe(0);
  const ips = (JSON.parse(r.stdout) as { ips: { address: string }[] }).ips;
  expect(ips).toHaveLength(1);
  return ips[0]!.address.split('/')[0]!;
}

async function del(cluster: string, id: string): Promise<void> {
  expect((await runPlugin(env(id, 'DEL'), conf(cluster))).exitCode).toBe(0);
}

function start(cluster: string, extra: Partial<BrokerNodeAgentOptions> = {}): Promise<RunningBrokerNodeAgent> {
  return startBrokerNodeAgent({
    brokerUrl: broker.handle.url,
    token: cred[cluster]!,
    cluster,
    nodeName: 'n1',
    socketPath: sock(cluster),
    stateDir: join(dir, `${cluster}-state`),
    log: createLogger('test', 'silent'),
    housekeepingIntervalMs: 3_600_000,
    ...extra,
  });
}

/**
 * A TCP relay in front of the broker that can play a broker that is away without refusing connections (a hung
 * process, a black-holed route, a load balancer with no backend): `hang()` stops relaying on every connection,
 * old and new, so requests wait for an answer that never comes; `resume()` relays again.
 */
async function relay(target: () => string): Promise<{ url: string; hang(): void; resume(): void; close(): Promise<void> }> {
  let hanging = false;
  const open = new Set<Socket>();
  const srv: Server = createServer((c) => {
    open.add(c);
    c.on('close', () => open.delete(c));
    c.on('error', () => undefined);
    if (hanging) return; // accepted, never answered
    const u = new URL(target());
    const up = connect(Number(u.port), u.hostname);
    open.add(up);
    up.on('close', () => open.delete(up));
    up.on('error', () => c.destroy());
    c.on('close', () => up.destroy());
    up.on('close', () => c.destroy());
    c.on('data', (d) => { if (!hanging) up.write(d); });
    up.on('data', (d) => { if (!hanging) c.write(d); });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hang: () => { hanging = true; },
    resume: () => {
      hanging = false;
      for (const s of open) s.destroy(); // held connections end; clients reconnect
    },
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}

const blocksOf = async (cluster: string): Promise<Block[]> => (await broker.admin.listBlocks({ cluster })).items;
const inside = (ip: string, blocks: Block[]): boolean => {
  const v = parseIp(ip);
  return blocks.some((b) => cidrContains(parseCidr(b.cidr), v.family, v.value));
};
const podIds = (cluster: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${cluster}-pod-${i}`);

beforeAll(async () => {
  redis = await startTestRedis();
  broker = await startTestBroker(redis.socket);
  await broker.admin.createPool({ name: 'pods', cidr: POOL_CIDR, blockSize: 28, purpose: 'pods', default: true });
  const join1 = await broker.admin.createToken({ uses: 2 });
  cred.east = (await broker.admin.joinCluster({ id: 'east', podCIDRs: ['10.1.0.0/16'] }, join1.token)).credentials.token;
  cred.west = (await broker.admin.joinCluster({ id: 'west', podCIDRs: ['10.2.0.0/16'] }, join1.token)).credentials.token;
  clients.east = broker.client(cred.east);
  agents.east = await start('east');
  agents.west = await start('west', { blockGraceMs: 3_000, housekeepingIntervalMs: 200 });
}, 30_000);

afterAll(async () => {
  for (const a of Object.values(agents)) await a.stop().catch(() => undefined);
  await broker?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('node agent in broker mode (real broker on real Redis)', () => {
  it('takes its pools from the broker', () => {
    expect(agents.east!.poolNames).toEqual(['pods']);
  });

  it('two nodes of two clusters allocate from one pool: no duplicates, every IP inside a block the broker leased to that node', async () => {
    const [east, west] = await Promise.all([Promise.all(podIds('east', 20).map((id) => add('east', id))), Promise.all(podIds('west', 20).map((id) => add('west', id)))]);
    const all = [...east, ...west];
    expect(new Set(all).size).toBe(40);
    const eb = await blocksOf('east');
    const wb = await blocksOf('west');
    expect(eb.every((b) => b.node === 'n1' && b.pool === 'pods')).toBe(true);
    // 20 pods in /28 blocks (16 addresses, the pool's network address excluded): two or three blocks each.
    expect(eb.length).toBeGreaterThanOrEqual(2);
    expect(wb.length).toBeGreaterThanOrEqual(2);
    for (const ip of east) expect(inside(ip, eb)).toBe(true);
    for (const ip of west) expect(inside(ip, wb)).toBe(true);
    expect(east.some((ip) => inside(ip, wb))).toBe(false);
    // The engine's view of its own blocks is exactly what the broker recorded for the node.
    const usage = await agents.east!.engine.usage();
    expect([...(usage[0]?.blocks.n1 ?? [])].sort()).toEqual(eb.map((b) => b.cidr).sort());
  });

  it('a restarted agent reuses its blocks (no new lease) and keeps its pods; a lease lost in a crash is adopted', async () => {
    const before = (await blocksOf('east')).map((b) => b.id).sort();
    const first = await add('east', 'east-pod-0');
    await agents.east!.stop();
    // The crash window: a block leased at the broker whose local record never got written.
    const stray = await clients.east!.leaseBlock('pods', { cluster: 'east', node: 'n1' });
    agents.east = await start('east');
    expect(agents.east.reconciled).toEqual({ adopted: [stray.cidr], dropped: [], orphaned: [] });
    expect(await add('east', 'east-pod-0')).toBe(first);
    const more = await Promise.all(['r1', 'r2', 'r3'].map((id) => add('east', `east-${id}`)));
    const after = await blocksOf('east');
    expect(after.map((b) => b.id).sort()).toEqual([...before, stray.id].sort());
    for (const ip of more) expect(inside(ip, after)).toBe(true);
  });

  it('after all pods are gone and the grace period passed, the blocks go back to the broker', async () => {
    expect((await blocksOf('west')).length).toBeGreaterThan(0);
    const releasedAt = Date.now();
    await Promise.all(podIds('west', 20).map((id) => del('west', id)));
    // Returned by the agent's own housekeeping, never before the 3 s grace (a lower bound, safe on a loaded machine).
    const deadline = Date.now() + 20_000;
    while ((await blocksOf('west')).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await blocksOf('west')).toEqual([]);
    expect(Date.now() - releasedAt).toBeGreaterThanOrEqual(2_900);
    expect(await agents.west!.engine.usage()).toEqual([expect.objectContaining({ pool: 'pods', used: 0, blocks: { n1: [] } })]);
    // A new pod leases a fresh block again.
    const ip = await add('west', 'west-again');
    expect(inside(ip, await blocksOf('west'))).toBe(true);
  });

  it('a restart while the broker is down serves from the blocks held; the reconcile runs once the broker is back', async () => {
    const held = (await blocksOf('east')).map((b) => b.cidr).sort();
    const keep = await add('east', 'east-pod-1');
    await agents.east!.stop();
    const url = broker.handle.url;
    await broker.stop();
    agents.east = await start('east', { brokerUrl: url });
    expect(agents.east.poolNames).toEqual(['pods']);
    expect(await add('east', 'east-pod-1')).toBe(keep);
    const ip = await add('east', 'east-offline');
    expect(held.some((c) => cidrContains(parseCidr(c), 'ipv4', parseIp(ip).value))).toBe(true);
    // Same Redis, same port: the broker comes back with everything it knew.
    broker = await startTestBroker(redis.socket, { listen: url.replace(/^http:\/\//, '') });
    await agents.east.housekeeping();
    expect(agents.east.reconciled).toEqual({ adopted: [], dropped: [], orphaned: [] });
    expect((await blocksOf('east')).map((b) => b.cidr).sort()).toEqual(held);
  });

  it('a broker that hangs (connections accepted, never answered): a restart serves CNI from the stored blocks within seconds, and the reconcile runs when it answers again', async () => {
    const r = await relay(() => broker.handle.url);
    try {
      await agents.east!.stop();
      agents.east = await start('east', { brokerUrl: r.url });
      await add('east', 'east-hung-0'); // holds a block with room left
      const held = agents.east.engine.blockUsage().map((u) => u.cidr);
      // Running, the broker goes away: ADD and DEL inside the blocks held never wait for it.
      r.hang();
      const t0 = Date.now();
      const ip = await add('east', 'east-hung-1');
      await del('east', 'east-hung-1');
      expect(Date.now() - t0).toBeLessThan(2_000);
      expect(held.some((c) => cidrContains(parseCidr(c), 'ipv4', parseIp(ip).value))).toBe(true);
      // Restarted while it hangs: up from the stored pools and blocks well before one broker request could time out.
      await agents.east.stop();
      const t1 = Date.now();
      agents.east = await start('east', { brokerUrl: r.url });
      expect(Date.now() - t1).toBeLessThan(10_000);
      expect(agents.east.poolNames).toEqual(['pods']);
      const ip2 = await add('east', 'east-hung-2');
      expect(held.some((c) => cidrContains(parseCidr(c), 'ipv4', parseIp(ip2).value))).toBe(true);
      // Back: housekeeping catches up (the reconcile, then the pools).
      r.resume();
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        try {
          await agents.east.housekeeping();
          break;
        } catch {
          await new Promise((res) => setTimeout(res, 200));
        }
      }
      expect(agents.east.reconciled).toEqual({ adopted: [], dropped: [], orphaned: [] });
      await del('east', 'east-hung-2');
      await del('east', 'east-hung-0');
    } finally {
      await agents.east!.stop();
      agents.east = await start('east');
      await r.close();
    }
  }, 60_000);

  it('on start, blocks the broker no longer records for the node are dropped when empty and kept when in use', async () => {
    const used = new Set((await agents.east!.engine.allocations()).map((r) => r.block));
    const blocks = await blocksOf('east');
    const empty = blocks.find((b) => !used.has(b.cidr));
    const busy = blocks.find((b) => used.has(b.cidr));
    expect(empty).toBeDefined();
    expect(busy).toBeDefined();
    await agents.east!.stop();
    await broker.admin.releaseBlock(empty!.id);
    await broker.admin.releaseBlock(busy!.id);
    agents.east = await start('east');
    expect(agents.east.reconciled).toEqual({ adopted: [], dropped: [empty!.cidr], orphaned: [busy!.cidr] });
    expect(agents.east.engine.blockUsage().map((u) => u.cidr)).not.toContain(empty!.cidr);
  });

  it('refuses to start with a credential the broker does not know', async () => {
    await expect(start('east', { token: 'nope', socketPath: join(dir, 'x.sock') })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

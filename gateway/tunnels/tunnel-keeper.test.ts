import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { BrokerClient } from '../../api/index.js';
import { newRunId } from '../../host/index.js';
import { RecordingTunnelDriver, startTestRedis, type TestRedis, waitFor, startTestBroker, type TestBroker } from '../../testing/index.js';
import { generateWireguardKeyPair, type TunnelPeer } from '../../tunnel/index.js';
import { TunnelKeeper, type TunnelKeeperStatus } from './tunnel-keeper.js';
import { createLogger } from '../../host/index.js';

const silent = createLogger('test', 'silent');

// A real broker on a real redis-server; the datapath is the recording fake (the root test runs the real one).
describe('TunnelKeeper against a real broker', () => {
  let redis: TestRedis;
  let broker: TestBroker;
  let east: BrokerClient;
  let west: BrokerClient;
  const runId = newRunId();
  const keeperStops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
    broker = await startTestBroker(redis.socket);
    const t = await broker.admin.createToken({ uses: 2 });
    const e = await broker.admin.joinCluster({ id: `east-${runId}`, podCIDRs: ['10.10.0.0/16'] }, t.token);
    const w = await broker.admin.joinCluster({ id: `west-${runId}`, podCIDRs: ['10.20.0.0/16'], serviceCIDRs: ['10.96.20.0/24'] }, t.token);
    east = broker.client(e.credentials.token);
    west = broker.client(w.credentials.token);
  });
  afterAll(async () => {
    for (const s of keeperStops) await s().catch(() => undefined);
    await broker?.stop();
    await redis?.stop();
  });

  it('follows the broker: tunnels to every remote candidate, CIDRs on the remote active one, moves them when it goes', async () => {
    const E = `east-${runId}`;
    const W = `west-${runId}`;
    const keys = { w1: generateWireguardKeyPair().publicKey, w2: generateWireguardKeyPair().publicKey };
    const put = (name: 'w1' | 'w2', ip: string, priority: number, health: 'Healthy' | 'Unhealthy' = 'Healthy') =>
      west.putGateway(W, name, { endpoints: [ip], tunnelTypes: ['wireguard'], publicKeys: { wireguard: keys[name] }, priority, health });
    await put('w1', '192.168.2.11', 100);
    await east.putGateway(E, 'e1', { endpoints: ['192.168.1.11'], tunnelTypes: ['wireguard'], publicKeys: { wireguard: generateWireguardKeyPair().publicKey }, priority: 100, health: 'Healthy' });

    const driver = new RecordingTunnelDriver('wireguard', {
      runId, gatewayId: 'east.e1', localUnderlayIp: '192.168.1.11', underlayDev: 'eth0', localCidrs: ['10.10.0.0/16'],
      stateDir: `/tmp/strait/${runId}/keeper`, keys: { wireguardPrivateKey: generateWireguardKeyPair().privateKey },
    });
    const statuses: TunnelKeeperStatus[] = [];
    const keeper = new TunnelKeeper({ cluster: E, type: 'wireguard', driver, broker: east, log: silent, tickMs: 100, staleMs: 1500, onStatus: (s) => statuses.push(s) });
    keeperStops.push(() => keeper.stop(true));
    await keeper.start();
    const peers = async (): Promise<readonly TunnelPeer[]> => (await driver.status()).peers as unknown as TunnelPeer[];
    expect((await driver.status()).peers.map((p) => [p.id, p.remoteCidrs])).toEqual([[`${W}.w1`, ['10.20.0.0/16', '10.96.20.0/24']]]);
    expect(statuses.at(-1)?.active).toEqual({ [W]: 'w1' });

    // A standby appears (watch event): it gets a tunnel of its own, with a placeholder, the active keeps the CIDRs.
    await put('w2', '192.168.2.12', 50);
    await waitFor('the standby peer', () => driver.calls.some((c) => c.op === 'add' && c.peer.id === `${W}.w2`));
    const p2 = (await peers()).find((p) => p.id === `${W}.w2`);
    expect(p2?.remoteCidrs[0]).toMatch(/^169\.254\./);

    // The active reports itself unhealthy: the CIDRs move to the standby, whose peer is updated, not re-added.
    const before = driver.calls.length;
    await put('w1', '192.168.2.11', 100, 'Unhealthy');
    await waitFor('the CIDRs to move to w2', () => keeper.plan?.active[W] === 'w2');
    await waitFor('the driver update', () => driver.calls.slice(before).some((c) => c.op === 'update' && c.peer.id === `${W}.w2`));
    const moved = driver.calls.slice(before);
    expect(moved.filter((c) => c.op === 'add' || c.op === 'delete')).toEqual([]);
    expect((await peers()).find((p) => p.id === `${W}.w2`)?.remoteCidrs).toEqual(['10.20.0.0/16', '10.96.20.0/24']);

    // w1 comes back healthy, w2 is deleted from the broker: w2's tunnel goes, w1 carries the CIDRs again.
    await put('w1', '192.168.2.11', 100);
    await west.deleteGateway(W, 'w2');
    await waitFor('w2 removed', () => driver.calls.some((c) => c.op === 'delete' && c.peerId === `${W}.w2`));
    await waitFor('w1 active again', () => keeper.plan?.active[W] === 'w1');

    // Nobody re-publishes w1: it goes stale with time (no event) and its cluster's CIDRs stop being routed.
    await waitFor('w1 stale', () => keeper.plan?.active[W] === null);
    await keeper.stop(true);
    expect(driver.calls.at(-1)).toEqual({ op: 'remove' });
    // Own cluster's gateways never become peers.
    expect(driver.calls.some((c) => (c.op === 'add' || c.op === 'update') && c.peer.cluster === E)).toBe(false);
  }, 30_000);

  it('with probes, elects the remote active like the remote nodes: a probed-down active loses the CIDRs while its record is fresh, a recovery waits out the hold-down', async () => {
    const W = `west-${runId}`;
    const keys = { p1: generateWireguardKeyPair().publicKey, p2: generateWireguardKeyPair().publicKey };
    const put = (name: 'p1' | 'p2', ip: string, priority: number) =>
      west.putGateway(W, name, { endpoints: [ip], tunnelTypes: ['wireguard'], publicKeys: { wireguard: keys[name] }, priority, health: 'Healthy' });
    await put('p1', '192.168.5.11', 100);
    await put('p2', '192.168.5.12', 50);
    // A hand-driven prober: the test says which remote gateways answer.
    let report: ((name: string, up: boolean, at: number) => void) | undefined;
    let targets: string[] = [];
    const prober = {
      start: async (t: readonly { name: string; address: string; port: number }[], cb: (name: string, up: boolean, at: number) => void) => {
        targets = t.map((x) => `${x.name}@${x.address}:${x.port}`);
        report = cb;
      },
      stop: async () => undefined,
    };
    let clock = 0;
    const driver = new RecordingTunnelDriver('wireguard', {
      runId, gatewayId: 'east.e9', localUnderlayIp: '192.168.1.19', underlayDev: 'eth0', localCidrs: ['10.10.0.0/16'],
      stateDir: `/tmp/strait/${runId}/keeper2`, keys: { wireguardPrivateKey: generateWireguardKeyPair().privateKey },
    });
    const keeper = new TunnelKeeper({
      cluster: `east-${runId}`, type: 'wireguard', driver, broker: east, log: silent, tickMs: 50,
      probe: { prober: () => prober, port: 4801, holdDownMs: 1000, clock: () => clock },
    });
    keeperStops.push(() => keeper.stop(true));
    await keeper.start();
    await waitFor('probe targets', () => targets.length >= 2);
    expect(targets).toContain(`${W}/p1@192.168.5.11:4801`);
    // Not probed yet: healthy, so priority decides.
    await waitFor('p1 active', () => keeper.plan?.active[W] === 'p1');
    report!(`${W}/p1`, true, clock);
    report!(`${W}/p2`, true, clock);
    clock = 100;
    report!(`${W}/p1`, false, clock);
    await waitFor('p2 active after p1 probed down', () => keeper.plan?.active[W] === 'p2');
    const rec = (await east.listGateways({ cluster: W })).items.find((g) => g.name === 'p1');
    expect(rec?.health).toBe('Healthy'); // the broker still says so: the switch came from the probes
    clock = 200;
    report!(`${W}/p1`, true, clock);
    await new Promise((r) => setTimeout(r, 200));
    expect(keeper.plan?.active[W]).toBe('p2'); // hold-down
    clock = 1300;
    await waitFor('p1 back after the hold-down', () => keeper.plan?.active[W] === 'p1');
    // Every candidate probed down: the last choice stays.
    report!(`${W}/p1`, false, clock);
    report!(`${W}/p2`, false, clock);
    await new Promise((r) => setTimeout(r, 200));
    expect(keeper.plan?.active[W]).toBe('p1');
    await keeper.stop(true);
    await west.deleteGateway(W, 'p1');
    await west.deleteGateway(W, 'p2');
  }, 30_000);

  it('follows the remote cluster\'s own lease holder when it answers: a blip only this gateway saw costs no hold-down', async () => {
    const W = `west-${runId}`;
    const keys = { q1: generateWireguardKeyPair().publicKey, q2: generateWireguardKeyPair().publicKey };
    const put = (name: 'q1' | 'q2', ip: string, priority: number, active: boolean) =>
      west.putGateway(W, name, { endpoints: [ip], tunnelTypes: ['wireguard'], publicKeys: { wireguard: keys[name] }, priority, health: 'Healthy', active });
    await put('q1', '192.168.6.11', 100, true);
    await put('q2', '192.168.6.12', 50, false);
    let report: ((name: string, up: boolean, at: number) => void) | undefined;
    const prober = {
      start: async (_t: unknown, cb: (name: string, up: boolean, at: number) => void) => {
        report = cb;
      },
      stop: async () => undefined,
    };
    let clock = 0;
    const driver = new RecordingTunnelDriver('wireguard', {
      runId, gatewayId: 'east.e8', localUnderlayIp: '192.168.1.18', underlayDev: 'eth0', localCidrs: ['10.10.0.0/16'],
      stateDir: `/tmp/strait/${runId}/keeper3`, keys: { wireguardPrivateKey: generateWireguardKeyPair().privateKey },
    });
    const keeper = new TunnelKeeper({
      cluster: `east-${runId}`, type: 'wireguard', driver, broker: east, log: silent, tickMs: 50,
      probe: { prober: () => prober, port: 4801, holdDownMs: 60_000, clock: () => clock },
    });
    keeperStops.push(() => keeper.stop(true));
    await keeper.start();
    await waitFor('q1 active', () => report !== undefined && keeper.plan?.active[W] === 'q1');
    report!(`${W}/q1`, true, clock);
    report!(`${W}/q2`, true, clock);
    // A blip only this gateway sees: q1 probed down, then back. Its cluster never moved (q1 still says active).
    clock = 100;
    report!(`${W}/q1`, false, clock);
    await waitFor('q2 carries the CIDRs while q1 is probed down', () => keeper.plan?.active[W] === 'q2');
    clock = 130;
    report!(`${W}/q1`, true, clock);
    // Without following the claim this would wait out the 60 s hold-down.
    await waitFor('q1 back at once: its cluster still routes through it', () => keeper.plan?.active[W] === 'q1');
    // A real failover: q2 takes the lease and says so; q1 comes back later, its old record still claiming.
    clock = 200;
    report!(`${W}/q1`, false, clock);
    await put('q2', '192.168.6.12', 50, true);
    await waitFor('q2 active', () => keeper.plan?.active[W] === 'q2');
    clock = 300;
    report!(`${W}/q1`, true, clock);
    await new Promise((r) => setTimeout(r, 300));
    expect(keeper.plan?.active[W]).toBe('q2'); // q2's claim is the newer one
    await keeper.stop(true);
    await west.deleteGateway(W, 'q1');
    await west.deleteGateway(W, 'q2');
  }, 30_000);
});

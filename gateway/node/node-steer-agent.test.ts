import { describe, it, expect } from '@jest/globals';
import { createLogger } from '../../host/index.js';
import { RecordingNodeEgress, RecordingNodeRoutes } from '../egress/datapath-fake.js';
import type { EgressRule } from '../egress/egress-resolve.js';
import type { GatewayMode } from '../failover/election.js';
import { NodeSteerAgent, noGatewayGraceMs } from './node-steer-agent.js';
import type { AgentStatus } from '../agents/agent-status.js';
import { PROFILES } from '../failover/profiles.js';
import { ManualProber } from '../failover/prober-fake.js';

const candidates = [
  { name: 'gw1', address: '10.0.0.11', priority: 100 },
  { name: 'gw2', address: '10.0.0.12', priority: 50 },
  { name: 'gw3', address: '10.0.0.13', priority: 50 },
];
const rule: EgressRule = { policy: 'a/p', gateway: 'egw', family: 'ipv4', priority: 100, sources: ['10.1.0.0/24'], destinations: ['0.0.0.0/0'], egressIp: '172.31.0.201', mark: 0x5e00 };

function setup(mode: GatewayMode, writeStatus?: (s: AgentStatus) => void) {
  let now = 0;
  const routes = new RecordingNodeRoutes();
  const egress = new RecordingNodeEgress();
  const prober = new ManualProber();
  const agent = new NodeSteerAgent(
    { cluster: 'c', name: 'n1', profile: PROFILES.default, mode, candidates, probePort: 1, remoteCidrs: ['10.60.0.0/16'], egress: { rules: [rule], candidates, clusterCidrs: [] } },
    { routes, egress, prober, log: createLogger('n1', 'silent'), clock: () => now, ...(writeStatus ? { writeStatus } : {}) },
  );
  return { agent, routes, egress, prober, advance: (ms: number) => { now += ms; }, now: () => now };
}

describe('NodeSteerAgent (fakes)', () => {
  it('active-standby: routes and egress follow the election, a recovered gateway waits for the hold-down', async () => {
    const t = setup('active-standby');
    await t.agent.start();
    for (const c of candidates) t.prober.onChange?.(c.name, true, 0);
    await t.agent.evaluate();
    expect(await t.routes.current()).toEqual(new Map([['10.60.0.0/16', ['10.0.0.11']]]));
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw1']]));
    t.prober.onChange?.('gw1', false, 10);
    await t.agent.evaluate();
    expect(await t.routes.current()).toEqual(new Map([['10.60.0.0/16', ['10.0.0.12']]]));
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw2']]));
    t.advance(100);
    t.prober.onChange?.('gw1', true, t.now());
    await t.agent.evaluate();
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw2']])); // held down
    t.advance(PROFILES.default.holdDownMs);
    await t.agent.evaluate();
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw1']]));
    await t.agent.stop();
  });

  it('holds down a gateway it first sees up late, while it steers to another (a comeback it never saw go down)', async () => {
    const t = setup('active-standby');
    await t.agent.start();
    // gw1 is down when the node starts: only gw2 and gw3 answer.
    t.prober.onChange?.('gw2', true, 0);
    t.prober.onChange?.('gw3', true, 0);
    await t.agent.evaluate();
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw2']]));
    t.advance(5000);
    t.prober.onChange?.('gw1', true, t.now());
    await t.agent.evaluate();
    // gw1's own agent holds itself down (gw2 holds the lease): the node must not steer egress to it yet.
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw2']]));
    t.advance(PROFILES.default.holdDownMs);
    await t.agent.evaluate();
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw1']]));
    await t.agent.stop();
  });

  it('takes the best gateway at once when it answers within the first probe rounds', async () => {
    const t = setup('active-standby');
    await t.agent.start();
    t.prober.onChange?.('gw2', true, 0);
    await t.agent.evaluate();
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw2']]));
    t.advance(PROFILES.default.probeIntervalMs);
    t.prober.onChange?.('gw1', true, t.now());
    await t.agent.evaluate();
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw1']]));
    await t.agent.stop();
  });

  it('active-active: all healthy gateways carry routes; a dead one is removed alone; none healthy past the grace → no routes, egress blackholed', async () => {
    const t = setup('active-active');
    await t.agent.start();
    for (const c of candidates) t.prober.onChange?.(c.name, true, 0);
    await t.agent.evaluate();
    expect((await t.routes.current()).get('10.60.0.0/16')).toEqual(['10.0.0.11', '10.0.0.12', '10.0.0.13']);
    t.prober.onChange?.('gw2', false, 5);
    await t.agent.evaluate();
    expect((await t.routes.current()).get('10.60.0.0/16')).toEqual(['10.0.0.11', '10.0.0.13']);
    for (const c of ['gw1', 'gw3']) t.prober.onChange?.(c, false, 6);
    await t.agent.evaluate();
    // A blip of the last healthy gateways keeps them for a grace period; a gateway back within it changes nothing.
    expect((await t.routes.current()).get('10.60.0.0/16')).toEqual(['10.0.0.11', '10.0.0.13']);
    t.advance(noGatewayGraceMs(PROFILES.default) - 1);
    await t.agent.evaluate();
    expect((await t.routes.current()).get('10.60.0.0/16')).toEqual(['10.0.0.11', '10.0.0.13']);
    t.advance(1);
    await t.agent.evaluate();
    expect((await t.routes.current()).size).toBe(0);
    expect(await t.egress.current()).toEqual(new Map([['egw', null]]));
    await t.agent.stop();
  });

  it('rewrites its status when only a standby gateway\'s health changes (routes stay)', async () => {
    const written: AgentStatus[] = [];
    const t = setup('active-standby', (st) => written.push(st));
    await t.agent.start();
    t.prober.onChange?.('gw1', true, 0);
    await t.agent.evaluate();
    const before = written.length;
    t.prober.onChange?.('gw2', true, 1); // gw1 stays active: no route change
    await t.agent.evaluate();
    expect(await t.routes.current()).toEqual(new Map([['10.60.0.0/16', ['10.0.0.11']]]));
    expect(written.length).toBeGreaterThan(before);
    expect(written.at(-1)?.health).toMatchObject({ gw1: true, gw2: true });
    const settled = written.length;
    await t.agent.evaluate(); // nothing changed: nothing rewritten
    expect(written.length).toBe(settled);
    await t.agent.stop();
  });

  it('follows the gateway that answers and holds the lease: a blip only this node saw costs no hold-down', async () => {
    const t = setup('active-standby');
    await t.agent.start();
    for (const c of candidates) t.prober.onChange?.(c.name, true, 0);
    t.prober.onClaim?.('gw1', 7, 0);
    await t.agent.evaluate();
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw1']]));
    // Probed down: left at once (it may be dead), the election picks the standby that would take over.
    t.advance(10);
    t.prober.onChange?.('gw1', false, t.now());
    await t.agent.evaluate();
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw2']]));
    // Back 30 ms later, still holding epoch 7: it never stopped serving, so back to it now, not after the hold-down.
    t.advance(30);
    t.prober.onChange?.('gw1', true, t.now());
    await t.agent.evaluate();
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw1']]));
    expect(await t.routes.current()).toEqual(new Map([['10.60.0.0/16', ['10.0.0.11']]]));
    await t.agent.stop();
  });

  it('stays with the lease holder until the preferred gateway takes the lease back; two claimants: the higher epoch', async () => {
    const t = setup('active-standby');
    await t.agent.start();
    for (const c of candidates) t.prober.onChange?.(c.name, true, 0);
    t.prober.onClaim?.('gw1', 7, 0);
    await t.agent.evaluate();
    t.advance(10);
    t.prober.onChange?.('gw1', false, t.now());
    t.prober.onClaim?.('gw2', 8, t.now()); // gw2 took over
    await t.agent.evaluate();
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw2']]));
    // gw1 returns, its replies still claiming the epoch it lost (its agent has not noticed yet): the newer one wins.
    t.advance(100);
    t.prober.onChange?.('gw1', true, t.now());
    await t.agent.evaluate();
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw2']]));
    t.prober.onClaim?.('gw1', 0, t.now());
    // The hold-down is over and gw1 ranks first, but gw2 still serves: no move before gw1 holds the lease.
    t.advance(PROFILES.default.holdDownMs);
    await t.agent.evaluate();
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw2']]));
    t.prober.onClaim?.('gw2', 0, t.now());
    t.prober.onClaim?.('gw1', 9, t.now());
    await t.agent.evaluate();
    expect(await t.egress.current()).toEqual(new Map([['egw', 'gw1']]));
    await t.agent.stop();
  });

  it('active-active ignores claims (every healthy gateway carries flows)', async () => {
    const t = setup('active-active');
    await t.agent.start();
    for (const c of candidates) t.prober.onChange?.(c.name, true, 0);
    t.prober.onClaim?.('gw2', 3, 0);
    await t.agent.evaluate();
    expect((await t.routes.current()).get('10.60.0.0/16')).toHaveLength(3);
    await t.agent.stop();
  });
});

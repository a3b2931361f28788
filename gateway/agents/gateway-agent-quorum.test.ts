import { describe, it, expect } from '@jest/globals';
import { createLogger } from '../../host/index.js';
import { GatewayAgent } from './gateway-agent.js';
import { QuorumLeaseStore, quorumRenewTimeoutMs, quorumTimeoutMs } from '../failover/lease-quorum.js';
import { FakeQuorumStore, type FakeQuorumLink } from '../failover/lease-quorum-fake.js';
import { PROFILES } from '../failover/profiles.js';
import { ManualProber, RecordingGatewayEgress, SilentResponder } from '../testing.js';

// Two gateway agents on a quorum lease over three fake stores (fake clock): what losing one store does to them.
const EIP = '172.31.0.201';
const profile = PROFILES.default;
const candidates = [
  { name: 'gw1', address: '10.0.0.11', priority: 100 },
  { name: 'gw2', address: '10.0.0.12', priority: 50 },
];

async function setup() {
  let now = 0;
  const clock = (): number => now;
  const stores = ['a', 'b', 'c'].map((n) => new FakeQuorumStore(n, clock));
  const mk = (name: string) => {
    const links = stores.map((s) => s.link(name));
    const store = new QuorumLeaseStore(links, { guardMs: profile.maxLeaseTtlMs, timeoutMs: quorumTimeoutMs(profile), renewTimeoutMs: quorumRenewTimeoutMs(profile) });
    const egress = new RecordingGatewayEgress(clock);
    const prober = new ManualProber();
    const agent = new GatewayAgent(
      { cluster: 'c', name, profile, candidates, probePort: 1, egress: { gateway: 'egw', config: { rules: [], egressIps: [EIP] } } },
      { leaseStore: store, egress, prober, responder: new SilentResponder(), log: createLogger(name, 'silent'), clock },
    );
    return { agent, egress, prober, links };
  };
  const gw1 = mk('gw1');
  const gw2 = mk('gw2');
  await gw1.agent.start();
  await gw2.agent.start();
  gw1.prober.onChange?.('gw2', true, 0);
  gw2.prober.onChange?.('gw1', true, 0);
  /** One renewal interval of both agents; the egress IP is never on both. */
  const step = async (who = [gw1, gw2]): Promise<void> => {
    for (const g of who) await g.agent.tick();
    for (const g of who) await g.agent.idle();
    const [a, b] = [await gw1.egress.live(), await gw2.egress.live()];
    expect(a.includes(EIP) && b.includes(EIP)).toBe(false);
    now += profile.renewIntervalMs;
  };
  // Out of the stores' first-start guard, then gw1 (higher priority) serves.
  for (let t = 0; t < profile.maxLeaseTtlMs + 10 * profile.renewIntervalMs; t += profile.renewIntervalMs) await step();
  expect(await gw1.egress.live()).toEqual([EIP]);
  return { stores, gw1, gw2, step, now: () => now };
}

const faults: [string, (s: FakeQuorumStore[], gw1Links: FakeQuorumLink[]) => void][] = [
  ['killed', (s) => s[1]!.crash()],
  ['frozen', (s) => s[1]!.freeze()],
  ['cut off from the holder', (_s, l) => l[1]!.cut()],
  ['killed and back empty', (s) => { s[1]!.crash(); s[1]!.restart(); }],
];

describe('gateway agents on a quorum lease: one store lost', () => {
  it.each(faults)('a store %s in steady state: no role change, the same epoch, the egress IP stays', async (_name, fault) => {
    const t = await setup();
    const epoch = t.gw1.agent.status().epoch;
    fault(t.stores, t.gw1.links);
    for (let i = 0; i < 60; i++) {
      await t.step();
      expect(t.gw1.agent.status()).toMatchObject({ role: 'active', epoch });
      expect(await t.gw1.egress.live()).toEqual([EIP]);
    }
    expect(t.gw2.agent.status().role).toBe('standby');
    await t.gw1.agent.stop();
    await t.gw2.agent.stop();
  });

  it('a store killed with the active gateway: the standby takes over through the other two, within one lease', async () => {
    const t = await setup();
    const epoch = t.gw1.agent.status().epoch ?? 0;
    t.stores[0]!.crash();
    t.gw2.prober.onChange?.('gw1', false, t.now()); // gw1 died: no more ticks from it
    const from = t.now();
    let tookOver = -1;
    for (let i = 0; i < 20 && tookOver < 0; i++) {
      await t.step([t.gw2]);
      if ((await t.gw2.egress.live()).includes(EIP)) tookOver = t.now() - from;
    }
    expect(tookOver).toBeGreaterThan(0);
    expect(tookOver).toBeLessThanOrEqual(profile.leaseTtlMs + profile.renewIntervalMs);
    expect(t.gw2.agent.status().epoch).toBeGreaterThan(epoch);
    await t.gw1.agent.stop();
    await t.gw2.agent.stop();
  });
});

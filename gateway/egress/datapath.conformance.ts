import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import type { GatewayEgress, NodeEgress, NodeMasquerade, NodeRoutes } from './datapath.js';
import type { EgressRule } from './egress-resolve.js';
import type { CandidateAddress } from '../agents/agent-argv.js';

export interface DatapathUnderTest {
  routes: NodeRoutes;
  nodeEgress: NodeEgress;
  nodeMasquerade: NodeMasquerade;
  gatewayEgress: GatewayEgress;
  sleep(ms: number): Promise<void>;
  /** The clock `GatewayEgress.serve` deadlines are on. */
  now(): number;
  teardown(): Promise<void>;
}

/** Addresses the environment must make valid: next hops on the node's link, egress IPs on the gateway's WAN. */
export const CONFORMANCE_NET = {
  nexthops: ['10.77.0.11', '10.77.0.12', '10.77.0.13'],
  candidates: [
    { name: 'gw1', address: '10.77.0.11', priority: 100 },
    { name: 'gw2', address: '10.77.0.12', priority: 50 },
  ] as CandidateAddress[],
  eips: ['172.77.0.201', '172.77.0.202'],
};

const rule = (over: Partial<EgressRule> = {}): EgressRule => ({
  policy: 'ns/p', gateway: 'default', family: 'ipv4', priority: 100, sources: ['10.77.0.2/32'],
  destinations: ['172.77.0.0/24'], egressIp: '172.77.0.201', mark: 0x5e00, ...over,
});

/** One suite for the Linux datapath and the recording fake. */
export function datapathConformance(name: string, setup: () => Promise<DatapathUnderTest>): void {
  describe(`datapath conformance: ${name}`, () => {
    let dp: DatapathUnderTest;
    beforeAll(async () => {
      dp = await setup();
    });
    afterAll(async () => {
      await dp?.teardown();
    });

    it('NodeRoutes: active-standby routes move with the next hop, idempotently', async () => {
      const [a, b] = CONFORMANCE_NET.nexthops as [string, string];
      await dp.routes.ensure({ remoteCidrs: ['10.20.0.0/16', '10.21.0.0/16'], nexthops: [a, b], mode: 'active-standby' });
      await dp.routes.ensure({ remoteCidrs: ['10.20.0.0/16', '10.21.0.0/16'], nexthops: [a, b], mode: 'active-standby' });
      expect(await dp.routes.current()).toEqual(new Map([['10.20.0.0/16', [a]], ['10.21.0.0/16', [a]]]));
      await dp.routes.ensure({ remoteCidrs: ['10.20.0.0/16'], nexthops: [b], mode: 'active-standby' });
      expect(await dp.routes.current()).toEqual(new Map([['10.20.0.0/16', [b]]]));
      await dp.routes.ensure({ remoteCidrs: ['10.20.0.0/16'], nexthops: [], mode: 'active-standby' });
      expect((await dp.routes.current()).size).toBe(0);
    });

    it('NodeRoutes: active-active spreads over every healthy gateway and drops a dead one', async () => {
      const [a, b, c] = CONFORMANCE_NET.nexthops as [string, string, string];
      await dp.routes.ensure({ remoteCidrs: ['10.30.0.0/16'], nexthops: [a, b, c], mode: 'active-active' });
      expect((await dp.routes.current()).get('10.30.0.0/16')?.sort()).toEqual([a, b, c].sort());
      await dp.routes.ensure({ remoteCidrs: ['10.30.0.0/16'], nexthops: [a, c], mode: 'active-active' });
      expect((await dp.routes.current()).get('10.30.0.0/16')?.sort()).toEqual([a, c].sort());
      await dp.routes.clear();
      expect((await dp.routes.current()).size).toBe(0);
    });

    it('NodeEgress: blackholed until steered, then one candidate at a time', async () => {
      await dp.nodeEgress.apply({ rules: [rule()], candidates: CONFORMANCE_NET.candidates, clusterCidrs: ['10.77.0.0/24'] });
      expect(await dp.nodeEgress.current()).toEqual(new Map([['default', null]]));
      await dp.nodeEgress.steer(new Map([['default', 'gw1']]));
      expect(await dp.nodeEgress.current()).toEqual(new Map([['default', 'gw1']]));
      await dp.nodeEgress.steer(new Map([['default', 'gw2']]));
      expect(await dp.nodeEgress.current()).toEqual(new Map([['default', 'gw2']]));
      // Re-applying the same config keeps the steering.
      await dp.nodeEgress.apply({ rules: [rule()], candidates: CONFORMANCE_NET.candidates, clusterCidrs: ['10.77.0.0/24'] });
      expect(await dp.nodeEgress.current()).toEqual(new Map([['default', 'gw2']]));
      await dp.nodeEgress.steer(new Map([['default', undefined]]));
      expect(await dp.nodeEgress.current()).toEqual(new Map([['default', null]]));
      await dp.nodeEgress.clear();
      expect((await dp.nodeEgress.current()).size).toBe(0);
    });

    it('NodeMasquerade: installs the normal form, follows a cluster leaving by element changes, refuses a bad CIDR', async () => {
      const m = dp.nodeMasquerade;
      await m.clear();
      expect(await m.current()).toBeUndefined();
      const intent = {
        podCidrs: ['10.77.0.0/24', '10.77.0.128/25', 'fd00:77::/64'],
        clusterCidrs: ['10.77.0.0/16', '10.76.0.0/16', '10.79.1.0/24', '10.79.1.7', 'fd00::/16'],
        egressMarks: [0x5e01, 0x5e00, 0x5e01],
      };
      await m.ensure(intent);
      await m.ensure(intent);
      const installed = { podCidrs: ['10.77.0.0/24', 'fd00:77::/64'], clusterCidrs: ['10.76.0.0/15', '10.79.1.0/24', 'fd00::/16'], egressMarks: [0x5e00, 0x5e01] };
      expect(await m.current()).toEqual(installed);
      // 10.76.0.0/16's cluster leaves (its span was merged with 10.77.0.0/16): one transaction replaces the span.
      await m.ensure({ ...intent, clusterCidrs: ['10.77.0.0/16', '10.79.1.0/24', '10.79.3.0-10.79.3.9', 'fd00::/16'], egressMarks: [0x5e00] });
      const after = { podCidrs: installed.podCidrs, clusterCidrs: ['10.77.0.0/16', '10.79.1.0/24', '10.79.3.0-10.79.3.9', 'fd00::/16'], egressMarks: [0x5e00] };
      expect(await m.current()).toEqual(after);
      await m.forget(['10.77.0.5/32', '10.77.0.0/24', 'fd00:77::5/128']); // no flow to forget: fine
      await expect(m.ensure({ ...intent, clusterCidrs: ['10.77.0.0/33'] })).rejects.toThrow();
      expect(await m.current()).toEqual(after);
      await m.clear();
      await m.clear();
      expect(await m.current()).toBeUndefined();
    });

    it('GatewayEgress: serve makes an egress IP live until the deadline, release ends it at once', async () => {
      const [e1, e2] = CONFORMANCE_NET.eips as [string, string];
      await dp.gatewayEgress.apply({ rules: [rule()], egressIps: [e1, e2] });
      expect(await dp.gatewayEgress.live()).toEqual([]);
      expect(await dp.gatewayEgress.serve([e1], dp.now() + 10_000)).toEqual([e1]);
      expect(await dp.gatewayEgress.serve([e1], dp.now() + 10_000)).toEqual([]); // already live: extended, not re-announced
      expect(await dp.gatewayEgress.live()).toEqual([e1]);
      await dp.gatewayEgress.release([e1]);
      expect(await dp.gatewayEgress.live()).toEqual([]);
      expect(await dp.gatewayEgress.serve([e2], dp.now() - 1)).toEqual([]); // a past deadline does nothing
      expect(await dp.gatewayEgress.live()).toEqual([]);
      expect(await dp.gatewayEgress.serve([e2], dp.now() + 300)).toEqual([e2]);
      await dp.sleep(700);
      expect(await dp.gatewayEgress.live()).toEqual([]); // the fence ran out on its own
      await dp.gatewayEgress.clear();
    });

    it('GatewayEgress: new rules with the same egress IPs keep the live ones live; other IPs start dark', async () => {
      const [e1, e2] = CONFORMANCE_NET.eips as [string, string];
      await dp.gatewayEgress.apply({ rules: [rule()], egressIps: [e1, e2] });
      await dp.gatewayEgress.serve([e1], dp.now() + 10_000);
      // A pod started matching: its address joins the rule's sources. Nothing else changes, so e1 stays live.
      await dp.gatewayEgress.apply({ rules: [rule({ sources: ['10.77.0.2/32', '10.77.0.3/32'] })], egressIps: [e1, e2] });
      expect(await dp.gatewayEgress.live()).toEqual([e1]);
      await dp.gatewayEgress.apply({ rules: [], egressIps: [e1, e2] });
      expect(await dp.gatewayEgress.live()).toEqual([e1]);
      // Another set of egress IPs is a new config: nothing is live until served.
      await dp.gatewayEgress.apply({ rules: [rule()], egressIps: [e1] });
      expect(await dp.gatewayEgress.live()).toEqual([]);
      await dp.gatewayEgress.clear();
    });
  });
}

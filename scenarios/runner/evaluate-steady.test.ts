import { describe, expect, it } from '@jest/globals';
import { syntheticFenceLooks, syntheticTcp, syntheticUdp } from '../probes/fixtures.js';
import { evaluateSteady, type SteadyMeasurement } from './evaluate-steady.js';

const T = 1_800_000_000_000;
const EIP = '172.31.0.200';

function steady(over: Partial<SteadyMeasurement> = {}): SteadyMeasurement {
  return {
    profile: 'default',
    cluster: 'c1',
    startedAt: T,
    endedAt: T + 10_000,
    flows: [
      { kind: 'cross-cluster', expectedSource: '10.11.1.2', udp: syntheticUdp({ start: T, durationMs: 10_000 }), tcp: syntheticTcp({ start: T, durationMs: 10_000 }) },
      { kind: 'egress', expectedSource: EIP, udp: syntheticUdp({ start: T, durationMs: 10_000, src: `${EIP}:4000` }), tcp: syntheticTcp({ start: T, durationMs: 10_000 }) },
    ],
    events: [{ at: T - 100, kind: 'route', cluster: 'c1', gateway: 'c1-gw1' }],
    fenceLooks: syntheticFenceLooks({ start: T - 200, durationMs: 10_300, gateways: ['c1-gw1', 'c1-gw2'], live: (g) => g === 'c1-gw1' }),
    ...over,
  };
}

describe('steady run evaluation', () => {
  it('a quiet run: no role change, nothing lost, no gap', () => {
    const r = evaluateSteady(steady());
    expect(r).toMatchObject({ roleChanges: 0, lostProbes: 0, sentProbes: 2000, egressGapMs: 0, gapMs: { 'cross-cluster': 0, egress: 0 }, tcp: { 'cross-cluster': 'survived', egress: 'survived' }, violations: [] });
  });

  it('counts a route flap and an egress-IP move as role changes and measures the egress gap', () => {
    const m = steady({
      events: [
        { at: T - 100, kind: 'route', cluster: 'c1', gateway: 'c1-gw1' },
        { at: T + 4000, kind: 'route', cluster: 'c1', gateway: 'c1-gw2' },
        { at: T + 4500, kind: 'route', cluster: 'c1', gateway: 'c1-gw2' },
        { at: T + 5000, kind: 'route', cluster: 'c2', gateway: 'c2-gw2' },
      ],
      fenceLooks: syntheticFenceLooks({ start: T - 200, durationMs: 10_300, gateways: ['c1-gw1', 'c1-gw2'], live: (g, t) => (g === 'c1-gw1' ? t < T + 4000 : t >= T + 4200) }),
    });
    m.flows[1]!.udp = syntheticUdp({ start: T, durationMs: 10_000, src: `${EIP}:4000`, lossFrom: T + 4000, lossTo: T + 4250 });
    const r = evaluateSteady(m);
    expect(r.routeMoves).toEqual([{ at: T + 4000, from: 'c1-gw1', to: 'c1-gw2' }]);
    expect(r.eipMoves).toEqual([{ at: T + 4201, ip: EIP, from: 'c1-gw1', to: 'c1-gw2' }]);
    expect(r.roleChanges).toBe(2);
    expect(r.lostProbes).toBe(25);
    expect(r.egressGapMs).toBe(260);
    expect(r.eipConflicts).toEqual([]);
    expect(r.violations.join('\n')).toMatch(/traffic of c1 moved from c1-gw1 to c1-gw2 at startedAt\+4000 ms/);
    expect(r.violations.join('\n')).toMatch(/egress IP 172\.31\.0\.200 moved from c1-gw1 to c1-gw2/);
  });

  it('a run of sightings broken on the same gateway is no move; a gap at the very start counts too', () => {
    const m = steady({ fenceLooks: syntheticFenceLooks({ start: T - 200, durationMs: 10_300, gateways: ['c1-gw1', 'c1-gw2'], live: (g, t) => g === 'c1-gw1' && (t < T + 3000 || t >= T + 3050) }) });
    m.flows[1]!.udp = syntheticUdp({ start: T, durationMs: 10_000, src: `${EIP}:4000`, lossFrom: T + 10, lossTo: T + 100 });
    const r = evaluateSteady(m);
    expect(r.roleChanges).toBe(0);
    expect(r.egressGapMs).toBe(100);
  });

  it('flows that stop, break or are never answered, and a conflict, are violations', () => {
    const m = steady({ fenceLooks: syntheticFenceLooks({ start: T - 200, durationMs: 10_300, gateways: ['c1-gw1', 'c1-gw2'], live: (g, t) => g === 'c1-gw1' || t >= T + 9000 }) });
    m.flows[0]!.udp = syntheticUdp({ start: T, durationMs: 10_000, lossFrom: T + 9000 });
    m.flows[0]!.tcp = syntheticTcp({ start: T, durationMs: 10_000, brokeAt: T + 9000 });
    m.flows[1]!.udp = syntheticUdp({ start: T, durationMs: 10_000, lossFrom: T });
    const r = evaluateSteady(m);
    expect(r.egressGapMs).toBe(10_000);
    expect(r.eipConflicts).toHaveLength(1);
    expect(r.violations.join('\n')).toMatch(/cross-cluster traffic stopped being answered/);
    expect(r.violations.join('\n')).toMatch(/egress traffic was never answered/);
    expect(r.violations.join('\n')).toMatch(/cross-cluster TCP stream broke/);
    expect(r.violations.join('\n')).toMatch(/egress IP 172\.31\.0\.200 was live on c1-gw1 and c1-gw2 .* from start\+9001 ms/);
  });
});

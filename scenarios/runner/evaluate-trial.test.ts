import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { failoverEvents, syntheticFenceLooks, syntheticTcp, syntheticUdp } from '../probes/fixtures.js';
import { FAULT_KINDS, parseScenario } from '../model/scenario.js';
import { leaseStoreCutRuleset } from '../faults/inject.js';
import { evaluateTrial, type TrialMeasurement } from './evaluate-trial.js';

const T = 1_800_000_000_000;
const EIP = '172.31.0.200';
const none = parseScenario('name: t\ntopology: x\nfaults: [{kind: lease-store-kill}]\nassertions: {takeover: none, maxOutageMs: 1}\n').assertions;

function steady(over: Partial<TrialMeasurement> = {}): TrialMeasurement {
  const clean = (): ReturnType<typeof syntheticUdp> => syntheticUdp({ start: T, durationMs: 3300 });
  return {
    index: 1, fault: 'lease-store-kill', faultKind: 'lease-store-kill', profile: 'default', cluster: 'c1',
    faultedGateway: 'c1-gw1', standbyGateway: 'c1-gw2', gateways: ['c1-gw1', 'c1-gw2'],
    startedAt: T, faultAt: T + 800, endedAt: T + 3300,
    flows: [
      { kind: 'cross-cluster', from: 'c1-n1-p1', expectedSource: '10.11.1.2', udp: clean(), tcp: syntheticTcp({ start: T, durationMs: 3300 }) },
      { kind: 'egress', from: 'c1-n1-p1', expectedSource: EIP, udp: syntheticUdp({ start: T, durationMs: 3300, src: () => `${EIP}:4000` }), tcp: syntheticTcp({ start: T, durationMs: 3300 }) },
    ],
    events: [{ at: T, kind: 'route', cluster: 'c1', gateway: 'c1-gw1' }, { at: T, kind: 'eip-add', gateway: 'c1-gw1', ip: EIP }],
    initialEips: [{ gateway: 'c1-gw1', ip: EIP }],
    fenceLooks: syntheticFenceLooks({ start: T, durationMs: 3300, gateways: ['c1-gw1', 'c1-gw2'], live: (g) => g === 'c1-gw1' }),
    ...over,
  };
}

describe('a fault that came too late to measure anything', () => {
  it('says "not measured" with the times, instead of passing as an outage of 0 ms', () => {
    // Seen under --stress cpu=8: the runner woke seconds late and stamped the fault after the probes had stopped.
    const v = evaluateTrial(steady({ faultAt: T + 3400, endedAt: T + 3500 }), none).result.violations.join('\n');
    expect(v).toMatch(/not measured: the fault came 3400 ms after the traffic began and only 0 ms of traffic followed it/);
    expect(evaluateTrial(steady(), none).result.violations).toEqual([]);
  });
});

describe('takeover: none (faults that must change nothing)', () => {
  it('passes when the faulted gateway keeps traffic and egress IP with no gap', () => {
    expect(evaluateTrial(steady(), none).result.violations).toEqual([]);
  });

  it('names a role change and a gap', () => {
    const m = steady({ events: failoverEvents(T, T + 920, EIP) });
    m.flows[1]!.udp = syntheticUdp({ start: T, durationMs: 3300, lossFrom: T + 800, lossTo: T + 1010, src: () => `${EIP}:4000` });
    const v = evaluateTrial(m, none).result.violations.join('\n');
    expect(v).toMatch(/expected c1-gw1 to keep the traffic, it ended on c1-gw2/);
    expect(v).toMatch(/role changed after the fault: .*172\.31\.0\.200 left c1-gw1/);
    expect(v).toMatch(/egress outage \d+ ms exceeds 1 ms/);
  });
});

describe('built-in scenarios', () => {
  it('cover every fault between them', () => {
    const dir = new URL('../builtin/', import.meta.url);
    const kinds = new Set(readdirSync(dir).filter((f) => f.endsWith('.yaml')).flatMap((f) => parseScenario(readFileSync(new URL(f, dir), 'utf8'), f).faults.map((x) => x.kind)));
    expect([...kinds].sort()).toEqual([...FAULT_KINDS].sort());
  });

  it('the lease-store scenarios: steady-state faults must change nothing, the failover one must fail over', () => {
    const dir = new URL('../builtin/', import.meta.url);
    const loss = parseScenario(readFileSync(new URL('lease-store-loss.yaml', dir), 'utf8'));
    expect(loss.assertions.takeover).toBe('none');
    expect(loss.leaseStores).toBe(3);
    expect(parseScenario(readFileSync(new URL('lease-store-failover.yaml', dir), 'utf8')).assertions.takeover).toBe('standby');
  });
});

describe('lease store cut', () => {
  it('drops the store\'s TCP port both ways, nothing else', () => {
    const r = leaseStoreCutRuleset('st_abc_lscut', 6382);
    expect(r).toContain('tcp dport 6382 drop');
    expect(r).toContain('tcp sport 6382 drop');
    expect(r.match(/drop/g)).toHaveLength(2);
  });
});

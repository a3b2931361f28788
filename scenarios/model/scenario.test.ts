import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { isStraitError } from '../../api/index.js';
import { FAULT_KINDS, faultLabel, outageLimitMs, parseScenario } from './scenario.js';

const minimal = 'name: t1\ntopology: two-clusters\nfaults:\n  - kind: gateway-sigkill\n';

function problems(text: string): string[] {
  try {
    parseScenario(text, 'x.yaml');
  } catch (e) {
    if (isStraitError(e, 'SCENARIO_INVALID')) return (e.details?.problems as string[] | undefined) ?? [e.message];
    throw e;
  }
  return [];
}

describe('scenario model', () => {
  it('fills defaults for a minimal scenario', () => {
    const s = parseScenario(minimal);
    expect(s.tunnel).toBe('wireguard');
    expect(s.profile).toBe('default');
    expect(s.traffic).toEqual({ kinds: ['cross-cluster', 'egress'], udpIntervalMs: 10, tcpStream: true });
    expect(s.assertions.takeover).toBe('standby');
    expect(s.assertions.noEipConflict).toBe(true);
    expect(faultLabel(s.faults[0]!)).toBe('gateway-sigkill');
  });

  it('accepts an inline topology', () => {
    const s = parseScenario('name: t2\ntopology: {name: x, clusters: [{name: c1}]}\nfaults: [{kind: partition}]\n');
    expect(s.topology).toEqual({ name: 'x', clusters: [{ name: 'c1' }] });
  });

  it.each([
    ['not yaml', 'name: [unclosed', /not valid YAML/],
    ['a list', '- a\n- b\n', /expected a mapping/],
    ['missing faults', 'name: t\ntopology: x\n', /faults/],
    ['unknown fault', 'name: t\ntopology: x\nfaults: [{kind: meteor}]\n', /faults\.0\.kind/],
    ['empty faults', 'name: t\ntopology: x\nfaults: []\n', /needs at least one fault/],
    ['steady with faults', 'name: t\nkind: steady\ntopology: x\nfaults: [{kind: partition}]\n', /steady scenario injects no fault/],
    ['duration of a failover', minimal + 'durationMs: 5000\n', /only a steady scenario has a duration/],
    ['steady too short', 'name: t\nkind: steady\ntopology: x\ndurationMs: 10\n', /durationMs/],
    ['unknown kind', 'name: t\nkind: soak\ntopology: x\n', /kind/],
    ['bad name', 'name: Bad Name\ntopology: x\nfaults: [{kind: partition}]\n', /name/],
    ['unknown key', minimal + 'colour: red\n', /colour|Unrecognized/i],
    ['interval 0', minimal + 'traffic: {udpIntervalMs: 0}\n', /traffic\.udpIntervalMs/],
    ['bad profile', minimal + 'profile: turbo\n', /profile/],
    ['duplicate fault', 'name: t\ntopology: x\nfaults: [{kind: partition}, {kind: partition}]\n', /appears twice/],
  ])('rejects %s with a clear message', (_label, text, re) => {
    const p = problems(text);
    expect(p.length).toBeGreaterThan(0);
    expect(p.join('\n')).toMatch(re);
  });

  it('names the file in the error message', () => {
    expect(() => parseScenario('name: t\n', 'mine.yaml')).toThrow(/^mine\.yaml: /);
  });

  it('takes the outage limit per profile', () => {
    const s = parseScenario(minimal + 'assertions: {maxOutageMs: {default: 300, fast: 100}}\n');
    expect(outageLimitMs(s.assertions, 'default')).toBe(300);
    expect(outageLimitMs(s.assertions, 'fast')).toBe(100);
    expect(outageLimitMs(parseScenario(minimal + 'assertions: {maxOutageMs: 700}\n').assertions, 'fast')).toBe(700);
  });

  it('the built-in steady scenario runs both kinds of traffic and no fault', () => {
    const s = parseScenario(readFileSync(new URL('../builtin/steady.yaml', import.meta.url), 'utf8'));
    expect(s.kind).toBe('steady');
    expect(s.faults).toEqual([]);
    expect(s.durationMs).toBe(60_000);
    expect(s.traffic.kinds.sort()).toEqual(['cross-cluster', 'egress']);
  });

  it('the built-in gateway-failover scenario covers every gateway fault for cross-cluster and egress traffic', () => {
    const s = parseScenario(readFileSync(new URL('../builtin/gateway-failover.yaml', import.meta.url), 'utf8'));
    // The lease-store faults have scenarios of their own (lease-store-loss, lease-store-failover).
    expect(s.faults.map((f) => f.kind).sort()).toEqual(FAULT_KINDS.filter((k) => !k.startsWith('lease-store-')).sort());
    expect(s.traffic.kinds.sort()).toEqual(['cross-cluster', 'egress']);
  });
});

import { describe, expect, it } from '@jest/globals';
import { isStraitError, type StraitError } from '../api/index.js';
import type { AllocationRequest } from './allocation-request.js';
import type { IPPool } from './model.js';
import { namespaceDefaultsFromAnnotations, poolsFromPodAnnotations } from './pool-annotations.js';
import { noPoolFits, selectPools } from './pool-selection.js';
import { compileIpamConfig, type CompiledPool } from './pool-validation.js';

const pools: IPPool[] = [
  { name: 'def4', subnet: '10.0.0.0/24', default: true },
  { name: 'def6', subnet: 'fd00::/64', default: true },
  { name: 'ann4', subnet: '10.1.0.0/24' },
  { name: 'ann6', subnet: 'fd01::/64' },
  { name: 'ns4', subnet: '10.2.0.0/24' },
  { name: 'net4', subnet: '10.3.0.0/24' },
  { name: 'off4', subnet: '10.4.0.0/24', disable: true },
  { name: 'team-a', subnet: '10.5.0.0/24', namespaceAffinity: { matchLabels: { team: 'a' } } },
  { name: 'rack1', subnet: '10.6.0.0/24', nodeAffinity: { matchExpressions: [{ key: 'rack', operator: 'In', values: ['r1'] }] } },
  { name: 'web', subnet: '10.7.0.0/24', podAffinity: { matchLabels: { app: 'web' } } },
];
const map = new Map<string, CompiledPool>(compileIpamConfig({ pools }).map((p) => [p.name, p]));
const base: AllocationRequest = { node: { name: 'n1', labels: { rack: 'r2' } } };
const pick = (req: Partial<AllocationRequest>, ifName = 'eth0', ns = 'default') => {
  const s = selectPools(map, ifName, ns, { ...base, ...req });
  return { source: s.source, ...Object.fromEntries(s.families.map((f) => [f.family, f.candidates.map((p) => p.name)])) };
};

describe('pool selection precedence', () => {
  const ann = { 'ipam.strait.io/ippool': JSON.stringify({ ipv4: ['ann4'], ipv6: ['ann6'] }) };
  it.each([
    ['cluster default (dual stack)', {}, { source: 'cluster-default', ipv4: ['def4'], ipv6: ['def6'] }],
    ['netconf over default', { netconfPools: { ipv4: ['net4'] } }, { source: 'netconf', ipv4: ['net4'] }],
    ['namespace over netconf', { netconfPools: { ipv4: ['net4'] }, namespaceDefaults: { ipv4: ['ns4'] } }, { source: 'namespace-default', ipv4: ['ns4'] }],
    ['pod annotation over namespace', { podAnnotations: ann, namespaceDefaults: { ipv4: ['ns4'] } }, { source: 'pod-annotation', ipv4: ['ann4'], ipv6: ['ann6'] }],
    ['explicit request over all', { pools: { ipv4: ['net4'] }, podAnnotations: ann }, { source: 'request', ipv4: ['net4'] }],
    ['empty lists fall through', { netconfPools: { ipv4: [] } }, { source: 'cluster-default', ipv4: ['def4'], ipv6: ['def6'] }],
  ])('%s', (_n, req, want) => {
    expect(pick(req)).toEqual(want);
  });

  it('uses the per-interface annotation for its interface and ippool for the others', () => {
    const podAnnotations = {
      'ipam.strait.io/ippool': JSON.stringify({ ipv4: ['ann4'] }),
      'ipam.strait.io/ippools': JSON.stringify([{ interface: 'net1', ipv4: ['net4'] }]),
    };
    expect(pick({ podAnnotations }, 'net1')).toEqual({ source: 'pod-annotation', ipv4: ['net4'] });
    expect(pick({ podAnnotations }, 'eth0')).toEqual({ source: 'pod-annotation', ipv4: ['ann4'] });
  });

  it('reads namespace defaults from annotations', () => {
    expect(namespaceDefaultsFromAnnotations({ 'ipam.strait.io/default-ipv4-ippool': '["ns4"]' })).toEqual({ ipv4: ['ns4'] });
    expect(namespaceDefaultsFromAnnotations({ other: 'x' })).toBeUndefined();
  });

  it.each([
    ['not JSON', { 'ipam.strait.io/ippool': '{ipv4' }],
    ['not an object', { 'ipam.strait.io/ippool': '["p"]' }],
    ['names not strings', { 'ipam.strait.io/ippool': '{"ipv4":[1]}' }],
    ['ippools not a list', { 'ipam.strait.io/ippools': '{}' }],
    ['ippools entry without interface', { 'ipam.strait.io/ippools': '[{"ipv4":["a"]}]' }],
  ])('rejects a bad annotation: %s', (_n, annotations) => {
    expect(() => poolsFromPodAnnotations(annotations, 'eth0')).toThrow(expect.objectContaining({ code: 'INVALID_POOL_ANNOTATION' }));
  });
});

describe('skipping pools', () => {
  it.each([
    ['disabled', { ipv4: ['off4', 'net4'] }, {}, 'disabled'],
    ['namespace affinity', { ipv4: ['team-a', 'net4'] }, {}, 'namespace-affinity'],
    ['node affinity', { ipv4: ['rack1', 'net4'] }, {}, 'node-affinity'],
    ['pod affinity', { ipv4: ['web', 'net4'] }, {}, 'pod-affinity'],
    ['unknown', { ipv4: ['nope', 'net4'] }, {}, 'not-found'],
    ['wrong family', { ipv4: ['def6', 'net4'] }, {}, 'wrong-family'],
  ])('%s', (_n, netconfPools, _extra, reason) => {
    const s = selectPools(map, 'eth0', 'default', { ...base, netconfPools });
    expect(s.families[0]!.candidates.map((p) => p.name)).toEqual(['net4']);
    expect(s.families[0]!.rejected.map((r) => r.reason)).toEqual([reason]);
    expect(s.explanation.join('\n')).toMatch(/skipped/);
  });

  it('matches affinity when labels fit', () => {
    const s = selectPools(map, 'eth0', 'ns-a', {
      node: { name: 'n1', labels: { rack: 'r1' } },
      namespaceLabels: { team: 'a' },
      podLabels: { app: 'web' },
      netconfPools: { ipv4: ['team-a', 'rack1', 'web'] },
    });
    expect(s.families[0]!.candidates.map((p) => p.name)).toEqual(['team-a', 'rack1', 'web']);
  });

  it('matches the automatic namespace name and hostname labels', () => {
    const m = new Map(
      compileIpamConfig({
        pools: [
          { name: 'only-kube-system', subnet: '10.0.0.0/24', namespaceAffinity: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } },
          { name: 'only-n2', subnet: '10.1.0.0/24', nodeAffinity: { matchLabels: { 'kubernetes.io/hostname': 'n2' } } },
        ],
      }).map((p) => [p.name, p]),
    );
    const s = selectPools(m, 'eth0', 'kube-system', { node: { name: 'n1' }, netconfPools: { ipv4: ['only-kube-system', 'only-n2'] } });
    expect(s.families[0]!.candidates.map((p) => p.name)).toEqual(['only-kube-system']);
  });

  it('fails with NO_POOL_MATCHES when no pool is named and none is default', () => {
    const m = new Map(compileIpamConfig({ pools: [{ name: 'x', subnet: '10.0.0.0/24' }] }).map((p) => [p.name, p]));
    expect(() => selectPools(m, 'eth0', 'default', { node: { name: 'n1' } })).toThrow(expect.objectContaining({ code: 'NO_POOL_MATCHES' }));
  });
});

describe('the error when nothing fits', () => {
  const r = (pool: string, reason: 'not-found' | 'exhausted' | 'disabled') => ({ pool, family: 'ipv4' as const, reason, detail: `pool "${pool}" ${reason}` });
  it.each([
    [[r('a', 'not-found'), r('b', 'not-found')], 'POOL_NOT_FOUND'],
    [[r('a', 'exhausted')], 'POOL_EXHAUSTED'],
    [[r('a', 'exhausted'), r('b', 'disabled')], 'NO_POOL_MATCHES'],
  ] as const)('%j → %s', (rejected, want) => {
    const e: StraitError = noPoolFits('ipv4', 'netconf', rejected);
    expect(isStraitError(e, want)).toBe(true);
    for (const x of rejected) expect(e.message).toContain(`pool "${x.pool}"`);
    expect(e.details?.candidates).toHaveLength(rejected.length);
  });
});

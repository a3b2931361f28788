import { describe, expect, it } from '@jest/globals';
import { namespaceInfoOf, podInfoOf } from './egress-pods.js';
import { parseEgressObjects } from './egress-file.js';
import { conntrackSourceArgs, movedSources } from './gateway-egress-linux.js';
import type { EgressRule } from './egress-resolve.js';

const pod = (over: object = {}): object => ({
  metadata: { name: 'p', namespace: 'shop', labels: { app: 'web' } },
  spec: { nodeName: 'n1' },
  status: { phase: 'Running', podIP: '10.1.0.5', podIPs: [{ ip: '10.1.0.5' }, { ip: 'fd00:1::5' }] },
  ...over,
});

describe('podInfoOf: which pods a selector may select', () => {
  it('a running pod with its addresses (every family, once)', () => {
    expect(podInfoOf(pod())).toEqual({ namespace: 'shop', name: 'p', labels: { app: 'web' }, ips: ['10.1.0.5', 'fd00:1::5'] });
  });
  it.each([
    ['no address yet', { status: { phase: 'Pending' } }],
    ['host network (its address is the node\'s)', { spec: { nodeName: 'n1', hostNetwork: true } }],
    ['Succeeded (its address may be another pod\'s now)', { status: { phase: 'Succeeded', podIP: '10.1.0.5' } }],
    ['Failed', { status: { phase: 'Failed', podIP: '10.1.0.5' } }],
  ])('ignored: %s', (_why, over) => {
    expect(podInfoOf(pod(over))).toBeUndefined();
  });
  it('namespaces always carry kubernetes.io/metadata.name', () => {
    expect(namespaceInfoOf({ metadata: { name: 'shop', labels: { env: 'prod' } } })).toEqual({ name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop', env: 'prod' } });
  });
});

describe('an egress file with a malformed selector', () => {
  it('is refused as a whole, naming the object and the problem', () => {
    const text = [
      'kind: EgressPolicy', 'metadata: {name: web, namespace: shop}',
      'spec: {appliedTo: {podSelector: {matchExpressions: [{key: app, operator: NotIn}]}}}', '',
    ].join('\n');
    expect(() => parseEgressObjects(text, 'egress.yaml')).toThrow(expect.objectContaining({
      code: 'EGRESS_INVALID_POLICY',
      message: 'egress.yaml: EgressPolicy web: malformed selector: appliedTo.podSelector.matchExpressions[0]: operator NotIn needs at least one value',
    }));
  });
});

const rule = (sources: string[], egressIp = '172.30.0.100', destinations = ['0.0.0.0/0']): EgressRule => ({
  policy: 'p', gateway: 'egw', family: 'ipv4', priority: 100, sources, destinations, egressIp, mark: 0x5e00,
});

describe('the gateway forgets the flows of sources whose translation changed', () => {
  it('a source that joined, left or moved to another egress IP; not one that stayed', () => {
    expect(movedSources([rule(['10.1.0.5/32', '10.1.0.6/32'])], [rule(['10.1.0.6/32', '10.1.0.7/32'])])).toEqual(['10.1.0.5/32', '10.1.0.7/32']);
    expect(movedSources([rule(['10.1.0.5/32'])], [rule(['10.1.0.5/32'], '172.30.0.101')])).toEqual(['10.1.0.5/32']);
    expect(movedSources([rule(['10.1.0.5/32'])], [rule(['10.1.0.5/32'])])).toEqual([]);
  });
  it('conntrack arguments for an address or a subnet of either family', () => {
    expect(conntrackSourceArgs('10.1.0.5/32')).toEqual(['-f', 'ipv4', '-s', '10.1.0.5']);
    expect(conntrackSourceArgs('10.1.0.0/22')).toEqual(['-f', 'ipv4', '-s', '10.1.0.0', '--mask-src', '255.255.252.0']);
    expect(conntrackSourceArgs('fd00:1::5/128')).toEqual(['-f', 'ipv6', '-s', 'fd00:1::5']);
    expect(conntrackSourceArgs('fd00:1::/64')).toEqual(['-f', 'ipv6', '-s', 'fd00:1::', '--mask-src', 'ffff:ffff:ffff:ffff:0000:0000:0000:0000']);
  });
});

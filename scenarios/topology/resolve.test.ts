import { describe, expect, it } from '@jest/globals';
import { isStraitError } from '../../api/index.js';
import { BUILTIN_TOPOLOGIES } from './builtins.js';
import { loadTopology, topologyFromText } from './load.js';
import type { Topology, TopologySpec } from './model.js';
import { hostAddresses, resolveTopology } from './resolve.js';

function host(t: Topology, name: string) {
  const h = t.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no host ${name}`);
  return h;
}

function expectInvalid(spec: TopologySpec, pattern: RegExp): void {
  try {
    resolveTopology(spec);
  } catch (e) {
    expect(isStraitError(e, 'LAB_TOPOLOGY_INVALID')).toBe(true);
    expect((e as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected LAB_TOPOLOGY_INVALID');
}

describe('resolveTopology: address plan', () => {
  const t = resolveTopology(BUILTIN_TOPOLOGIES['two-clusters'] as TopologySpec);

  it.each([
    ['c1-n1', 'node', 'c1', ['192.168.1.21', '10.11.1.1']],
    ['c1-gw1', 'gateway', 'c1', ['192.168.1.11', '10.11.2.1']],
    ['c1-gw2', 'gateway', 'c1', ['192.168.1.12', '10.11.3.1']],
    ['c1-n1-p1', 'pod', 'c1', ['10.11.1.2']],
    ['c2-n1', 'node', 'c2', ['192.168.2.21', '10.21.1.1']],
    ['c2-gw1', 'gateway', 'c2', ['192.168.2.11', '10.21.2.1']],
    ['c2-n1-p1', 'pod', 'c2', ['10.21.1.2']],
    ['router', 'router', undefined, ['192.168.1.1', '192.168.2.1']],
  ])('%s is a %s in %s with %j', (name, role, cluster, addrs) => {
    const h = host(t, name);
    expect(h.role).toBe(role);
    expect(h.cluster).toBe(cluster);
    expect(hostAddresses(h)).toEqual(addrs);
  });

  it('describes clusters with CIDRs, gateways in priority order, pods and router attachment', () => {
    expect(t.clusters.map((c) => [c.name, c.podCidr, c.underlayCidr, c.gateways, c.pods, c.routerIp, c.routerIf])).toEqual([
      ['c1', '10.11.0.0/16', '192.168.1.0/24', ['c1-gw1', 'c1-gw2'], ['c1-n1-p1'], '192.168.1.1', 'ul-c1'],
      ['c2', '10.21.0.0/16', '192.168.2.0/24', ['c2-gw1', 'c2-gw2'], ['c2-n1-p1'], '192.168.2.1', 'ul-c2'],
    ]);
    expect(t.clusters[0]?.nodePodCidrs).toEqual({ 'c1-n1': '10.11.1.0/24', 'c1-gw1': '10.11.2.0/24', 'c1-gw2': '10.11.3.0/24' });
  });

  it('routes pods via their node, nodes to each other host-gw style and to other clusters via the router only', () => {
    expect(host(t, 'c1-n1-p1').routes).toEqual([{ dst: 'default', via: '10.11.1.1' }]);
    expect(host(t, 'c1-n1').routes).toEqual([
      { dst: '10.11.2.0/24', via: '192.168.1.11' },
      { dst: '10.11.3.0/24', via: '192.168.1.12' },
      { dst: '192.168.2.0/24', via: '192.168.1.1' },
    ]);
    // No default route anywhere on the underlay: remote pod traffic without a tunnel must not leak in clear.
    for (const h of t.hosts) if (h.role !== 'pod') expect(h.routes.some((r) => r.dst === 'default')).toBe(false);
  });

  it('puts each cluster network on its own segment with the router attached', () => {
    expect(t.segments.map((s) => [s.name, s.members.map((m) => `${m.host}/${m.ifname}`)])).toEqual([
      ['c1', ['router/ul-c1', 'c1-n1/eth0', 'c1-gw1/eth0', 'c1-gw2/eth0']],
      ['c2', ['router/ul-c2', 'c2-n1/eth0', 'c2-gw1/eth0', 'c2-gw2/eth0']],
    ]);
  });
});

describe('built-ins', () => {
  it('three-clusters has three clusters with distinct CIDRs', () => {
    const t = loadTopology('three-clusters');
    expect(t.clusters.map((c) => c.podCidr)).toEqual(['10.11.0.0/16', '10.21.0.0/16', '10.31.0.0/16']);
    expect(host(t, 'c3-n1').routes).toContainEqual({ dst: '192.168.1.0/24', via: '192.168.3.1' });
  });

  it('egress: worker with two pods, two gateways on LAN and WAN, ext on the WAN, no router', () => {
    const t = loadTopology('egress');
    expect(t.router).toBeUndefined();
    expect(hostAddresses(host(t, 'c1-gw1'))).toEqual(['192.168.1.11', '172.31.0.11', '10.11.2.1']);
    expect(hostAddresses(host(t, 'c1-gw2'))).toEqual(['192.168.1.12', '172.31.0.12', '10.11.3.1']);
    expect(hostAddresses(host(t, 'ext'))).toEqual(['172.31.0.100']);
    expect(t.clusters[0]?.pods).toEqual(['c1-n1-p1', 'c1-n1-p2']);
    expect(host(t, 'c1-n1').routes).toContainEqual({ dst: 'default', via: '192.168.1.11' });
    expect(t.segments.find((s) => s.name === 'wan')?.members.map((m) => m.host)).toEqual(['c1-gw1', 'c1-gw2', 'ext']);
  });

  it('an unknown name that is not a file is LAB_TOPOLOGY_NOT_FOUND', () => {
    expect(() => loadTopology('no-such-topology')).toThrow(expect.objectContaining({ code: 'LAB_TOPOLOGY_NOT_FOUND' }));
  });
});

describe('file format', () => {
  it('accepts YAML with explicit nodes and custom CIDRs', () => {
    const t = topologyFromText(`
name: custom
clusters:
  - name: east
    podCidr: 10.100.0.0/16
    underlayCidr: 192.168.50.0/24
    nodes:
      - { name: a, pods: 2 }
      - { name: g, gateway: true }
  - name: west
`);
    expect(hostAddresses(host(t, 'east-a-p2'))).toEqual(['10.100.1.3']);
    expect(hostAddresses(host(t, 'east-g'))).toEqual(['192.168.50.11', '10.100.2.1']);
    expect(t.clusters[1]?.podCidr).toBe('10.21.0.0/16');
    expect(t.router).toBe('router');
  });

  it('rejects unknown keys with the path', () => {
    expect(() => topologyFromText('name: x\nclusters: [{name: c1, wokers: 2}]')).toThrow(/clusters\.0/);
  });

  it('rejects text that is not YAML', () => {
    expect(() => topologyFromText('name: [unclosed')).toThrow(expect.objectContaining({ code: 'LAB_TOPOLOGY_INVALID' }));
  });
});

describe('validation', () => {
  it.each<[string, TopologySpec, RegExp]>([
    ['no clusters', { name: 'x', clusters: [] }, /at least one cluster/],
    ['bad cluster name', { name: 'x', clusters: [{ name: 'Cluster-1' }] }, /cluster name/],
    ['reserved name', { name: 'x', clusters: [{ name: 'sw' }] }, /reserved/],
    ['duplicate cluster', { name: 'x', clusters: [{ name: 'a' }, { name: 'a' }] }, /duplicate cluster/],
    ['overlapping pod CIDRs', { name: 'x', clusters: [{ name: 'a' }, { name: 'b', podCidr: '10.11.0.0/16' }] }, /overlaps/],
    ['host bits', { name: 'x', clusters: [{ name: 'a', podCidr: '10.11.0.1/16' }] }, /host bits/],
    ['pod CIDR too small', { name: 'x', clusters: [{ name: 'a', podCidr: '10.11.0.0/24' }] }, /\/23 or larger/],
    ['both forms', { name: 'x', clusters: [{ name: 'a', workers: 1, nodes: [{ name: 'n' }] }] }, /either/],
    ['no nodes', { name: 'x', clusters: [{ name: 'a', nodes: [] }] }, /no nodes/],
    ['wan node without wan', { name: 'x', clusters: [{ name: 'a', nodes: [{ name: 'n', wan: true }] }] }, /WAN/],
    ['too many gateways', { name: 'x', clusters: [{ name: 'a', gateways: 10 }] }, /at most 9 gateways/],
  ])('%s', (_, spec, pattern) => expectInvalid(spec, pattern));

  it('a resolved topology has unique addresses and host names', () => {
    const t = resolveTopology({ name: 'big', clusters: [{ name: 'a', workers: 5, gateways: 3, podsPerWorker: 3 }, { name: 'b' }], externals: [{ name: 'ext' }, { name: 'ext2' }] });
    const addrs = t.hosts.flatMap((h) => hostAddresses(h));
    expect(new Set(addrs).size).toBe(addrs.length);
    expect(t.hosts.filter((h) => h.role === 'pod')).toHaveLength(16);
  });
});

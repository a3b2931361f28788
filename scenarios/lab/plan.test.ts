import { describe, expect, it } from '@jest/globals';
import { isStraitError } from '../../api/index.js';
import { executePlan, type LabStepEvent } from './executor.js';
import { LAB_PHASES, describeStep, hostRebuildSteps, labNamespaces, planLab, stepCommands } from './plan.js';
import { resolveTopology } from '../topology/resolve.js';
import { loadTopology } from '../topology/load.js';
import { cniNodeTopology, cniPod, egressTopology, twoGatewaysTopology } from '../topology/hand-built.js';
import type { Topology } from '../topology/model.js';

const RUN = 'ab12cd';

describe('planLab', () => {
  const t = loadTopology('two-clusters');
  const steps = planLab(t, RUN);
  const lines = steps.flatMap((s) => stepCommands(s).map((a) => a.join(' ')));

  it('creates one namespace per host and per segment, all carrying the run id', () => {
    const created = steps.filter((s) => s.kind === 'netns').map((s) => (s.kind === 'netns' ? s.netns : ''));
    expect(created.sort()).toEqual(labNamespaces(t, RUN).sort());
    expect(created).toContain('st-ab12cd-sw-c1');
    expect(created).toContain('st-ab12cd-c1-n1-p1');
    for (const n of created) expect(n.startsWith(`st-${RUN}-`)).toBe(true);
  });

  it('orders steps by phase', () => {
    const order = steps.map((s) => LAB_PHASES.indexOf(s.phase));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it.each([
    'ip netns add st-ab12cd-router',
    'ip -n st-ab12cd-router link set lo up',
    'ip netns exec st-ab12cd-c1-gw1 sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0',
    'ip netns exec st-ab12cd-c1-n1-p1 sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1',
    'ip -n st-ab12cd-sw-c1 link add br0 type bridge',
    'ip link add eth0 netns st-ab12cd-c1-gw1 type veth peer name p3 netns st-ab12cd-sw-c1',
    'ip link add ul-c2 netns st-ab12cd-router type veth peer name p1 netns st-ab12cd-sw-c2',
    'ip link add vp1 netns st-ab12cd-c1-n1 type veth peer name eth0 netns st-ab12cd-c1-n1-p1',
    'ip -n st-ab12cd-c1-n1 link set vp1 master cbr0',
    'ip -n st-ab12cd-c1-n1 addr add 10.11.1.1/24 dev cbr0',
    'ip -n st-ab12cd-c1-n1-p1 addr add 10.11.1.2/24 dev eth0',
    'ip -n st-ab12cd-c1-n1-p1 route replace default via 10.11.1.1',
    'ip -n st-ab12cd-c2-gw1 route replace 10.21.1.0/24 via 192.168.2.21',
    'ip -n st-ab12cd-c2-gw1 route replace 192.168.1.0/24 via 192.168.2.1',
  ])('runs `%s`', (line) => {
    expect(lines).toContain(line);
  });

  it('creates each pod veth once (from the node side)', () => {
    expect(lines.filter((l) => l.includes('peer name eth0 netns st-ab12cd-c1-n1-p1'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('ip link add eth0 netns st-ab12cd-c1-n1-p1'))).toHaveLength(0);
  });

  it('never touches the root namespace: every command names a lab namespace', () => {
    for (const l of lines) expect(l).toMatch(/st-ab12cd-/);
  });

  it('applies pod MTU to both ends of pod veths and turns TX checksums off in pods when asked', () => {
    const p = planLab(t, RUN, { podMtu: 1400, podTxChecksumOff: true }).flatMap((s) => stepCommands(s).map((a) => a.join(' ')));
    expect(p).toContain('ip -n st-ab12cd-c1-n1-p1 link set eth0 mtu 1400 up');
    expect(p).toContain('ip -n st-ab12cd-c1-n1 link set vp1 mtu 1400 up');
    expect(p).toContain('ip -n st-ab12cd-c1-gw1 link set eth0 up');
    expect(p).toContain('ip netns exec st-ab12cd-c2-n1-p1 ethtool -K eth0 tx off');
    expect(p.filter((l) => l.includes('ethtool'))).toHaveLength(2);
  });

  it('describes every step in one line', () => {
    for (const s of steps) expect(describeStep(s)).not.toMatch(/\n/);
  });
});

describe('executePlan (recording runner)', () => {
  const t = loadTopology('egress');
  const steps = planLab(t, RUN);

  it('runs every command once, phase after phase, reporting each phase', async () => {
    const seen: string[] = [];
    const events: LabStepEvent[] = [];
    await executePlan(steps, { runner: async (a) => void seen.push(a.join(' ')), onStep: (e) => events.push(e) });
    expect(seen).toHaveLength(steps.reduce((n, s) => n + stepCommands(s).length, 0));
    expect(events.map((e) => e.phase)).toEqual(['namespaces', 'bridges', 'links', 'ports', 'addresses', 'up', 'routes']);
    const firstRoute = seen.findIndex((l) => l.includes(' route '));
    const lastAddr = seen.map((l) => l.includes(' addr add ')).lastIndexOf(true);
    expect(firstRoute).toBeGreaterThan(lastAddr);
  });

  it('stops at the first failing step with LAB_BUILD_FAILED naming it', async () => {
    const seen: string[] = [];
    const err = await executePlan(steps, {
      concurrency: 1,
      runner: async (a) => {
        seen.push(a.join(' '));
        if (a.includes('bridge')) throw new Error('boom');
      },
    }).catch((e: unknown) => e);
    expect(isStraitError(err, 'LAB_BUILD_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/bridge br0 in st-ab12cd-sw-/);
    expect(seen.some((l) => l.includes(' route '))).toBe(false);
  });
});

describe('hostRebuildSteps', () => {
  it('rebuilds one host: its namespace, its links to the switches, addresses and routes only', () => {
    const topo = resolveTopology({ name: 't', clusters: [{ name: 'c1', workers: 1, gateways: 2 }], externals: [{ name: 'ext' }] });
    const steps = hostRebuildSteps(planLab(topo, 'abc123'), 'st-abc123-c1-gw1');
    expect(steps.filter((s) => s.kind === 'netns').map((s) => ('netns' in s ? s.netns : ''))).toEqual(['st-abc123-c1-gw1']);
    expect(steps.filter((s) => s.kind === 'veth')).toHaveLength(2); // LAN and WAN
    expect(steps.some((s) => s.kind === 'route' && s.netns === 'st-abc123-c1-gw1')).toBe(true);
    expect(steps.some((s) => 'netns' in s && s.netns === 'st-abc123-c1-gw2')).toBe(false);
    // the switch side of its veths is enslaved and brought up again
    expect(steps.filter((s) => s.kind === 'master').length).toBe(2);
  });
});

describe('hand-built topologies (the rooms\' own labs)', () => {
  const linesOf = (t: Topology): string[] => planLab(t, RUN).flatMap((s) => stepCommands(s).map((a) => a.join(' ')));

  it('two gateways: each direct veth once, the in-gateway pod pair inside one namespace, everything under the run id', () => {
    const lines = linesOf(twoGatewaysTopology());
    const veths = lines.filter((l) => l.includes(' type veth '));
    expect(veths.sort()).toEqual([
      'ip link add pl0 netns st-ab12cd-gwa type veth peer name pl0 netns st-ab12cd-gwb',
      'ip link add pod0 netns st-ab12cd-gwa type veth peer name pod1 netns st-ab12cd-gwa',
      'ip link add pod0 netns st-ab12cd-gwb type veth peer name pod1 netns st-ab12cd-gwb',
      'ip link add ul0 netns st-ab12cd-gwa type veth peer name ul0 netns st-ab12cd-gwb',
    ]);
    expect(lines).toContain('ip -n st-ab12cd-gwb addr add 192.168.77.2/24 dev ul0');
    expect(lines).toContain('ip -n st-ab12cd-gwa addr add 10.10.1.1/24 dev pod0');
    expect(lines).toContain('ip -n st-ab12cd-gwa link set pod1 up');
    expect(lines.some((l) => l.includes('ip_forward'))).toBe(false);
    for (const l of lines) expect(l).toMatch(/st-ab12cd-/);
  });

  it('egress: pod, gateways and ext on LAN and WAN switches, the pod routed via gw1, the gateways forwarding', () => {
    const t = egressTopology();
    const lines = linesOf(t);
    expect(labNamespaces(t, RUN).sort()).toEqual(['st-ab12cd-ext', 'st-ab12cd-gw1', 'st-ab12cd-gw2', 'st-ab12cd-pod', 'st-ab12cd-sw-lan', 'st-ab12cd-sw-wan']);
    expect(lines).toContain('ip -n st-ab12cd-sw-lan link add br0 type bridge');
    expect(lines).toContain('ip -n st-ab12cd-gw2 addr add 172.31.0.12/24 dev eth1');
    expect(lines).toContain('ip -n st-ab12cd-pod route replace default via 10.50.0.11');
    expect(lines.filter((l) => l.includes('ip_forward=1'))).toEqual([expect.stringContaining('st-ab12cd-gw1 '), expect.stringContaining('st-ab12cd-gw2 ')]);
  });

  it('cni node: one bare namespace; a pod added later is one bare namespace too', () => {
    expect(linesOf(cniNodeTopology())).toEqual([
      'ip netns add st-ab12cd-node',
      'ip -n st-ab12cd-node link set lo up',
      'ip netns exec st-ab12cd-node sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1',
    ]);
    expect(linesOf({ ...cniNodeTopology(), hosts: [cniPod('m1')] })[0]).toBe('ip netns add st-ab12cd-m1');
  });
});

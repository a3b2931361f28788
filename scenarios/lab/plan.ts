import { netnsName } from '../../host/index.js';
import type { Host, HostRole, Topology } from '../topology/model.js';

/**
 * The planner: a topology and a run id become an ordered list of small, independent steps. Pure (no I/O),
 * so the exact namespaces, links and routes a lab will create are table-tested; `executor.ts` applies them.
 *
 * Phases run in order; steps inside one phase do not depend on each other and may run concurrently.
 */
export type LabPhase = 'namespaces' | 'bridges' | 'links' | 'ports' | 'addresses' | 'up' | 'offloads' | 'routes';
export const LAB_PHASES: readonly LabPhase[] = ['namespaces', 'bridges', 'links', 'ports', 'addresses', 'up', 'offloads', 'routes'];

export interface IfRef {
  netns: string;
  ifname: string;
}

export type LabStep =
  | { phase: 'namespaces'; kind: 'netns'; netns: string; sysctls: Record<string, string> }
  | { phase: 'bridges'; kind: 'bridge'; netns: string; name: string }
  | { phase: 'links'; kind: 'veth'; a: IfRef; b: IfRef }
  | { phase: 'ports'; kind: 'master'; netns: string; ifname: string; bridge: string }
  | { phase: 'addresses'; kind: 'addr'; netns: string; ifname: string; address: string }
  | { phase: 'up'; kind: 'up'; netns: string; ifname: string; mtu?: number }
  | { phase: 'offloads'; kind: 'txoff'; netns: string; ifname: string }
  | { phase: 'routes'; kind: 'route'; netns: string; dst: string; via?: string; dev?: string };

export interface PlanOptions {
  /** MTU for pods' eth0 (and their node-side veths), e.g. from a tunnel's MTU maths. Default: kernel (1500). */
  podMtu?: number;
  /**
   * Turn off TX checksum offload in pods. Needed when a userspace datapath (OVS netdev over AF_PACKET) forwards
   * their packets: partial checksums would arrive unfinished and TCP would never connect (cookbook §2).
   */
  podTxChecksumOff?: boolean;
}

/** Switch namespace holding a segment's bridge. */
export function switchNetns(runId: string, segment: string): string {
  return netnsName(runId, `sw-${segment}`);
}

export const SWITCH_BRIDGE = 'br0';

/** Sysctls of every lab namespace: no IPv6 (keeps captures free of RS/MLD noise, no DAD delays). */
const BASE_SYSCTLS: Record<string, string> = {
  'net.ipv6.conf.all.disable_ipv6': '1',
  'net.ipv6.conf.default.disable_ipv6': '1',
};
const FORWARDING_SYSCTLS: Record<string, string> = {
  ...BASE_SYSCTLS,
  'net.ipv4.ip_forward': '1',
  // Gateways receive cluster traffic on one interface and send it into a tunnel device; strict reverse-path
  // filtering would drop asymmetric flows during failover.
  'net.ipv4.conf.all.rp_filter': '0',
  'net.ipv4.conf.default.rp_filter': '0',
};

/** Every namespace a lab of this topology uses (hosts, then switches): what `down` must remove. */
export function labNamespaces(topology: Topology, runId: string): string[] {
  return [...topology.hosts.map((h) => netnsName(runId, h.name)), ...topology.segments.map((s) => switchNetns(runId, s.name))];
}

export function planLab(topology: Topology, runId: string, opts: PlanOptions = {}): LabStep[] {
  const steps: LabStep[] = [];
  const ns = (host: string): string => netnsName(runId, host);

  for (const h of topology.hosts) {
    steps.push({ phase: 'namespaces', kind: 'netns', netns: ns(h.name), sysctls: h.forwarding ? FORWARDING_SYSCTLS : BASE_SYSCTLS });
  }
  for (const s of topology.segments) {
    steps.push({ phase: 'namespaces', kind: 'netns', netns: switchNetns(runId, s.name), sysctls: BASE_SYSCTLS });
  }

  for (const s of topology.segments) {
    const sw = switchNetns(runId, s.name);
    steps.push({ phase: 'bridges', kind: 'bridge', netns: sw, name: SWITCH_BRIDGE });
    steps.push({ phase: 'up', kind: 'up', netns: sw, ifname: SWITCH_BRIDGE });
    s.members.forEach((m, i) => {
      const port = `p${i + 1}`;
      steps.push({ phase: 'links', kind: 'veth', a: { netns: ns(m.host), ifname: m.ifname }, b: { netns: sw, ifname: port } });
      steps.push({ phase: 'ports', kind: 'master', netns: sw, ifname: port, bridge: SWITCH_BRIDGE });
      steps.push({ phase: 'up', kind: 'up', netns: sw, ifname: port });
    });
  }

  const roleOf = new Map(topology.hosts.map((h) => [h.name, h.role]));
  for (const h of topology.hosts) {
    for (const b of h.bridges) {
      steps.push({ phase: 'bridges', kind: 'bridge', netns: ns(h.name), name: b.name });
      steps.push({ phase: 'addresses', kind: 'addr', netns: ns(h.name), ifname: b.name, address: b.address });
      steps.push({ phase: 'up', kind: 'up', netns: ns(h.name), ifname: b.name });
    }
    for (const i of h.interfaces) {
      if (i.peer && createsVeth(h, i.name, i.peer, roleOf.get(i.peer.host))) {
        steps.push({ phase: 'links', kind: 'veth', a: { netns: ns(h.name), ifname: i.name }, b: { netns: ns(i.peer.host), ifname: i.peer.ifname } });
      }
      if (i.master) steps.push({ phase: 'ports', kind: 'master', netns: ns(h.name), ifname: i.name, bridge: i.master });
      if (i.address) steps.push({ phase: 'addresses', kind: 'addr', netns: ns(h.name), ifname: i.name, address: i.address });
      const podSide = h.role === 'pod' || (i.peer !== undefined && i.master !== undefined);
      const mtu = podSide ? opts.podMtu : undefined;
      steps.push({ phase: 'up', kind: 'up', netns: ns(h.name), ifname: i.name, ...(mtu ? { mtu } : {}) });
      if (h.role === 'pod' && opts.podTxChecksumOff) steps.push({ phase: 'offloads', kind: 'txoff', netns: ns(h.name), ifname: i.name });
    }
    for (const r of h.routes) {
      steps.push({ phase: 'routes', kind: 'route', netns: ns(h.name), dst: r.dst, ...(r.via ? { via: r.via } : {}), ...(r.dev ? { dev: r.dev } : {}) });
    }
  }

  return steps.sort((a, b) => LAB_PHASES.indexOf(a.phase) - LAB_PHASES.indexOf(b.phase));
}

/**
 * A direct veth is created once: from the node side of a pod ↔ node pair, and between any other two ends
 * (two gateways' underlay, or both ends in one host standing in for a LAN) from the end that sorts first.
 */
function createsVeth(h: Host, ifname: string, peer: { host: string; ifname: string }, peerRole: HostRole | undefined): boolean {
  if (h.role === 'pod') return false;
  if (peerRole === 'pod') return true;
  return `${h.name}/${ifname}` < `${peer.host}/${peer.ifname}`;
}

/** The commands one step runs (pure, so the plan can be printed and tested as command lines). */
export function stepCommands(step: LabStep): string[][] {
  switch (step.kind) {
    case 'netns':
      return [
        ['ip', 'netns', 'add', step.netns],
        ['ip', '-n', step.netns, 'link', 'set', 'lo', 'up'],
        ['ip', 'netns', 'exec', step.netns, 'sysctl', '-qw', ...Object.entries(step.sysctls).map(([k, v]) => `${k}=${v}`)],
      ];
    case 'bridge':
      return [['ip', '-n', step.netns, 'link', 'add', step.name, 'type', 'bridge']];
    case 'veth':
      // Both ends are created directly inside their namespaces: nothing ever appears in the root namespace.
      return [['ip', 'link', 'add', step.a.ifname, 'netns', step.a.netns, 'type', 'veth', 'peer', 'name', step.b.ifname, 'netns', step.b.netns]];
    case 'master':
      return [['ip', '-n', step.netns, 'link', 'set', step.ifname, 'master', step.bridge]];
    case 'addr':
      return [['ip', '-n', step.netns, 'addr', 'add', step.address, 'dev', step.ifname]];
    case 'up':
      return [['ip', '-n', step.netns, 'link', 'set', step.ifname, ...(step.mtu ? ['mtu', String(step.mtu)] : []), 'up']];
    case 'txoff':
      return [['ip', 'netns', 'exec', step.netns, 'ethtool', '-K', step.ifname, 'tx', 'off']];
    case 'route':
      return [['ip', '-n', step.netns, 'route', 'replace', step.dst, ...(step.via ? ['via', step.via] : []), ...(step.dev ? ['dev', step.dev] : [])]];
  }
}

/** One line for step output and errors. */
export function describeStep(step: LabStep): string {
  switch (step.kind) {
    case 'netns':
      return `netns ${step.netns}`;
    case 'bridge':
      return `bridge ${step.name} in ${step.netns}`;
    case 'veth':
      return `veth ${step.a.netns}/${step.a.ifname} <-> ${step.b.netns}/${step.b.ifname}`;
    case 'master':
      return `${step.netns}/${step.ifname} -> ${step.bridge}`;
    case 'addr':
      return `${step.address} on ${step.netns}/${step.ifname}`;
    case 'up':
      return `up ${step.netns}/${step.ifname}${step.mtu ? ` mtu ${step.mtu}` : ''}`;
    case 'txoff':
      return `tx checksum off ${step.netns}/${step.ifname}`;
    case 'route':
      return `route ${step.dst}${step.via ? ` via ${step.via}` : ''}${step.dev ? ` dev ${step.dev}` : ''} in ${step.netns}`;
  }
}

/** Steps of the lab plan that (re)create one host: its namespace, its links to the switches, addresses, routes. */
export function hostRebuildSteps(steps: readonly LabStep[], hostNs: string): LabStep[] {
  const switchPorts = new Set<string>();
  for (const s of steps) if (s.kind === 'veth' && s.a.netns === hostNs) switchPorts.add(`${s.b.netns}/${s.b.ifname}`);
  return steps.filter((s) => {
    if (s.kind === 'veth') return s.a.netns === hostNs || s.b.netns === hostNs;
    if (s.kind === 'master' || s.kind === 'up') return s.netns === hostNs || switchPorts.has(`${s.netns}/${s.ifname}`);
    return 'netns' in s && s.netns === hostNs;
  });
}

import { join } from 'node:path';
import { StraitError } from '../../api/index.js';
import { netnsName, run, runDir } from '../../host/index.js';
import {
  generateIpsecKeyPair,
  generateIpsecPsk,
  generateWireguardKeyPair,
  podMtu,
  TUNNEL_TYPES,
  type TunnelDriver,
  type TunnelLocalConfig,
  type TunnelLocalKeys,
  type TunnelPeer,
  type TunnelRegistry,
  type TunnelStatus,
  type TunnelType,
} from '../../tunnel/index.js';
import type { Cluster, Topology } from '../topology/model.js';
import type { LabDaemon } from './state.js';
import { currentCmdline } from './teardown.js';

/** The tunnels of a lab: one driver on each cluster's active gateway, full mesh by default. */
export interface LabTunnel {
  readonly type: TunnelType;
  /** MTU pods use behind this tunnel (the tunnel's MTU maths). */
  readonly podMtu: number;
  /** Active gateway host of a cluster (its first gateway candidate). */
  gateway(cluster: string): string;
  driver(cluster: string): TunnelDriver;
  /** The driver config the lab uses for a gateway host (also for standby candidates a caller wants to bring up). */
  configFor(gatewayHost: string, keys?: TunnelLocalKeys): TunnelLocalConfig;
  /** Desired peers of a cluster's gateway: every other cluster, or only `peerClusters`. */
  peersOf(cluster: string, peerClusters?: readonly string[]): TunnelPeer[];
  /** Reconciles a cluster's gateway to the given peer clusters (default: all others). */
  reconcile(cluster: string, peerClusters?: readonly string[]): Promise<void>;
  /**
   * New key material for a cluster's gateway: the driver rotates its local keys, then every other gateway
   * reconciles with the new public key. No-op for types without keys.
   */
  rotateKeys(cluster: string): Promise<void>;
  status(cluster: string): Promise<TunnelStatus>;
  /** Every daemon pid the drivers report (for the state file). */
  daemons(): Promise<LabDaemon[]>;
  /** Removes every driver (devices, daemons, files). */
  remove(): Promise<void>;
}

interface Side {
  cluster: Cluster;
  gateway: string;
  ip: string;
  driver: TunnelDriver;
  keys: TunnelLocalKeys;
  /** Public half shown to peers. */
  wgPublic?: string;
  ipsecPublicPem?: string;
}

export type IpsecAuth = 'psk' | 'pubkey';

function freshKeys(type: TunnelType, ipsecAuth: IpsecAuth): { keys: TunnelLocalKeys; wgPublic?: string; ipsecPublicPem?: string } {
  if (type === 'wireguard') {
    const k = generateWireguardKeyPair();
    return { keys: { wireguardPrivateKey: k.privateKey }, wgPublic: k.publicKey };
  }
  if (type === 'ipsec' && ipsecAuth === 'pubkey') {
    const k = generateIpsecKeyPair();
    return { keys: { ipsecPrivateKeyPem: k.privateKeyPem, ipsecPublicKeyPem: k.publicKeyPem }, ipsecPublicPem: k.publicKeyPem };
  }
  return { keys: {} };
}

export function isTunnelType(t: string): t is TunnelType {
  return (TUNNEL_TYPES as readonly string[]).includes(t);
}

/**
 * Builds the drivers (no I/O yet) for every cluster's active gateway. `setUp` then inits them, restores the
 * gateways' own routes (a userspace datapath may move the underlay address to its bridge, which flushes
 * routes on the old device), reconciles the full mesh and routes remote cluster CIDRs from the other nodes to
 * the active gateway.
 */
export function createLabTunnel(
  topology: Topology,
  runId: string,
  type: TunnelType,
  registry: TunnelRegistry,
  opts: { ipsecAuth?: IpsecAuth } = {},
): LabTunnel {
  const ipsecAuth = opts.ipsecAuth ?? 'psk';
  // IPsec PSK auth: one secret per pair of clusters (rotated per cluster by rotateKeys).
  const psks = new Map<string, string>();
  const pairKey = (a: string, b: string): string => [a, b].sort().join('|');
  const pskOf = (a: string, b: string): string => {
    const k = pairKey(a, b);
    let v = psks.get(k);
    if (!v) {
      v = generateIpsecPsk();
      psks.set(k, v);
    }
    return v;
  };
  const clusters = topology.clusters;
  if (clusters.length < 2) throw new StraitError('INVALID_ARGUMENT', `a ${type} tunnel needs at least two clusters; ${topology.name} has ${clusters.length}`);
  const configFor = (gatewayHost: string, keys: TunnelLocalKeys = {}): TunnelLocalConfig => {
    const c = clusters.find((x) => x.gateways.includes(gatewayHost));
    const ip = c?.nodeIps[gatewayHost];
    if (!c || !ip) throw new StraitError('LAB_HOST_NOT_FOUND', `${gatewayHost} is not a gateway of this lab`, { host: gatewayHost });
    return {
      runId,
      netns: netnsName(runId, gatewayHost),
      gatewayId: gatewayHost,
      localUnderlayIp: ip,
      underlayDev: 'eth0',
      localCidrs: [c.podCidr],
      stateDir: join(runDir(runId), 'tunnel', gatewayHost),
      keys,
    };
  };
  const sides = new Map<string, Side>();
  for (const c of clusters) {
    const gateway = c.gateways[0];
    if (!gateway) throw new StraitError('INVALID_ARGUMENT', `cluster ${c.name} has no gateway candidate for the ${type} tunnel`);
    const k = freshKeys(type, ipsecAuth);
    sides.set(c.name, {
      cluster: c,
      gateway,
      ip: c.nodeIps[gateway] ?? '',
      driver: registry.create(type, configFor(gateway, k.keys)),
      keys: k.keys,
      ...(k.wgPublic ? { wgPublic: k.wgPublic } : {}),
      ...(k.ipsecPublicPem ? { ipsecPublicPem: k.ipsecPublicPem } : {}),
    });
  }
  const side = (cluster: string): Side => {
    const s = sides.get(cluster);
    if (!s) throw new StraitError('INVALID_ARGUMENT', `no cluster ${cluster} in this lab`);
    return s;
  };
  const peersOf = (cluster: string, peerClusters?: readonly string[]): TunnelPeer[] => {
    const names = peerClusters ?? clusters.map((c) => c.name).filter((n) => n !== cluster);
    return names.map((n) => {
      const s = side(n);
      return {
        id: s.gateway,
        cluster: n,
        endpoint: s.ip,
        remoteCidrs: [s.cluster.podCidr],
        ...(s.wgPublic ? { publicKey: s.wgPublic } : {}),
        ...(s.ipsecPublicPem ? { ipsecPublicKeyPem: s.ipsecPublicPem } : {}),
        ...(type === 'ipsec' && ipsecAuth === 'psk' ? { psk: pskOf(cluster, n) } : {}),
      };
    });
  };
  // Who each gateway currently peers with, so key rotation re-reconciles the same sets.
  const current = new Map<string, readonly string[]>();
  const reconcile = async (cluster: string, peerClusters?: readonly string[]): Promise<void> => {
    const peers = peersOf(cluster, peerClusters);
    await side(cluster).driver.reconcile(peers);
    current.set(cluster, peers.map((p) => p.cluster));
  };
  return {
    type,
    podMtu: podMtu(type),
    gateway: (c) => side(c).gateway,
    driver: (c) => side(c).driver,
    configFor,
    peersOf,
    reconcile,
    async rotateKeys(cluster) {
      const s = side(cluster);
      if (type !== 'wireguard' && type !== 'ipsec') return;
      if (type === 'ipsec' && ipsecAuth === 'psk') {
        // New secrets for every pair this cluster is part of; the driver reauthenticates changed connections.
        for (const n of sides.keys()) if (n !== cluster) psks.set(pairKey(cluster, n), generateIpsecPsk());
      }
      const k = freshKeys(type, ipsecAuth);
      if (type === 'wireguard' || ipsecAuth === 'pubkey') await s.driver.rotateLocalKeys(k.keys);
      s.keys = k.keys;
      if (k.wgPublic) s.wgPublic = k.wgPublic;
      if (k.ipsecPublicPem) s.ipsecPublicPem = k.ipsecPublicPem;
      // The others learn the new public key; the rotated side re-reconciles too (IPsec reloads its connections).
      await Promise.all(
        [...sides.keys()].filter((n) => (current.get(n) ?? []).includes(cluster) || n === cluster).map((n) => reconcile(n, current.get(n))),
      );
    },
    status: (c) => side(c).driver.status(),
    async daemons() {
      const out: LabDaemon[] = [];
      for (const s of sides.values()) {
        const st = await s.driver.status().catch(() => undefined);
        for (const pid of st?.pids ?? []) {
          const cmdline = currentCmdline(pid);
          out.push({ pid, name: `${type}@${s.gateway}`, host: s.gateway, ...(cmdline ? { cmdline } : {}) });
        }
      }
      return out;
    },
    async remove() {
      await Promise.all([...sides.values()].map((s) => s.driver.remove().catch(() => undefined)));
    },
  };
}

/** Routes in the cluster that send remote clusters' pod CIDRs to the active gateway (all nodes but the gateway). */
export function remoteRoutes(topology: Topology, activeGateway: (cluster: string) => string): { host: string; dst: string; via: string }[] {
  const out: { host: string; dst: string; via: string }[] = [];
  for (const c of topology.clusters) {
    const gw = activeGateway(c.name);
    const via = c.nodeIps[gw];
    if (!via) continue;
    for (const n of c.nodes) {
      if (n === gw) continue;
      for (const o of topology.clusters) if (o !== c) out.push({ host: n, dst: o.podCidr, via });
    }
  }
  return out;
}

/** Re-applies a host's topology routes (idempotent `replace`). */
export async function applyHostRoutes(topology: Topology, runId: string, host: string): Promise<void> {
  const h = topology.hosts.find((x) => x.name === host);
  for (const r of h?.routes ?? []) {
    await run(['ip', '-n', netnsName(runId, host), 'route', 'replace', r.dst, ...(r.via ? ['via', r.via] : []), ...(r.dev ? ['dev', r.dev] : [])]);
  }
}

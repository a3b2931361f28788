import { mkdirSync, rmSync } from 'node:fs';
import { StraitError } from '../api/index.js';
import { createSerial } from '../host/index.js';
import { dp, devName, enableForwarding, linkExists, listLinks, overlayMac, routesOnDev, syncViaRoutes } from './datapath.js';
import { tunnelMtu } from './mtu.js';
import { validateLocalConfig, validatePeers } from './peer-validation.js';
import { readPeerRecord, writePeerRecord } from './peer-record.js';
import type { TunnelDriver, TunnelLocalConfig, TunnelLocalKeys, TunnelPeer, TunnelStatus } from './types.js';

export const VXLAN_PORT = 4789;

/**
 * Kernel VXLAN, unicast: one vxlan device per VNI (the kernel allows one device per VNI and port), learning
 * off, a static FDB entry per peer (peer's deterministic overlay MAC → its underlay IP), a permanent neighbour
 * for the peer and routes `remoteCidr via <peer underlay> dev vx… onlink`. Adding or removing a peer touches
 * only that peer's FDB/neighbour/route entries.
 */
export class VxlanDriver implements TunnelDriver {
  readonly type = 'vxlan' as const;
  private initialized = false;

  private readonly serial = createSerial();

  constructor(readonly config: TunnelLocalConfig) {}

  private get ns(): string | undefined {
    return this.config.netns;
  }

  private get prefix(): string {
    return `vx${this.config.runId}`;
  }

  private dev(vni: number): string {
    return devName('vx', this.config.runId, vni.toString(36));
  }

  private vniOf(p: TunnelPeer): number {
    return p.vni ?? this.config.vni ?? 100;
  }

  private get mtu(): number {
    return tunnelMtu('vxlan', this.config.underlayMtu ?? 1500);
  }

  init(): Promise<void> {
    return this.serial(() => this.initNow());
  }

  private async initNow(): Promise<void> {
    validateLocalConfig(this.type, this.config);
    mkdirSync(this.config.stateDir, { recursive: true });
    await enableForwarding(this.ns);
    this.initialized = true;
  }

  private async ensureDev(vni: number): Promise<string> {
    const name = this.dev(vni);
    if (await linkExists(this.ns, name)) return name;
    await dp(
      ['ip', 'link', 'add', name, 'address', overlayMac(this.config.localUnderlayIp), 'mtu', String(this.mtu), 'type', 'vxlan', 'id', String(vni),
        'local', this.config.localUnderlayIp, 'dstport', String(VXLAN_PORT), 'dev', this.config.underlayDev, 'nolearning'],
      { netns: this.ns },
    );
    await dp(['ip', 'link', 'set', name, 'up'], { netns: this.ns });
    return name;
  }

  private async ourDevs(): Promise<string[]> {
    return (await listLinks(this.ns, ['type', 'vxlan'])).map((l) => l.ifname).filter((n) => n.startsWith(this.prefix));
  }

  private async fdbDsts(dev: string): Promise<Map<string, string>> {
    // mac → dst for our static entries
    const r = await dp(['bridge', '-j', 'fdb', 'show', 'dev', dev], { netns: this.ns, allowFailure: true });
    const m = new Map<string, string>();
    if (r.code !== 0 || !r.stdout.trim()) return m;
    for (const e of JSON.parse(r.stdout) as { mac: string; dst?: string }[]) if (e.dst) m.set(e.mac, e.dst);
    return m;
  }

  reconcile(desired: readonly TunnelPeer[]): Promise<void> {
    return this.serial(() => this.reconcileNow(desired));
  }

  private async reconcileNow(desired: readonly TunnelPeer[]): Promise<void> {
    if (!this.initialized) throw new StraitError('TUNNEL_NOT_INITIALIZED', 'vxlan driver: call init() before reconcile()');
    validatePeers(this.type, desired);
    const byDev = new Map<string, TunnelPeer[]>();
    for (const p of desired) {
      const d = this.dev(this.vniOf(p));
      byDev.set(d, [...(byDev.get(d) ?? []), p]);
    }
    // Devices of VNIs nobody uses any more go (with their routes and FDB entries).
    for (const d of await this.ourDevs()) if (!byDev.has(d)) await dp(['ip', 'link', 'del', d], { netns: this.ns, allowFailure: true });
    for (const [, peers] of byDev) {
      const dev = await this.ensureDev(this.vniOf(peers[0]!));
      const wantMacs = new Map(peers.map((p) => [overlayMac(p.endpoint), p]));
      const fdb = await this.fdbDsts(dev);
      for (const [mac, dst] of fdb) {
        const p = wantMacs.get(mac);
        if (!p || p.endpoint !== dst) await dp(['bridge', 'fdb', 'del', mac, 'dev', dev, 'dst', dst], { netns: this.ns, allowFailure: true });
        if (!p) await dp(['ip', 'neigh', 'del', dst, 'dev', dev], { netns: this.ns, allowFailure: true });
      }
      const wantRoutes = new Map<string, string>();
      for (const p of peers) {
        const mac = overlayMac(p.endpoint);
        if (fdb.get(mac) !== p.endpoint) await dp(['bridge', 'fdb', 'append', mac, 'dev', dev, 'dst', p.endpoint, 'self', 'permanent'], { netns: this.ns });
        await dp(['ip', 'neigh', 'replace', p.endpoint, 'lladdr', mac, 'dev', dev, 'nud', 'permanent'], { netns: this.ns });
        for (const c of p.remoteCidrs) wantRoutes.set(c, p.endpoint);
      }
      await syncViaRoutes(this.ns, dev, wantRoutes);
    }
    writePeerRecord(this.config.stateDir, desired);
  }

  async status(): Promise<TunnelStatus> {
    const links = (await listLinks(this.ns, ['type', 'vxlan'])).filter((l) => l.ifname.startsWith(this.prefix));
    const installed = new Map<string, { dev: string; routes: string[] }>();
    for (const l of links) {
      const fdb = await this.fdbDsts(l.ifname);
      const routes = await routesOnDev(this.ns, l.ifname);
      for (const [, dst] of fdb) installed.set(dst, { dev: l.ifname, routes: routes.filter((r) => r.gateway === dst).map((r) => r.dst).sort() });
    }
    const peers = readPeerRecord(this.config.stateDir)
      .filter((p) => installed.has(p.endpoint))
      .map((p) => {
        const i = installed.get(p.endpoint)!;
        return { id: p.id, cluster: p.cluster, endpoint: p.endpoint, remoteCidrs: i.routes, state: 'configured' as const, device: i.dev, detail: `vni ${this.vniOf(p)}` };
      });
    return {
      type: this.type,
      implementation: this.initialized || links.length > 0 ? 'kernel-vxlan' : 'none',
      initialized: this.initialized,
      mtu: this.mtu,
      devices: links.map((l) => l.ifname),
      pids: [],
      peers,
    };
  }

  rotateLocalKeys(_keys: TunnelLocalKeys): Promise<void> {
    return this.serial(() => this.rotateNow(_keys));
  }

  private async rotateNow(_keys: TunnelLocalKeys): Promise<void> {
    if (!this.initialized) throw new StraitError('TUNNEL_NOT_INITIALIZED', 'vxlan driver: call init() first');
  }

  remove(): Promise<void> {
    return this.serial(() => this.removeNow());
  }

  private async removeNow(): Promise<void> {
    for (const d of await this.ourDevs()) await dp(['ip', 'link', 'del', d], { netns: this.ns, allowFailure: true });
    rmSync(this.config.stateDir, { recursive: true, force: true });
    this.initialized = false;
  }
}

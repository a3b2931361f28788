import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../api/index.js';
import { createSerial, falseOnTimeout, isAlive, startDaemon, stopPid, waitFor } from '../host/index.js';
import { dp, devName, enableForwarding, linkExists, listLinks, overlayMac, routesOnDev, shortHash, syncViaRoutes } from './datapath.js';
import { tunnelMtu } from './mtu.js';
import { readPeerRecord, writePeerRecord } from './peer-record.js';
import { validateLocalConfig, validatePeers } from './peer-validation.js';
import type { TunnelDriver, TunnelImplementation, TunnelLocalConfig, TunnelLocalKeys, TunnelPeer, TunnelPeerStatus, TunnelStatus } from './types.js';

export const GENEVE_PORT = 6081;
const OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

interface SavedUnderlay {
  addrs: string[];
  routes: { dst: string; gateway?: string }[];
  mac: string;
}

/**
 * Geneve between gateways. Kernel geneve devices (one per peer) where the kernel has the link type;
 * otherwise Open vSwitch's userspace datapath (`datapath_type=netdev`) with one ovsdb-server and one
 * ovs-vswitchd per gateway, all state in the driver's state dir:
 *
 * - `gp<run>` (br-phy) takes over the underlay device and its addresses/routes: OVS userspace tunnels can
 *   only leave through an OVS bridge, and OVS learns the next hop's MAC from ARP it sees there.
 * - `gn<run>` (br-int) is the L3 overlay interface of the gateway: its MAC is derived from the underlay IP,
 *   one geneve port per peer, and explicit flows (LOCAL → peer by destination MAC, peer → LOCAL) instead of
 *   NORMAL, so a full mesh cannot loop. Routes `CIDR via <peer underlay> dev gn… onlink` + a permanent
 *   neighbour with the peer's derived MAC: no transit subnet, no ARP over the overlay.
 * - Its MTU is the tunnel MTU: OVS userspace neither fragments nor sends "fragmentation needed", but the
 *   kernel does when it forwards into gn…, so pods get PMTU discovery from the gateway.
 * - The kernel stops reading the underlay device (an nft netdev ingress chain that drops everything, table
 *   `strait_gnv_<run>`). OVS reads it through an AF_PACKET socket, which does not take the packet away from
 *   the kernel: without the drop every frame arriving there was handled twice, once by OVS (→ gp… → kernel)
 *   and once by the kernel straight off the device. Pod traffic from other nodes was forwarded into the
 *   tunnel twice (two Geneve copies per packet, +N duplicates at the far pod) and Geneve arriving there got
 *   "port unreachable" for 6081 from the kernel beside OVS's decapsulation. AF_PACKET taps run before the
 *   ingress hook, so OVS still sees every frame.
 */
export class GeneveDriver implements TunnelDriver {
  readonly type = 'geneve' as const;
  private impl: TunnelImplementation | undefined;

  private readonly serial = createSerial();

  constructor(readonly config: TunnelLocalConfig) {}

  private get ns(): string | undefined {
    return this.config.netns;
  }
  private get dir(): string {
    return this.config.stateDir;
  }
  private get mtu(): number {
    return tunnelMtu('geneve', this.config.underlayMtu ?? 1500);
  }
  private get brInt(): string {
    return devName('gn', this.config.runId);
  }
  private get brPhy(): string {
    return devName('gp', this.config.runId);
  }
  /** nft table (netdev family) that keeps the kernel off the underlay device while OVS owns it. */
  private get ingressTable(): string {
    return `strait_gnv_${this.config.runId}`;
  }
  private get db(): string {
    return `unix:${join(this.dir, 'db.sock')}`;
  }
  private vni(p: TunnelPeer): number {
    return p.vni ?? this.config.vni ?? 100;
  }
  private portName(p: TunnelPeer): string {
    return `t${shortHash(p.id, 8)}`;
  }
  private kernelDev(p: TunnelPeer): string {
    return devName('gn', this.config.runId, shortHash(p.id, 4));
  }

  private pidOf(name: string): number | undefined {
    const f = join(this.dir, `${name}.pid`);
    if (!existsSync(f)) return undefined;
    const pid = Number.parseInt(readFileSync(f, 'utf8'), 10);
    return Number.isInteger(pid) && isAlive(pid) ? pid : undefined;
  }

  private vsctl(args: string[], allowFailure = false): Promise<{ code: number; stdout: string; stderr: string }> {
    return dp(['ovs-vsctl', `--db=${this.db}`, '--timeout=10', ...args], { allowFailure });
  }
  private ofctl(args: string[], allowFailure = false): Promise<{ code: number; stdout: string; stderr: string }> {
    // ovs-ofctl talks to the bridge's management socket in OVS_RUNDIR.
    return dp(['ovs-ofctl', ...args], { allowFailure, env: { ...process.env, OVS_RUNDIR: this.dir } });
  }

  init(): Promise<void> {
    return this.serial(() => this.initNow());
  }

  private async initNow(): Promise<void> {
    validateLocalConfig(this.type, this.config);
    mkdirSync(this.dir, { recursive: true });
    await enableForwarding(this.ns);
    const forced = this.config.implementation;
    if (forced !== 'ovs-userspace-geneve' && !this.pidOf('ovs-vswitchd')) {
      const probe = devName('gk', this.config.runId);
      const r = await dp(['ip', 'link', 'add', probe, 'type', 'geneve', 'id', '1', 'remote', '192.0.2.1'], { netns: this.ns, allowFailure: true });
      if (r.code === 0) {
        await dp(['ip', 'link', 'del', probe], { netns: this.ns, allowFailure: true });
        this.impl = 'kernel-geneve';
        writeFileSync(join(this.dir, 'implementation'), this.impl);
        return;
      }
      if (forced === 'kernel-geneve') throw new StraitError('TUNNEL_UNAVAILABLE', 'kernel has no geneve link type');
    }
    this.impl = 'ovs-userspace-geneve';
    writeFileSync(join(this.dir, 'implementation'), this.impl);
    await this.startOvs();
    await this.buildBridges();
  }

  private async startOvs(): Promise<void> {
    const env = { ...process.env, OVS_RUNDIR: this.dir, OVS_LOGDIR: this.dir, OVS_DBDIR: this.dir };
    if (!this.pidOf('ovsdb-server')) {
      if (!existsSync(join(this.dir, 'conf.db'))) await dp(['ovsdb-tool', 'create', join(this.dir, 'conf.db'), OVS_SCHEMA]);
      const d = startDaemon(
        ['ovsdb-server', join(this.dir, 'conf.db'), `--remote=punix:${join(this.dir, 'db.sock')}`, `--unixctl=${join(this.dir, 'ovsdb-server.ctl')}`,
          `--log-file=${join(this.dir, 'ovsdb-server.log')}`, '-vconsole:off', '-vfile:info'],
        { netns: this.ns, logFile: join(this.dir, 'ovsdb-server.out'), pidFile: join(this.dir, 'ovsdb-server.pid'), env },
      );
      if (!(await waitFor('ovsdb-server socket', () => existsSync(join(this.dir, 'db.sock')) || !isAlive(d.pid), 10_000, 25).then(() => true, falseOnTimeout)) || !isAlive(d.pid)) {
        throw new StraitError('TUNNEL_DATAPATH_FAILED', 'ovsdb-server did not start', { log: this.tail('ovsdb-server.log') });
      }
      await this.vsctl(['--no-wait', 'init']);
    }
    if (!this.pidOf('ovs-vswitchd')) {
      const d = startDaemon(
        ['ovs-vswitchd', this.db, `--unixctl=${join(this.dir, 'ovs-vswitchd.ctl')}`, `--log-file=${join(this.dir, 'ovs-vswitchd.log')}`, '-vconsole:off', '-vfile:info'],
        { netns: this.ns, logFile: join(this.dir, 'ovs-vswitchd.out'), pidFile: join(this.dir, 'ovs-vswitchd.pid'), env },
      );
      if (!(await waitFor('ovs-vswitchd socket', () => existsSync(join(this.dir, 'ovs-vswitchd.ctl')) || !isAlive(d.pid), 10_000, 25).then(() => true, falseOnTimeout)) || !isAlive(d.pid)) {
        throw new StraitError('TUNNEL_DATAPATH_FAILED', 'ovs-vswitchd did not start', { log: this.tail('ovs-vswitchd.log') });
      }
    }
  }

  private tail(file: string): string {
    const f = join(this.dir, file);
    return existsSync(f) ? readFileSync(f, 'utf8').slice(-2000) : '';
  }

  private async buildBridges(): Promise<void> {
    const ns = this.ns;
    const ul = this.config.underlayDev;
    const phy = this.brPhy;
    const int = this.brInt;
    const savedFile = join(this.dir, 'underlay.json');
    if (!existsSync(savedFile)) {
      const addrs = JSON.parse((await dp(['ip', '-j', '-4', 'addr', 'show', 'dev', ul], { netns: ns })).stdout) as { addr_info: { local: string; prefixlen: number }[] }[];
      const link = (await listLinks(ns, ['dev', ul]))[0];
      const routes = JSON.parse((await dp(['ip', '-j', '-4', 'route', 'show', 'dev', ul], { netns: ns })).stdout) as { dst: string; gateway?: string; protocol?: string }[];
      const saved: SavedUnderlay = {
        addrs: (addrs[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`),
        routes: routes.filter((r) => r.protocol !== 'kernel').map((r) => ({ dst: r.dst, ...(r.gateway ? { gateway: r.gateway } : {}) })),
        mac: link?.address ?? '',
      };
      writeFileSync(savedFile, JSON.stringify(saved));
    }
    const saved = JSON.parse(readFileSync(savedFile, 'utf8')) as SavedUnderlay;
    await this.vsctl(['--may-exist', 'add-br', phy, '--', 'set', 'bridge', phy, 'datapath_type=netdev', `other-config:hwaddr=${saved.mac}`,
      '--', '--may-exist', 'add-port', phy, ul]);
    await this.vsctl(['--may-exist', 'add-br', int, '--', 'set', 'bridge', int, 'datapath_type=netdev', `other-config:hwaddr=${overlayMac(this.config.localUnderlayIp)}`,
      'fail-mode=secure', '--', 'set', 'interface', int, `mtu_request=${this.mtu}`]);
    await waitFor('OVS ports', async () => (await linkExists(ns, phy)) && (await linkExists(ns, int)), 5000, 25).catch(falseOnTimeout);
    await this.ofctl(['del-flows', int]);
    // `add` is idempotent for an identical table/chain, so a second init() changes nothing.
    await dp(['nft', 'add', 'table', 'netdev', this.ingressTable], { netns: ns });
    await dp(['nft', 'add', 'chain', 'netdev', this.ingressTable, 'underlay', `{ type filter hook ingress device "${ul}" priority 0; policy drop; }`], { netns: ns });
    for (const a of saved.addrs) {
      await dp(['ip', 'addr', 'del', a, 'dev', ul], { netns: ns, allowFailure: true });
      await dp(['ip', 'addr', 'replace', a, 'dev', phy], { netns: ns });
    }
    await dp(['ip', 'link', 'set', phy, 'up'], { netns: ns });
    await dp(['ip', 'link', 'set', int, 'mtu', String(this.mtu), 'up'], { netns: ns });
    for (const r of saved.routes) {
      await dp(['ip', 'route', 'replace', r.dst, ...(r.gateway ? ['via', r.gateway] : []), 'dev', phy], { netns: ns, allowFailure: true });
    }
  }

  /** OVS learns the underlay next hop's MAC only from ARP it sees on br-phy: resolve it now and tell OVS. */
  private async primeNextHop(endpoint: string): Promise<void> {
    const ns = this.ns;
    const route = JSON.parse((await dp(['ip', '-j', 'route', 'get', endpoint], { netns: ns })).stdout) as { gateway?: string; dev?: string }[];
    const hop = route[0]?.gateway ?? endpoint;
    await dp(['ping', '-c', '1', '-W', '1', endpoint], { netns: ns, allowFailure: true });
    const neigh = JSON.parse((await dp(['ip', '-j', 'neigh', 'show', hop, 'dev', this.brPhy], { netns: ns, allowFailure: true })).stdout || '[]') as { lladdr?: string }[];
    const mac = neigh[0]?.lladdr;
    if (mac) {
      await dp(['ovs-appctl', '-t', join(this.dir, 'ovs-vswitchd.ctl'), 'tnl/arp/set', this.brPhy, hop, mac], { allowFailure: true });
    }
  }

  reconcile(desired: readonly TunnelPeer[]): Promise<void> {
    return this.serial(() => this.reconcileNow(desired));
  }

  private async reconcileNow(desired: readonly TunnelPeer[]): Promise<void> {
    if (!this.impl) throw new StraitError('TUNNEL_NOT_INITIALIZED', 'geneve driver: call init() before reconcile()');
    validatePeers(this.type, desired);
    if (this.impl === 'kernel-geneve') await this.reconcileKernel(desired);
    else await this.reconcileOvs(desired);
    writePeerRecord(this.dir, desired);
  }

  private async reconcileOvs(desired: readonly TunnelPeer[]): Promise<void> {
    const ns = this.ns;
    const int = this.brInt;
    const recorded = new Map(readPeerRecord(this.dir).map((p) => [p.id, p]));
    const ports = (await this.vsctl(['list-ports', int])).stdout.split('\n').filter((s) => s.length > 0);
    const want = new Map(desired.map((p) => [this.portName(p), p]));
    const drop = async (port: string, old: TunnelPeer | undefined): Promise<void> => {
      await this.ofctl(['del-flows', int, `in_port=${port}`], true);
      if (old) {
        await this.ofctl(['del-flows', int, `dl_dst=${overlayMac(old.endpoint)}`], true);
        for (const c of old.remoteCidrs) await dp(['ip', 'route', 'del', c, 'dev', int], { netns: ns, allowFailure: true });
        await dp(['ip', 'neigh', 'del', old.endpoint, 'dev', int], { netns: ns, allowFailure: true });
      }
      await this.vsctl(['--if-exists', 'del-port', int, port]);
    };
    for (const port of ports) {
      if (!want.has(port)) await drop(port, [...recorded.values()].find((p) => this.portName(p) === port));
    }
    for (const [port, p] of want) {
      const old = recorded.get(p.id);
      const same = old && old.endpoint === p.endpoint && this.vni(old) === this.vni(p) && ports.includes(port);
      if (!same) {
        if (ports.includes(port)) await drop(port, old);
        await this.primeNextHop(p.endpoint);
        await this.vsctl(['add-port', int, port, '--', 'set', 'interface', port, 'type=geneve', `options:remote_ip=${p.endpoint}`, `options:key=${this.vni(p)}`,
          `options:local_ip=${this.config.localUnderlayIp}`]);
        await this.ofctl(['add-flow', int, `priority=100,in_port=LOCAL,dl_dst=${overlayMac(p.endpoint)},actions=output:${port}`]);
        await this.ofctl(['add-flow', int, `priority=100,in_port=${port},actions=LOCAL`]);
        await dp(['ip', 'neigh', 'replace', p.endpoint, 'lladdr', overlayMac(p.endpoint), 'dev', int, 'nud', 'permanent'], { netns: ns });
      }
    }
    await this.syncRoutes(int, desired);
  }

  private async syncRoutes(dev: string, desired: readonly TunnelPeer[]): Promise<void> {
    const wantRoutes = new Map<string, string>();
    for (const p of desired) for (const c of p.remoteCidrs) wantRoutes.set(c, p.endpoint);
    await syncViaRoutes(this.ns, dev, wantRoutes);
  }

  private async reconcileKernel(desired: readonly TunnelPeer[]): Promise<void> {
    const ns = this.ns;
    const prefix = `gn${this.config.runId}`;
    const want = new Map(desired.map((p) => [this.kernelDev(p), p]));
    const recorded = new Map(readPeerRecord(this.dir).map((p) => [this.kernelDev(p), p]));
    for (const l of await listLinks(ns, ['type', 'geneve'])) {
      if (!l.ifname.startsWith(prefix)) continue;
      const p = want.get(l.ifname);
      const old = recorded.get(l.ifname);
      if (!p || !old || old.endpoint !== p.endpoint || this.vni(old) !== this.vni(p)) await dp(['ip', 'link', 'del', l.ifname], { netns: ns, allowFailure: true });
    }
    for (const [dev, p] of want) {
      if (!(await linkExists(ns, dev))) {
        await dp(['ip', 'link', 'add', dev, 'address', overlayMac(this.config.localUnderlayIp), 'mtu', String(this.mtu), 'type', 'geneve', 'id', String(this.vni(p)),
          'remote', p.endpoint, 'dstport', String(GENEVE_PORT)], { netns: ns });
        await dp(['ip', 'link', 'set', dev, 'up'], { netns: ns });
        await dp(['ip', 'neigh', 'replace', p.endpoint, 'lladdr', overlayMac(p.endpoint), 'dev', dev, 'nud', 'permanent'], { netns: ns });
      }
      await this.syncRoutes(dev, [p]);
    }
  }

  rotateLocalKeys(_keys: TunnelLocalKeys): Promise<void> {
    return this.serial(() => this.rotateNow(_keys));
  }

  private async rotateNow(_keys: TunnelLocalKeys): Promise<void> {
    if (!this.impl) throw new StraitError('TUNNEL_NOT_INITIALIZED', 'geneve driver: call init() first');
  }

  async status(): Promise<TunnelStatus> {
    const ns = this.ns;
    const implFile = join(this.dir, 'implementation');
    const impl = this.impl ?? (existsSync(implFile) ? (readFileSync(implFile, 'utf8') as TunnelImplementation) : undefined);
    const pids = ['ovsdb-server', 'ovs-vswitchd'].map((n) => this.pidOf(n)).filter((p): p is number => p !== undefined);
    const devices: string[] = [];
    const peers: TunnelPeerStatus[] = [];
    const recorded = readPeerRecord(this.dir);
    if (impl === 'ovs-userspace-geneve' && pids.length === 2) {
      for (const d of [this.brInt, this.brPhy]) if (await linkExists(ns, d)) devices.push(d);
      const ports = new Set((await this.vsctl(['list-ports', this.brInt], true)).stdout.split('\n'));
      const routes = await routesOnDev(ns, this.brInt);
      for (const p of recorded) {
        if (!ports.has(this.portName(p))) continue;
        peers.push({
          id: p.id,
          cluster: p.cluster,
          endpoint: p.endpoint,
          remoteCidrs: routes.filter((r) => r.gateway === p.endpoint).map((r) => r.dst).sort(),
          state: 'configured',
          device: this.brInt,
          detail: `ovs port ${this.portName(p)} vni ${this.vni(p)}`,
        });
      }
    } else if (impl === 'kernel-geneve') {
      for (const p of recorded) {
        const dev = this.kernelDev(p);
        if (!(await linkExists(ns, dev))) continue;
        devices.push(dev);
        const routes = await routesOnDev(ns, dev);
        peers.push({ id: p.id, cluster: p.cluster, endpoint: p.endpoint, remoteCidrs: routes.map((r) => r.dst).sort(), state: 'configured', device: dev });
      }
    }
    const live = this.impl !== undefined && (impl === 'kernel-geneve' || pids.length === 2);
    return { type: this.type, implementation: live ? impl! : 'none', initialized: live, mtu: this.mtu, devices, pids, peers };
  }

  remove(): Promise<void> {
    return this.serial(() => this.removeNow());
  }

  private async removeNow(): Promise<void> {
    const ns = this.ns;
    const implFile = join(this.dir, 'implementation');
    const impl = this.impl ?? (existsSync(implFile) ? readFileSync(implFile, 'utf8') : undefined);
    if (impl === 'kernel-geneve') {
      for (const l of await listLinks(ns, ['type', 'geneve'])) if (l.ifname.startsWith(`gn${this.config.runId}`)) await dp(['ip', 'link', 'del', l.ifname], { netns: ns, allowFailure: true });
    } else if (existsSync(this.dir)) {
      if (this.pidOf('ovs-vswitchd') && this.pidOf('ovsdb-server')) {
        await this.vsctl(['--if-exists', 'del-br', this.brInt], true);
        await this.vsctl(['--if-exists', 'del-br', this.brPhy], true);
      }
      for (const n of ['ovs-vswitchd', 'ovsdb-server']) {
        const pid = this.pidOf(n);
        if (pid) await stopPid(pid, 3000);
      }
      // Give the underlay back to the kernel: first let it read the device again, then its addresses and routes.
      await dp(['nft', 'delete', 'table', 'netdev', this.ingressTable], { netns: ns, allowFailure: true });
      const savedFile = join(this.dir, 'underlay.json');
      if (existsSync(savedFile)) {
        const saved = JSON.parse(readFileSync(savedFile, 'utf8')) as SavedUnderlay;
        const ul = this.config.underlayDev;
        for (const a of saved.addrs) await dp(['ip', 'addr', 'replace', a, 'dev', ul], { netns: ns, allowFailure: true });
        await dp(['ip', 'link', 'set', ul, 'up'], { netns: ns, allowFailure: true });
        for (const r of saved.routes) await dp(['ip', 'route', 'replace', r.dst, ...(r.gateway ? ['via', r.gateway] : []), 'dev', ul], { netns: ns, allowFailure: true });
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    this.impl = undefined;
  }
}

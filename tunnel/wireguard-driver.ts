import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../api/index.js';
import { createSerial, falseOnTimeout, isAlive, startDaemon, stopPid, waitFor } from '../host/index.js';
import { dp, devName, enableForwarding, linkExists, routesOnDev, shortHash } from './datapath.js';
import { tunnelMtu } from './mtu.js';
import { PeerRecordStore } from './peer-record.js';
import { validateLocalConfig, validatePeers } from './peer-validation.js';
import type { TunnelDriver, TunnelImplementation, TunnelLocalConfig, TunnelLocalKeys, TunnelPeer, TunnelPeerStatus, TunnelStatus } from './types.js';

export const WIREGUARD_PORT = 51820;
/** wireguard-go's UAPI sockets live here, globally (not per namespace): hence interface names unique per run and gateway. */
export const WIREGUARD_SOCKET_DIR = '/var/run/wireguard';
const KEEPALIVE_S = 25;
const HANDSHAKE_FRESH_MS = 180_000;

interface DumpPeer {
  publicKey: string;
  psk: string;
  endpoint: string;
  allowedIps: string[];
  latestHandshakeMs: number;
  rx: number;
  tx: number;
}

/**
 * WireGuard: kernel device when the kernel has the link type, otherwise wireguard-go (`-f`, pid recorded)
 * over /dev/net/tun. The interface is `wg<runid><hash(gateway)>` so instances in different namespaces never
 * share a UAPI socket path. Configured with `wg set`; peers are keyed by public key, so a peer whose key
 * rotated is removed and re-added; stale peers are removed. Routes for remote CIDRs go `dev wg…`.
 */
export class WireguardDriver implements TunnelDriver {
  readonly type = 'wireguard' as const;
  private impl: TunnelImplementation | undefined;

  private readonly serial = createSerial();
  private readonly record: PeerRecordStore;
  /** The route set last installed on the device (unset: list and fix the routes on the next reconcile). */
  private routesKey: string | undefined;

  constructor(readonly config: TunnelLocalConfig) {
    this.record = new PeerRecordStore(config.stateDir);
  }

  private get ns(): string | undefined {
    return this.config.netns;
  }

  get ifname(): string {
    return devName('wg', this.config.runId, shortHash(`${this.config.gatewayId}/${this.config.netns ?? ''}`));
  }

  private get pidFile(): string {
    return join(this.config.stateDir, 'wireguard-go.pid');
  }

  private get mtu(): number {
    return tunnelMtu('wireguard', this.config.underlayMtu ?? 1500);
  }

  private pid(): number | undefined {
    if (!existsSync(this.pidFile)) return undefined;
    const pid = Number.parseInt(readFileSync(this.pidFile, 'utf8'), 10);
    return Number.isInteger(pid) && isAlive(pid) ? pid : undefined;
  }

  private writeKey(name: string, key: string): string {
    const f = join(this.config.stateDir, name);
    writeFileSync(f, `${key}\n`, { mode: 0o600 });
    chmodSync(f, 0o600);
    return f;
  }

  init(): Promise<void> {
    return this.serial(() => this.initNow());
  }

  private async initNow(): Promise<void> {
    validateLocalConfig(this.type, this.config);
    this.routesKey = undefined;
    mkdirSync(this.config.stateDir, { recursive: true, mode: 0o700 });
    await enableForwarding(this.ns);
    const name = this.ifname;
    if (!(await linkExists(this.ns, name))) {
      const kernel = this.config.implementation !== 'wireguard-go' && (await dp(['ip', 'link', 'add', name, 'type', 'wireguard'], { netns: this.ns, allowFailure: true })).code === 0;
      if (kernel) this.impl = 'kernel-wireguard';
      else {
        if (this.config.implementation === 'kernel-wireguard') throw new StraitError('TUNNEL_UNAVAILABLE', 'kernel has no wireguard link type');
        const d = startDaemon(['wireguard-go', '-f', name], {
          netns: this.ns,
          logFile: join(this.config.stateDir, 'wireguard-go.log'),
          pidFile: this.pidFile,
          env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'error' },
        });
        const sock = join(WIREGUARD_SOCKET_DIR, `${name}.sock`);
        const ok = await waitFor('wireguard-go socket', async () => existsSync(sock) && (await linkExists(this.ns, name)), 5000, 25).then(() => true, falseOnTimeout);
        if (!ok) {
          await stopPid(d.pid);
          const log = existsSync(join(this.config.stateDir, 'wireguard-go.log')) ? readFileSync(join(this.config.stateDir, 'wireguard-go.log'), 'utf8') : '';
          throw new StraitError('TUNNEL_DATAPATH_FAILED', `wireguard-go did not come up for ${name}`, { log: log.slice(-2000) });
        }
        this.impl = 'wireguard-go';
      }
    } else {
      this.impl = this.pid() ? 'wireguard-go' : 'kernel-wireguard';
    }
    const key = this.writeKey('private.key', this.config.keys!.wireguardPrivateKey!);
    await dp(['wg', 'set', name, 'private-key', key, 'listen-port', String(this.config.listenPort ?? WIREGUARD_PORT)], { netns: this.ns });
    await dp(['ip', 'link', 'set', name, 'mtu', String(this.mtu), 'up'], { netns: this.ns });
  }

  private async dump(): Promise<DumpPeer[]> {
    const r = await dp(['wg', 'show', this.ifname, 'dump'], { netns: this.ns, allowFailure: true });
    if (r.code !== 0) return [];
    return r.stdout
      .trim()
      .split('\n')
      .slice(1)
      .filter((l) => l.length > 0)
      .map((l) => {
        const [publicKey = '', psk = '', endpoint = '', allowed = '', hs = '0', rx = '0', tx = '0'] = l.split('\t');
        return {
          publicKey,
          psk,
          endpoint,
          allowedIps: allowed === '(none)' ? [] : allowed.split(',').sort(),
          latestHandshakeMs: Number(hs) * 1000,
          rx: Number(rx),
          tx: Number(tx),
        };
      });
  }

  reconcile(desired: readonly TunnelPeer[]): Promise<void> {
    return this.serial(() => this.reconcileNow(desired));
  }

  private async reconcileNow(desired: readonly TunnelPeer[]): Promise<void> {
    if (!this.impl) throw new StraitError('TUNNEL_NOT_INITIALIZED', 'wireguard driver: call init() before reconcile()');
    validatePeers(this.type, desired);
    const name = this.ifname;
    const have = new Map((await this.dump()).map((p) => [p.publicKey, p]));
    const want = new Map(desired.map((p) => [p.publicKey!, p]));
    // Every peer change in one `wg set` (one fork, one UAPI transaction): when a remote cluster fails over, its
    // CIDRs leave the old gateway's peer and reach the new one's at once (allowed-ips are unique across peers, so
    // setting them on the new peer takes them from the old). Changed and new peers first, in the plan's order
    // (the new active first), then removals: a peer whose key rotated hands its CIDRs to its new key before it goes.
    const sets: string[] = [];
    for (const p of desired) {
      const cur = have.get(p.publicKey!);
      const endpoint = `${p.endpoint}:${p.port ?? WIREGUARD_PORT}`;
      const allowed = [...p.remoteCidrs].sort();
      const psk = p.psk ?? '(none)';
      if (cur && cur.endpoint === endpoint && cur.allowedIps.join(',') === allowed.join(',') && cur.psk === psk) continue;
      sets.push('peer', p.publicKey!, 'endpoint', endpoint, 'allowed-ips', allowed.join(','), 'persistent-keepalive', String(KEEPALIVE_S));
      sets.push('preshared-key', p.psk ? this.writeKey(`psk-${shortHash(p.id, 8)}`, p.psk) : '/dev/null');
    }
    for (const key of have.keys()) if (!want.has(key)) sets.push('peer', key, 'remove');
    if (sets.length) await dp(['wg', 'set', name, ...sets], { netns: this.ns });
    // Routes go `dev wg…` whichever peer carries a CIDR, so a failover leaves them alone: listed and fixed only
    // when the set of CIDRs changed (or nothing is known about the device: after init).
    const routes = new Set(desired.flatMap((p) => p.remoteCidrs));
    const routesKey = [...routes].sort().join(',');
    if (routesKey !== this.routesKey) {
      this.routesKey = undefined;
      for (const r of await routesOnDev(this.ns, name)) if (!routes.has(r.dst)) await dp(['ip', 'route', 'del', r.dst, 'dev', name], { netns: this.ns, allowFailure: true });
      const present = new Set((await routesOnDev(this.ns, name)).map((r) => r.dst));
      for (const c of routes) if (!present.has(c)) await dp(['ip', 'route', 'replace', c, 'dev', name], { netns: this.ns });
      this.routesKey = routesKey;
    }
    this.record.set(desired);
  }

  rotateLocalKeys(keys: TunnelLocalKeys): Promise<void> {
    return this.serial(() => this.rotateNow(keys));
  }

  private async rotateNow(keys: TunnelLocalKeys): Promise<void> {
    if (!this.impl) throw new StraitError('TUNNEL_NOT_INITIALIZED', 'wireguard driver: call init() first');
    validateLocalConfig(this.type, { ...this.config, keys });
    const key = this.writeKey('private.key', keys.wireguardPrivateKey!);
    await dp(['wg', 'set', this.ifname, 'private-key', key], { netns: this.ns });
  }

  async status(): Promise<TunnelStatus> {
    const name = this.ifname;
    const exists = await linkExists(this.ns, name);
    const dump = exists ? await this.dump() : [];
    const byKey = new Map(dump.map((p) => [p.publicKey, p]));
    const now = Date.now();
    const peers: TunnelPeerStatus[] = this.record.get()
      .filter((p) => byKey.has(p.publicKey ?? ''))
      .map((p) => {
        const d = byKey.get(p.publicKey!)!;
        const fresh = d.latestHandshakeMs > 0 && now - d.latestHandshakeMs < HANDSHAKE_FRESH_MS;
        return {
          id: p.id,
          cluster: p.cluster,
          endpoint: d.endpoint.split(':')[0] ?? p.endpoint,
          remoteCidrs: d.allowedIps,
          state: fresh ? 'up' : 'connecting',
          device: name,
          rxBytes: d.rx,
          txBytes: d.tx,
          lastHandshakeMs: d.latestHandshakeMs,
        };
      });
    const pid = this.pid();
    return {
      type: this.type,
      implementation: exists ? (this.impl ?? (pid ? 'wireguard-go' : 'kernel-wireguard')) : 'none',
      initialized: this.impl !== undefined && exists,
      mtu: this.mtu,
      devices: exists ? [name] : [],
      pids: pid ? [pid] : [],
      peers,
    };
  }

  remove(): Promise<void> {
    return this.serial(() => this.removeNow());
  }

  private async removeNow(): Promise<void> {
    const pid = this.pid();
    // SIGTERM makes wireguard-go remove its TUN device and UAPI socket.
    if (pid) await stopPid(pid, 3000);
    await dp(['ip', 'link', 'del', this.ifname], { netns: this.ns, allowFailure: true });
    rmSync(join(WIREGUARD_SOCKET_DIR, `${this.ifname}.sock`), { force: true });
    // A record write still in flight would bring the state dir back.
    await this.record.flush();
    this.record.clear();
    rmSync(this.config.stateDir, { recursive: true, force: true });
    this.impl = undefined;
    this.routesKey = undefined;
  }
}

import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../api/index.js';
import { createSerial, falseOnTimeout, isAlive, startDaemon, stopPid, waitFor } from '../host/index.js';
import { dp, devName, enableForwarding, ipBatch, linkExists, routesOnDev, shortHash } from './datapath.js';
import { tunnelMtu } from './mtu.js';
import { PeerRecordStore } from './peer-record.js';
import { validateLocalConfig, validatePeers } from './peer-validation.js';
import { uapiGetPeers, uapiSet } from './wireguard-uapi.js';
import { parseWgDump, WG_NONE, type WireguardPeerChange, type WireguardPeerState } from './wireguard-uapi-codec.js';
import type { TunnelDriver, TunnelImplementation, TunnelLocalConfig, TunnelLocalKeys, TunnelPeer, TunnelPeerStatus, TunnelStatus } from './types.js';

export const WIREGUARD_PORT = 51820;
/** wireguard-go's UAPI sockets live here, globally (not per namespace): hence interface names unique per run and gateway. */
export const WIREGUARD_SOCKET_DIR = '/var/run/wireguard';
const KEEPALIVE_S = 25;
const HANDSHAKE_FRESH_MS = 180_000;

/**
 * WireGuard: kernel device when the kernel has the link type, otherwise wireguard-go (`-f`, pid recorded)
 * over /dev/net/tun. The interface is `wg<runid><hash(gateway)>` so instances in different namespaces never
 * share a UAPI socket path. A kernel device is configured with `wg set`/`wg show`; wireguard-go through its UAPI
 * socket directly (the same requests `wg` would send, without forking `wg` and `ip netns exec` on the failover
 * path). Peers are keyed by public key, so a peer whose key rotated is removed and re-added; stale peers are
 * removed. Routes for remote CIDRs go `dev wg…`.
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

  private get socketPath(): string {
    return join(WIREGUARD_SOCKET_DIR, `${this.ifname}.sock`);
  }

  /** wireguard-go once init() found or started it; before init (status of a fresh object), when its pid is alive. */
  private get userspace(): boolean {
    return (this.impl ?? (this.pid() ? 'wireguard-go' : 'kernel-wireguard')) === 'wireguard-go';
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
        const sock = this.socketPath;
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
    const listenPort = this.config.listenPort ?? WIREGUARD_PORT;
    if (this.impl === 'wireguard-go') await uapiSet(this.socketPath, { privateKey: this.config.keys!.wireguardPrivateKey!, listenPort });
    else await dp(['wg', 'set', name, 'private-key', this.writeKey('private.key', this.config.keys!.wireguardPrivateKey!), 'listen-port', String(listenPort)], { netns: this.ns });
    await dp(['ip', 'link', 'set', name, 'mtu', String(this.mtu), 'up'], { netns: this.ns });
  }

  /** The device's peers; [] when it cannot be read (as `wg show` failing always gave: the reconcile sets every peer). */
  private async dump(): Promise<WireguardPeerState[]> {
    if (this.userspace) return uapiGetPeers(this.socketPath).catch(() => []);
    const r = await dp(['wg', 'show', this.ifname, 'dump'], { netns: this.ns, allowFailure: true });
    return r.code === 0 ? parseWgDump(r.stdout) : [];
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
    // Every peer change in one `wg set` or UAPI `set=1` (one transaction): when a remote cluster fails over, its
    // CIDRs leave the old gateway's peer and reach the new one's at once (allowed-ips are unique across peers, so
    // setting them on the new peer takes them from the old). Changed and new peers first, in the plan's order
    // (the new active first), then removals: a peer whose key rotated hands its CIDRs to its new key before it goes.
    const changes: WireguardPeerChange[] = [];
    for (const p of desired) {
      const cur = have.get(p.publicKey!);
      const endpoint = `${p.endpoint}:${p.port ?? WIREGUARD_PORT}`;
      const allowed = [...p.remoteCidrs].sort();
      if (cur && cur.endpoint === endpoint && cur.allowedIps.join(',') === allowed.join(',') && cur.psk === (p.psk ?? WG_NONE)) continue;
      changes.push({ publicKey: p.publicKey!, endpoint, allowedIps: allowed, keepaliveS: KEEPALIVE_S, psk: p.psk });
    }
    for (const key of have.keys()) if (!want.has(key)) changes.push({ publicKey: key, remove: true });
    if (changes.length && this.impl === 'wireguard-go') await uapiSet(this.socketPath, { peers: changes });
    else if (changes.length) await dp(['wg', 'set', name, ...this.wgSetArgs(changes, desired)], { netns: this.ns });
    // Routes go `dev wg…` whichever peer carries a CIDR, so a failover leaves them alone: listed and fixed only
    // when the set of CIDRs changed (or nothing is known about the device: after init).
    const routes = new Set(desired.flatMap((p) => p.remoteCidrs));
    const routesKey = [...routes].sort().join(',');
    if (routesKey !== this.routesKey) {
      this.routesKey = undefined;
      const present = await routesOnDev(this.ns, name);
      await ipBatch(this.ns, present.filter((r) => !routes.has(r.dst)).map((r) => `route del ${r.dst} dev ${name}`), true);
      const have = new Set(present.map((r) => r.dst));
      await ipBatch(this.ns, [...routes].filter((c) => !have.has(c)).map((c) => `route replace ${c} dev ${name}`));
      this.routesKey = routesKey;
    }
    this.record.set(desired);
  }

  /** `wg set` arguments for the kernel device (keys from files: `wg` takes no key on its command line). */
  private wgSetArgs(changes: readonly WireguardPeerChange[], desired: readonly TunnelPeer[]): string[] {
    const idOf = new Map(desired.map((p) => [p.publicKey!, p.id]));
    return changes.flatMap((c) =>
      c.remove
        ? ['peer', c.publicKey, 'remove']
        : [
            'peer', c.publicKey, 'endpoint', c.endpoint, 'allowed-ips', c.allowedIps.join(','), 'persistent-keepalive', String(c.keepaliveS),
            'preshared-key', c.psk ? this.writeKey(`psk-${shortHash(idOf.get(c.publicKey)!, 8)}`, c.psk) : '/dev/null',
          ],
    );
  }

  rotateLocalKeys(keys: TunnelLocalKeys): Promise<void> {
    return this.serial(() => this.rotateNow(keys));
  }

  private async rotateNow(keys: TunnelLocalKeys): Promise<void> {
    if (!this.impl) throw new StraitError('TUNNEL_NOT_INITIALIZED', 'wireguard driver: call init() first');
    validateLocalConfig(this.type, { ...this.config, keys });
    if (this.impl === 'wireguard-go') await uapiSet(this.socketPath, { privateKey: keys.wireguardPrivateKey! });
    else await dp(['wg', 'set', this.ifname, 'private-key', this.writeKey('private.key', keys.wireguardPrivateKey!)], { netns: this.ns });
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
    rmSync(this.socketPath, { force: true });
    // A record write still in flight would bring the state dir back.
    await this.record.flush();
    this.record.clear();
    rmSync(this.config.stateDir, { recursive: true, force: true });
    this.impl = undefined;
    this.routesKey = undefined;
  }
}

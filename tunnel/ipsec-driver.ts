import { createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../api/index.js';
import { createSerial, falseOnTimeout, isAlive, startDaemon, stopPid, waitFor } from '../host/index.js';
import { dp, enableForwarding, linkExists, shortHash } from './datapath.js';
import { tunnelMtu } from './mtu.js';
import { readPeerRecord, writePeerRecord } from './peer-record.js';
import { validateLocalConfig, validatePeers } from './peer-validation.js';
import type { TunnelDriver, TunnelImplementation, TunnelLocalConfig, TunnelLocalKeys, TunnelPeer, TunnelPeerStatus, TunnelStatus } from './types.js';
import { ViciClient } from './vici-client.js';
import type { ViciMessage } from './vici-codec.js';

export const CHARON = '/usr/sbin/charon-systemd';
const CHILD = 'net';
const LIBIPSEC_DEV = 'ipsec0';

// kernel-libipsec must come before kernel-netlink so its IPsec backend wins (netlink keeps routes/addresses).
const PLUGINS_BEFORE = 'random nonce openssl pem pkcs1 pkcs8 x509 pubkey revocation constraints hmac sha1 sha2 aes gcm gcrypt chapoly gmp curve25519 kdf';
const PLUGINS_AFTER = 'kernel-netlink socket-default vici updown';

/** One line per `key = value` (strongSwan's parser runs a value to the end of the line). */
export function strongswanConf(opts: { stateDir: string; libipsec: boolean }): string {
  const d = opts.stateDir;
  return `charon-systemd {
  load = ${PLUGINS_BEFORE}${opts.libipsec ? ' kernel-libipsec' : ''} ${PLUGINS_AFTER}
  make_before_break = yes
  retransmit_timeout = 1.0
  retransmit_base = 1.4
  retransmit_tries = 4
  install_virtual_ip = no
  plugins {
    vici {
      socket = unix://${d}/charon.vici
    }
  }
  journal {
    default = -1
  }
  filelog {
    main {
      path = ${d}/charon.log
      time_format = %T
      time_add_ms = yes
      default = 1
      flush_line = yes
    }
  }
}
`;
}

function ipToNum(ip: string): number {
  return ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);
}

function keyType(pem: string): 'ecdsa' | 'ed25519' | 'rsa' {
  const t = createPrivateKey(pem).asymmetricKeyType;
  if (t === 'ec') return 'ecdsa';
  if (t === 'ed25519') return 'ed25519';
  if (t === 'rsa') return 'rsa';
  throw new StraitError('TUNNEL_INVALID_CONFIG', `unsupported IPsec private key type ${String(t)}`);
}

/** One IKE SA as list-sas shows it: whether a CHILD_SA is installed, and its traffic. */
interface IkeSaState {
  state: string;
  installed: boolean;
  uniqueId: string;
  bytesIn: number;
  bytesOut: number;
}

/**
 * IPsec with strongSwan: one `charon-systemd` per gateway with its own strongswan.conf, state dir and VICI
 * socket, driven by our VICI client. Each peer is a connection `p-<id>` with one CHILD_SA `net` (local CIDRs ↔
 * the peer's CIDRs), ESP always UDP-encapsulated (4500). Where the kernel has no ESP, kernel-libipsec does
 * ESP in userspace over a TUN device (`ipsec0`, routes in table 220); there `start_action = trap` does not
 * work, so connections are initiated explicitly: the side with the lower underlay IP is the initiator, and
 * every reconcile (re)initiates peers without an established SA from either side, so the order in which the
 * two gateways reconcile does not matter.
 */
export class IpsecDriver implements TunnelDriver {
  readonly type = 'ipsec' as const;
  private impl: TunnelImplementation | undefined;
  private vici: ViciClient | undefined;
  private keys: TunnelLocalKeys | undefined;

  private readonly serial = createSerial();

  constructor(readonly config: TunnelLocalConfig) {}

  private get ns(): string | undefined {
    return this.config.netns;
  }
  private get dir(): string {
    return this.config.stateDir;
  }
  private get pidFile(): string {
    return join(this.dir, 'charon.pid');
  }
  private get socketPath(): string {
    return join(this.dir, 'charon.vici');
  }
  private get mtu(): number {
    return tunnelMtu('ipsec', this.config.underlayMtu ?? 1500);
  }

  private pid(): number | undefined {
    if (!existsSync(this.pidFile)) return undefined;
    const pid = Number.parseInt(readFileSync(this.pidFile, 'utf8'), 10);
    return Number.isInteger(pid) && isAlive(pid) ? pid : undefined;
  }

  private async kernelHasEsp(): Promise<boolean> {
    // An ESP state with a spi of our own, removed at once: the namespace's xfrm tables are the gateway's.
    const spi = `0x${shortHash(this.config.runId + this.config.gatewayId, 6)}`;
    const r = await dp(
      ['ip', 'xfrm', 'state', 'add', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', spi, 'mode', 'tunnel', 'aead', 'rfc4106(gcm(aes))',
        '0x0102030405060708090a0b0c0d0e0f1011121314', '128'],
      { netns: this.ns, allowFailure: true },
    );
    if (r.code !== 0) return false;
    await dp(['ip', 'xfrm', 'state', 'del', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', spi], { netns: this.ns, allowFailure: true });
    return true;
  }

  init(): Promise<void> {
    return this.serial(() => this.initNow());
  }

  private async initNow(): Promise<void> {
    validateLocalConfig(this.type, this.config);
    if (!existsSync(CHARON)) throw new StraitError('TUNNEL_UNAVAILABLE', `${CHARON} not found (apt-get install charon-systemd)`);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    await enableForwarding(this.ns);
    this.keys = this.config.keys;
    if (!this.pid()) {
      const forced = this.config.implementation;
      const libipsec = forced === 'strongswan-libipsec' || (forced !== 'strongswan-kernel' && !(await this.kernelHasEsp()));
      this.impl = libipsec ? 'strongswan-libipsec' : 'strongswan-kernel';
      writeFileSync(join(this.dir, 'strongswan.conf'), strongswanConf({ stateDir: this.dir, libipsec }));
      writeFileSync(join(this.dir, 'implementation'), this.impl);
      rmSync(this.socketPath, { force: true });
      const d = startDaemon([CHARON], {
        netns: this.ns,
        logFile: join(this.dir, 'charon.out'),
        pidFile: this.pidFile,
        env: { ...process.env, STRONGSWAN_CONF: join(this.dir, 'strongswan.conf') },
      });
      const up = await waitFor('charon VICI socket', () => existsSync(this.socketPath) || !isAlive(d.pid), 10_000, 25).then(() => true, falseOnTimeout);
      if (!up || !isAlive(d.pid)) {
        await stopPid(d.pid);
        const log = existsSync(join(this.dir, 'charon.log')) ? readFileSync(join(this.dir, 'charon.log'), 'utf8') : '';
        throw new StraitError('TUNNEL_DATAPATH_FAILED', 'charon-systemd did not open its VICI socket', { log: log.slice(-2000) });
      }
    } else {
      this.impl = existsSync(join(this.dir, 'implementation')) ? (readFileSync(join(this.dir, 'implementation'), 'utf8') as TunnelImplementation) : 'strongswan-libipsec';
    }
    if (!this.vici) {
      const v = new ViciClient(this.socketPath);
      await v.connect();
      await v.version();
      this.vici = v;
    }
    if (this.keys?.ipsecPrivateKeyPem) await this.vici.loadKey(keyType(this.keys.ipsecPrivateKeyPem), this.keys.ipsecPrivateKeyPem);
  }

  private isInitiator(p: TunnelPeer): boolean {
    return ipToNum(this.config.localUnderlayIp) < ipToNum(p.endpoint);
  }

  connName(p: TunnelPeer): string {
    return `p-${p.id}`;
  }

  private connConfig(p: TunnelPeer): ViciMessage {
    const initiator = this.isInitiator(p);
    const pubkey = !p.psk;
    if (pubkey && !this.keys?.ipsecPublicKeyPem) {
      throw new StraitError('TUNNEL_INVALID_CONFIG', 'ipsec public-key auth needs keys.ipsecPrivateKeyPem and keys.ipsecPublicKeyPem', { peer: p.id });
    }
    return {
      version: '2',
      local_addrs: [this.config.localUnderlayIp],
      remote_addrs: [p.endpoint],
      proposals: ['aes128-sha256-x25519', 'aes128-sha256-modp2048'],
      encap: 'yes',
      dpd_delay: '2s',
      keyingtries: '0',
      rekey_time: '4h',
      local: pubkey ? { auth: 'pubkey', id: this.config.gatewayId, pubkeys: [this.keys!.ipsecPublicKeyPem!] } : { auth: 'psk', id: this.config.gatewayId },
      remote: pubkey ? { auth: 'pubkey', id: p.id, pubkeys: [p.ipsecPublicKeyPem!] } : { auth: 'psk', id: p.id },
      children: {
        [CHILD]: {
          mode: 'tunnel',
          local_ts: [...this.config.localCidrs],
          remote_ts: [...p.remoteCidrs],
          // No gcm/openssl plugin in Debian's base strongSwan: AES-CBC + HMAC-SHA256 is what libipsec can do here.
          esp_proposals: ['aes128-sha256', 'aes128gcm16', 'chacha20poly1305'],
          // Never 'start', although the connections are initiated: charon closes the SAs of a connection whose
          // start_action is 'start' when that connection is replaced (vici_config.c clear_start_action), and
          // a key rotation replaces it (our public key is in it), so traffic stopped until a new SA was up:
          // 50 ms on a quiet host, 300+ ms on a loaded one. Every reconcile initiates what is missing instead.
          start_action: 'none',
          dpd_action: initiator ? 'restart' : 'clear',
          close_action: initiator ? 'start' : 'none',
          rekey_time: '1h',
        },
      },
    };
  }

  private recordedConfigs(): Record<string, string> {
    const f = join(this.dir, 'conns.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Record<string, string>) : {};
  }

  /** Every IKE SA charon lists (`filter`: a VICI list-sas filter, e.g. `{ ike: name }`), one entry each. */
  private async ikeSas(filter: ViciMessage = {}): Promise<(IkeSaState & { name: string })[]> {
    const out: (IkeSaState & { name: string })[] = [];
    if (!this.vici) return out;
    for (const ev of await this.vici.listSas(filter)) {
      for (const [name, v] of Object.entries(ev)) {
        if (typeof v !== 'object' || Array.isArray(v)) continue;
        const children = (v['child-sas'] ?? {}) as ViciMessage;
        let installed = false;
        let bytesIn = 0;
        let bytesOut = 0;
        for (const c of Object.values(children)) {
          if (typeof c === 'object' && !Array.isArray(c) && c.state === 'INSTALLED') {
            installed = true;
            bytesIn += Number(c['bytes-in'] ?? 0);
            bytesOut += Number(c['bytes-out'] ?? 0);
          }
        }
        out.push({ name, state: String(v.state ?? ''), installed, uniqueId: String(v.uniqueid ?? ''), bytesIn, bytesOut });
      }
    }
    return out;
  }

  /** IKE SA name → {state, child installed?, unique id}. */
  private async sas(): Promise<Map<string, IkeSaState>> {
    const m = new Map<string, IkeSaState>();
    for (const { name, ...sa } of await this.ikeSas()) {
      const prev = m.get(name);
      // Several IKE SAs of one connection can exist briefly (reauth, simultaneous initiation): keep the best.
      if (!prev || (!prev.installed && sa.installed)) m.set(name, sa);
    }
    return m;
  }

  reconcile(desired: readonly TunnelPeer[]): Promise<void> {
    return this.serial(() => this.reconcileNow(desired));
  }

  private async reconcileNow(desired: readonly TunnelPeer[]): Promise<void> {
    if (!this.impl || !this.vici) throw new StraitError('TUNNEL_NOT_INITIALIZED', 'ipsec driver: call init() before reconcile()');
    validatePeers(this.type, desired);
    const configs = desired.map((p) => ({ p, name: this.connName(p), conf: this.connConfig(p) })); // throws before any change
    const vici = this.vici;
    const loaded = new Set(await vici.getConns());
    const recorded = this.recordedConfigs();
    const wanted = new Set(configs.map((c) => c.name));
    for (const name of loaded) {
      if (!name.startsWith('p-') || wanted.has(name)) continue;
      await vici.unloadConn(name).catch(() => undefined);
      await vici.terminate(name).catch(() => undefined);
      await vici.unloadShared(`psk-${name}`).catch(() => undefined);
      delete recorded[name];
    }
    const changedAuth: { name: string; psk: boolean }[] = [];
    for (const { p, name, conf } of configs) {
      const auth = shortHash(p.psk ?? p.ipsecPublicKeyPem ?? '', 16);
      const fingerprint = JSON.stringify({ conf, auth });
      if (loaded.has(name) && recorded[name] === fingerprint) continue;
      const prev = recorded[name] ? (JSON.parse(recorded[name]) as { auth?: string }) : undefined;
      if (p.psk) await vici.loadShared({ id: `psk-${name}`, type: 'IKE', data: p.psk, owners: [this.config.gatewayId, p.id] });
      if (prev && loaded.has(name) && prev.auth !== auth) changedAuth.push({ name, psk: Boolean(p.psk) });
      await vici.loadConn(name, conf);
      recorded[name] = fingerprint;
    }
    writeFileSync(join(this.dir, 'conns.json'), JSON.stringify(recorded));
    writePeerRecord(this.dir, desired);
    // New credentials (PSK or the peer's public key) authenticate only new IKE SAs; the old SA carries traffic
    // until a new one is up (make-before-break) so the change costs no packet.
    for (const c of changedAuth) await this.replaceSas(c.name, c.psk);
    await this.initiateMissing(configs.map((c) => c.name));
  }

  /**
   * Moves a connection onto a new IKE SA authenticated with its current credentials, then closes the old ones.
   * A PSK lives in charon's credential store, so a reauthentication (which keeps the SA's connection config) reads
   * the new one. A public key lives in the connection config, and a reauthentication would still use the old
   * config: so a new IKE SA is initiated from the new config (a new config never reuses the old IKE SA), and
   * only once it is up are the old ones deleted. If it cannot come up (the peer does not know our new key yet), the
   * old SA stays: the peer moves both of us when it reconciles.
   */
  private async replaceSas(name: string, psk: boolean): Promise<void> {
    const vici = this.vici!;
    if (psk) {
      await vici.rekey(name, { reauth: true }).catch(() => undefined);
      return;
    }
    const old = (await this.ikeSas({ ike: name })).filter((sa) => sa.name === name).map((sa) => sa.uniqueId);
    if (old.length === 0) return; // nothing to replace: initiateMissing brings one up
    const up = await vici.initiate(name, CHILD, 5000).then(() => true, () => false);
    if (!up) return;
    for (const id of old) await vici.terminateIkeId(id).catch(() => undefined);
  }

  private async initiateMissing(names: string[]): Promise<void> {
    const sas = await this.sas();
    await Promise.all(
      names
        .filter((n) => !sas.get(n)?.installed)
        // charon keeps negotiating after the VICI timeout; waiting longer would only block reconcile on a dead peer.
        .map((n) => this.vici!.initiate(n, CHILD, 1500).catch(() => undefined)),
    );
    if (this.impl === 'strongswan-libipsec' && (await linkExists(this.ns, LIBIPSEC_DEV))) {
      await dp(['ip', 'link', 'set', LIBIPSEC_DEV, 'mtu', String(this.mtu)], { netns: this.ns, allowFailure: true });
    }
  }

  rotateLocalKeys(keys: TunnelLocalKeys): Promise<void> {
    return this.serial(() => this.rotateNow(keys));
  }

  private async rotateNow(keys: TunnelLocalKeys): Promise<void> {
    if (!this.impl || !this.vici) throw new StraitError('TUNNEL_NOT_INITIALIZED', 'ipsec driver: call init() first');
    this.keys = { ...this.keys, ...keys };
    if (keys.ipsecPrivateKeyPem) await this.vici.loadKey(keyType(keys.ipsecPrivateKeyPem), keys.ipsecPrivateKeyPem);
    // Connections carry our public key: force them to reload on the next reconcile.
    writeFileSync(join(this.dir, 'conns.json'), '{}');
    // No reauth from here: peers still hold our old public key, so it would fail and could drop the working SA.
    // Each peer reauthenticates (make-before-break) when it reconciles with our new public key.
    await this.reconcileNow(readPeerRecord(this.dir));
  }

  async status(): Promise<TunnelStatus> {
    const pid = this.pid();
    const sas = pid && this.vici ? await this.sas().catch(() => new Map()) : new Map();
    const hasDev = pid !== undefined && this.impl === 'strongswan-libipsec' && (await linkExists(this.ns, LIBIPSEC_DEV));
    const peers: TunnelPeerStatus[] = pid
      ? readPeerRecord(this.dir).map((p) => {
          const sa = sas.get(this.connName(p)) as IkeSaState | undefined;
          return {
            id: p.id,
            cluster: p.cluster,
            endpoint: p.endpoint,
            remoteCidrs: [...p.remoteCidrs],
            state: sa?.installed ? 'up' : sa ? 'connecting' : 'down',
            ...(hasDev ? { device: LIBIPSEC_DEV } : {}),
            ...(sa ? { rxBytes: sa.bytesIn, txBytes: sa.bytesOut, detail: `IKE ${sa.state} #${sa.uniqueId}` } : {}),
          };
        })
      : [];
    return {
      type: this.type,
      implementation: pid ? (this.impl ?? 'strongswan-libipsec') : 'none',
      initialized: pid !== undefined && this.vici !== undefined,
      mtu: this.mtu,
      devices: hasDev ? [LIBIPSEC_DEV] : [],
      pids: pid ? [pid] : [],
      peers,
    };
  }

  remove(): Promise<void> {
    return this.serial(() => this.removeNow());
  }

  private async removeNow(): Promise<void> {
    this.vici?.close();
    this.vici = undefined;
    const pid = this.pid();
    // SIGTERM: charon removes its TUN device, routing rule 220, routes and the VICI socket.
    if (pid) await stopPid(pid, 5000);
    rmSync(this.dir, { recursive: true, force: true });
    this.impl = undefined;
  }
}

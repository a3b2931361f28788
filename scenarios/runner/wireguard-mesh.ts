import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../../api/index.js';
import { startDaemon, stopPid } from '../../host/index.js';
import { generateWireguardKeyPair } from '../../tunnel/index.js';
import type { Lab } from '../lab/lab.js';

/**
 * WireGuard between every gateway candidate of one cluster and every candidate of the other: one point-to-point
 * device per pair, so standbys keep their tunnels warm (taking over needs no handshake) and routes pick the pair
 * by device — WireGuard's cryptokey routing allows a CIDR on one peer per device only. wireguard-go runs in each
 * gateway namespace (this kernel has no wireguard link type); device names carry the run id because wireguard-go's
 * UAPI sockets are global.
 */
export interface WireguardPair {
  /** Gateway host names and their tunnel addresses. */
  a: string;
  b: string;
  aIp: string;
  bIp: string;
  aDev: string;
  bDev: string;
}

export interface WireguardMesh {
  pairs: WireguardPair[];
  /** The tunnel address of `remote` as seen from `local` (the next hop to reach it), or undefined. */
  peerIp(local: string, remote: string): string | undefined;
  /** The local device of the pair `local` ↔ `remote`. */
  devOf(local: string, remote: string): string | undefined;
  /** wireguard-go pids by gateway (node death kills them with the namespace; rebuild starts them again). */
  pids: Map<string, number[]>;
  /** (Re)creates every device of one gateway (after its namespace was rebuilt). */
  bringUp(gateway: string): Promise<void>;
  stop(): Promise<void>;
}

const PORT_BASE = 51820;

export async function buildWireguardMesh(lab: Lab, left: readonly string[], right: readonly string[], dir: string): Promise<WireguardMesh> {
  const keys = new Map<string, { privateKey: string; publicKey: string }>();
  for (const g of [...left, ...right]) keys.set(g, generateWireguardKeyPair());
  const pairs: WireguardPair[] = [];
  left.forEach((a, i) =>
    right.forEach((b, j) => {
      const n = i * right.length + j;
      // Device names: `w<runid><side><n>`, e.g. wk3x9qaa0 — at most 15 bytes, unique per run.
      pairs.push({ a, b, aIp: `100.64.${n}.0`, bIp: `100.64.${n}.1`, aDev: `w${lab.runId}a${n}`, bDev: `w${lab.runId}b${n}` });
    }),
  );
  const pids = new Map<string, number[]>();
  const portOf = new Map<string, number>();
  const devsOf = (g: string): { dev: string; ip: string; peer: string; peerIp: string; peerDev: string }[] =>
    pairs.flatMap((p) =>
      p.a === g ? [{ dev: p.aDev, ip: p.aIp, peer: p.b, peerIp: p.bIp, peerDev: p.bDev }] : p.b === g ? [{ dev: p.bDev, ip: p.bIp, peer: p.a, peerIp: p.aIp, peerDev: p.aDev }] : [],
    );
  for (const g of [...left, ...right]) devsOf(g).forEach((d, k) => portOf.set(d.dev, PORT_BASE + k));

  const bringUp = async (g: string): Promise<void> => {
    const kf = join(dir, `${g}.wgkey`);
    writeFileSync(kf, `${keys.get(g)!.privateKey}\n`, { mode: 0o600 });
    const mine: number[] = [];
    for (const d of devsOf(g)) {
      const sock = `/var/run/wireguard/${d.dev}.sock`;
      lab.recordFile(sock);
      // A wireguard-go killed with its namespace (node death) leaves its socket behind: never talk to a stale one.
      rmSync(sock, { force: true });
      const daemon = startDaemon(['wireguard-go', '-f', d.dev], {
        netns: lab.netns(g),
        logFile: join(dir, `${d.dev}.log`),
        env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', LOG_LEVEL: 'error' },
      });
      lab.recordDaemon({ pid: daemon.pid, name: `wireguard-go ${d.dev}`, host: g });
      mine.push(daemon.pid);
      const deadline = Date.now() + 10_000;
      while (!existsSync(sock)) {
        if (Date.now() > deadline) throw new StraitError('SCENARIO_LAB_FAILED', `wireguard-go did not create ${sock}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      const endpoint = lab.ip(d.peer);
      await lab.exec(g, ['wg', 'set', d.dev, 'private-key', kf, 'listen-port', String(portOf.get(d.dev)), 'peer', keys.get(d.peer)!.publicKey, 'endpoint', `${endpoint}:${portOf.get(d.peerDev)}`, 'allowed-ips', '0.0.0.0/0']);
      await lab.exec(g, ['ip', 'addr', 'replace', `${d.ip}/31`, 'dev', d.dev]);
      await lab.exec(g, ['ip', 'link', 'set', d.dev, 'mtu', '1420', 'up']);
    }
    pids.set(g, mine);
  };
  for (const g of [...left, ...right]) await bringUp(g);
  return {
    pairs,
    pids,
    peerIp: (local, remote) => devsOf(local).find((d) => d.peer === remote)?.peerIp,
    devOf: (local, remote) => devsOf(local).find((d) => d.peer === remote)?.dev,
    bringUp,
    stop: async () => {
      for (const list of pids.values()) for (const pid of list) await stopPid(pid, 1000);
    },
  };
}

import { StraitError } from '../api/index.js';
import { isWireguardKey } from './peer-validation.js';

// The WireGuard cross-platform userspace protocol (https://www.wireguard.com/xplatform/): `key=value` lines, a
// request ends with a blank line, an answer with `errno=N` and a blank line. Keys travel in hex; the driver and
// `wg` speak base64. Pure text in and out: the socket is wireguard-uapi.ts.

/** What `wg show dump` prints for no preshared key, no endpoint: the driver compares peers in this shape. */
export const WG_NONE = '(none)';

/** One peer as the device reports it (the driver's view, whichever tool read it). */
export interface WireguardPeerState {
  /** base64 */
  publicKey: string;
  /** base64, or `(none)` */
  psk: string;
  /** `ip:port`, or `(none)` */
  endpoint: string;
  /** sorted */
  allowedIps: string[];
  /** 0 when never */
  latestHandshakeMs: number;
  rx: number;
  tx: number;
}

/** A peer change, as `wg set … peer K …` expresses it. */
export type WireguardPeerChange =
  | { publicKey: string; remove: true }
  | {
      publicKey: string;
      remove?: false;
      /** `ip:port` */
      endpoint: string;
      /** Replaces the peer's allowed IPs (and takes them from any other peer that holds them). */
      allowedIps: readonly string[];
      keepaliveS: number;
      /** base64; undefined: no preshared key */
      psk: string | undefined;
    };

export interface WireguardDeviceChange {
  /** base64 */
  privateKey?: string;
  listenPort?: number;
  peers?: readonly WireguardPeerChange[];
}

export const UAPI_GET = 'get=1\n\n';

const ZERO_KEY_HEX = '0'.repeat(64);

function uapiError(message: string, details: Record<string, unknown>): StraitError {
  return new StraitError('TUNNEL_DATAPATH_FAILED', `wireguard UAPI: ${message}`, details);
}

function keyToHex(b64: string, what: string): string {
  // The peers' own check (canonical base64 of 32 bytes): Buffer.from would skip characters that are not base64.
  if (!isWireguardKey(b64)) throw new StraitError('TUNNEL_INVALID_CONFIG', `wireguard UAPI: ${what} is not a base64 32-byte key`);
  return Buffer.from(b64, 'base64').toString('hex');
}

function hexToKey(hex: string, line: string): string {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw uapiError(`malformed key in answer: ${line.split('=')[0]}`, {});
  return Buffer.from(hex, 'hex').toString('base64');
}

/** A value goes on one line: a line break in one would start a request of its own. */
function value(v: string, what: string): string {
  if (/[\n\r]/.test(v) || v.length === 0) throw new StraitError('TUNNEL_INVALID_CONFIG', `wireguard UAPI: invalid ${what} ${JSON.stringify(v)}`);
  return v;
}

/**
 * A `set=1` request with the lines `wg set` itself sends for the same change, in its order (wireguard-tools
 * ipc-uapi.h): all of it is one transaction under the device's lock, peers applied in the order given.
 */
export function encodeUapiSet(change: WireguardDeviceChange): string {
  const lines = ['set=1'];
  if (change.privateKey !== undefined) lines.push(`private_key=${keyToHex(change.privateKey, 'private key')}`);
  if (change.listenPort !== undefined) {
    if (!Number.isInteger(change.listenPort) || change.listenPort < 0 || change.listenPort > 65535) throw new StraitError('TUNNEL_INVALID_CONFIG', `wireguard UAPI: invalid listen port ${change.listenPort}`);
    lines.push(`listen_port=${change.listenPort}`);
  }
  for (const p of change.peers ?? []) {
    lines.push(`public_key=${keyToHex(p.publicKey, 'peer public key')}`);
    if (p.remove) {
      lines.push('remove=true');
      continue;
    }
    lines.push(`preshared_key=${p.psk === undefined ? ZERO_KEY_HEX : keyToHex(p.psk, 'preshared key')}`);
    lines.push(`endpoint=${value(p.endpoint, 'endpoint')}`);
    if (!Number.isInteger(p.keepaliveS) || p.keepaliveS < 0 || p.keepaliveS > 65535) throw new StraitError('TUNNEL_INVALID_CONFIG', `wireguard UAPI: invalid keepalive ${p.keepaliveS}`);
    lines.push(`persistent_keepalive_interval=${p.keepaliveS}`);
    lines.push('replace_allowed_ips=true');
    for (const c of p.allowedIps) lines.push(`allowed_ip=${value(c, 'allowed IP')}`);
  }
  return `${lines.join('\n')}\n\n`;
}

/** Length of the complete answer at the start of `buf` (through the blank line that ends it), or -1 while partial. */
export function uapiAnswerLength(buf: string): number {
  // No line of an answer is empty, so the first blank line is its end (a line break at the very start is not an answer).
  const i = buf.indexOf('\n\n');
  return i < 0 ? -1 : i + 2;
}

function lines(answer: string): string[] {
  if (!answer.endsWith('\n\n')) throw uapiError('truncated answer (no blank line at its end)', { answer: answer.slice(-200) });
  const ls = answer.slice(0, -2).split('\n');
  const last = ls[ls.length - 1] ?? '';
  const m = /^errno=(-?\d+)$/.exec(last);
  if (!m) throw uapiError(`answer does not end with errno=N: ${JSON.stringify(last.slice(0, 80))}`, {});
  const errno = Number(m[1]);
  // wireguard-go answers a negated errno (-22 EINVAL for a bad value, -98 EADDRINUSE for a taken port).
  if (errno !== 0) throw uapiError(`the device refused the request (errno=${errno})`, { errno });
  return ls.slice(0, -1);
}

/** Checks a `set=1` answer: `errno=0` and nothing else. */
export function decodeUapiSetAnswer(answer: string): void {
  const rest = lines(answer);
  if (rest.length) throw uapiError(`unexpected lines in a set answer: ${JSON.stringify(rest[0]!.slice(0, 80))}`, {});
}

function count(v: string, line: string): number {
  if (!/^\d+$/.test(v)) throw uapiError(`malformed number in answer: ${JSON.stringify(line.slice(0, 80))}`, {});
  return Number(v);
}

/**
 * The peers of a `get=1` answer, in the shape `wg show <if> dump` gave (base64 keys, `(none)`, sorted allowed
 * IPs). Device lines (private_key, listen_port, fwmark) and keys this driver does not use are skipped, as the
 * protocol lets implementations add keys; a line without `=`, a peer key before any public_key, a bad key or
 * number, or an answer cut short is an error.
 */
export function decodeUapiGet(answer: string): WireguardPeerState[] {
  const peers: WireguardPeerState[] = [];
  let cur: (WireguardPeerState & { hsSec: number; hsNsec: number }) | undefined;
  const done = (): void => {
    if (!cur) return;
    const { hsSec, hsNsec, ...p } = cur;
    peers.push({ ...p, allowedIps: p.allowedIps.sort(), latestHandshakeMs: hsSec * 1000 + Math.floor(hsNsec / 1e6) });
  };
  for (const line of lines(answer)) {
    const eq = line.indexOf('=');
    if (eq <= 0) throw uapiError(`malformed line in answer: ${JSON.stringify(line.slice(0, 80))}`, {});
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1);
    if (k === 'public_key') {
      done();
      cur = { publicKey: hexToKey(v, line), psk: WG_NONE, endpoint: WG_NONE, allowedIps: [], latestHandshakeMs: 0, rx: 0, tx: 0, hsSec: 0, hsNsec: 0 };
      continue;
    }
    if (k === 'private_key' || k === 'listen_port' || k === 'fwmark') {
      if (cur) throw uapiError(`device key ${k} after the first peer`, {});
      continue;
    }
    if (!cur) {
      if (['preshared_key', 'endpoint', 'allowed_ip', 'last_handshake_time_sec', 'last_handshake_time_nsec', 'rx_bytes', 'tx_bytes'].includes(k)) {
        throw uapiError(`peer key ${k} before any public_key`, {});
      }
      continue;
    }
    switch (k) {
      case 'preshared_key':
        cur.psk = v === ZERO_KEY_HEX ? WG_NONE : hexToKey(v, line);
        break;
      case 'endpoint':
        cur.endpoint = v;
        break;
      case 'allowed_ip':
        cur.allowedIps.push(v);
        break;
      case 'last_handshake_time_sec':
        cur.hsSec = count(v, line);
        break;
      case 'last_handshake_time_nsec':
        cur.hsNsec = count(v, line);
        break;
      case 'rx_bytes':
        cur.rx = count(v, line);
        break;
      case 'tx_bytes':
        cur.tx = count(v, line);
        break;
      default:
        break; // protocol_version, persistent_keepalive_interval, and keys of later versions
    }
  }
  done();
  return peers;
}

/** The peers of `wg show <if> dump` (the kernel path); the first line is the interface. */
export function parseWgDump(stdout: string): WireguardPeerState[] {
  return stdout
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
        allowedIps: allowed === WG_NONE ? [] : allowed.split(',').sort(),
        latestHandshakeMs: Number(hs) * 1000,
        rx: Number(rx),
        tx: Number(tx),
      };
    });
}

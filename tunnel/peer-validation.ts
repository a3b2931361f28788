import { StraitError } from '../api/index.js';
import { cidrProblem, ipProblem, readCidr } from '../crds/index.js';
import type { TunnelLocalConfig, TunnelPeer, TunnelType } from './types.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

function bad(message: string, details: Record<string, unknown>): never {
  throw new StraitError('TUNNEL_INVALID_PEER', message, details);
}

// The one address grammar (crds/ip-text.ts): no leading zeros, no mapped addresses, canonical CIDRs.
function isIPv4(s: string): boolean {
  return ipProblem(s, { family: 'ipv4' }) === undefined;
}

function isIPv4Cidr(s: string): boolean {
  return cidrProblem(s, { family: 'ipv4' }) === undefined;
}

/** [first, last] of a CIDR that passed isIPv4Cidr. */
function span(c: string): [bigint, bigint] {
  const r = readCidr(c);
  if (!r.ok) throw new Error(`unreachable: ${c} was validated`);
  const size = 1n << BigInt(32 - r.prefix);
  return [r.value, r.value + size - 1n];
}

export function isWireguardKey(s: string): boolean {
  return WG_KEY.test(s);
}

/**
 * Checks a desired peer set before anything is touched, so bad input changes nothing. Throws
 * TUNNEL_INVALID_PEER naming the first problem.
 */
export function validatePeers(type: TunnelType, peers: readonly TunnelPeer[]): void {
  if (!Array.isArray(peers)) bad('desired peers must be an array', {});
  const ids = new Set<string>();
  const endpoints = new Set<string>();
  for (const p of peers) {
    if (!p || typeof p.id !== 'string' || !ID.test(p.id)) bad(`invalid peer id ${JSON.stringify(p?.id)}`, { id: p?.id });
    if (ids.has(p.id)) bad(`duplicate peer id "${p.id}"`, { id: p.id });
    ids.add(p.id);
    if (typeof p.endpoint !== 'string' || !isIPv4(p.endpoint)) bad(`peer "${p.id}": endpoint must be an IPv4 address`, { id: p.id, endpoint: p.endpoint });
    if (endpoints.has(p.endpoint)) bad(`peer "${p.id}": endpoint ${p.endpoint} used by two peers`, { id: p.id, endpoint: p.endpoint });
    endpoints.add(p.endpoint);
    if (!Array.isArray(p.remoteCidrs) || p.remoteCidrs.length === 0) bad(`peer "${p.id}": remoteCidrs must list at least one CIDR`, { id: p.id });
    for (const c of p.remoteCidrs) {
      if (typeof c !== 'string' || !isIPv4Cidr(c)) bad(`peer "${p.id}": invalid CIDR ${JSON.stringify(c)}`, { id: p.id, cidr: c });
    }
    if (p.vni !== undefined && (!Number.isInteger(p.vni) || p.vni < 1 || p.vni > 0xffffff)) bad(`peer "${p.id}": vni must be 1..16777215`, { id: p.id, vni: p.vni });
    if (p.port !== undefined && (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535)) bad(`peer "${p.id}": invalid port`, { id: p.id, port: p.port });
    if (type === 'wireguard') {
      if (typeof p.publicKey !== 'string' || !isWireguardKey(p.publicKey)) bad(`peer "${p.id}": wireguard needs a base64 32-byte publicKey`, { id: p.id });
      if (p.psk !== undefined && !isWireguardKey(p.psk)) bad(`peer "${p.id}": wireguard psk must be a base64 32-byte key`, { id: p.id });
    }
    if (type === 'ipsec') {
      const hasPsk = typeof p.psk === 'string' && p.psk.length >= 16;
      const hasPub = typeof p.ipsecPublicKeyPem === 'string' && p.ipsecPublicKeyPem.includes('PUBLIC KEY');
      if (!hasPsk && !hasPub) bad(`peer "${p.id}": ipsec needs a psk (>= 16 chars) or an ipsecPublicKeyPem`, { id: p.id });
      if (typeof p.psk === 'string' && /[\n\r"]/.test(p.psk)) bad(`peer "${p.id}": psk must not contain quotes or line breaks`, { id: p.id });
    }
  }
  // Overlapping remote CIDRs between peers would make routing ambiguous.
  const all: { id: string; span: [bigint, bigint] }[] = [];
  for (const p of peers) for (const c of p.remoteCidrs) all.push({ id: p.id, span: span(c) });
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const a = all[i]!;
      const b = all[j]!;
      if (a.id === b.id) continue;
      if (a.span[0] <= b.span[1] && b.span[0] <= a.span[1]) bad(`peers "${a.id}" and "${b.id}" have overlapping remote CIDRs`, { a: a.id, b: b.id });
    }
  }
}

/** Checks the local config; throws TUNNEL_INVALID_CONFIG. */
export function validateLocalConfig(type: TunnelType, c: TunnelLocalConfig): void {
  const fail = (message: string): never => {
    throw new StraitError('TUNNEL_INVALID_CONFIG', message, { gatewayId: c?.gatewayId });
  };
  if (!c || typeof c.runId !== 'string' || !/^[a-z0-9]{4,8}$/.test(c.runId)) fail('runId must be 4-8 lowercase letters or digits');
  if (typeof c.gatewayId !== 'string' || !ID.test(c.gatewayId)) fail(`invalid gatewayId ${JSON.stringify(c.gatewayId)}`);
  if (typeof c.localUnderlayIp !== 'string' || !isIPv4(c.localUnderlayIp)) fail('localUnderlayIp must be an IPv4 address');
  if (typeof c.underlayDev !== 'string' || !/^[A-Za-z0-9_.@-]{1,15}$/.test(c.underlayDev)) fail('underlayDev must be an interface name');
  if (!Array.isArray(c.localCidrs) || !c.localCidrs.every((x) => typeof x === 'string' && isIPv4Cidr(x))) fail('localCidrs must be IPv4 CIDRs');
  if (typeof c.stateDir !== 'string' || !c.stateDir.startsWith('/')) fail('stateDir must be an absolute path');
  if (type === 'wireguard' && (typeof c.keys?.wireguardPrivateKey !== 'string' || !isWireguardKey(c.keys.wireguardPrivateKey))) {
    fail('wireguard needs keys.wireguardPrivateKey (base64, 32 bytes)');
  }
}

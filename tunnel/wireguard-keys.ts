import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';

// DER prefix of a PKCS#8 X25519 private key; followed by the 32 raw key bytes.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export interface WireguardKeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
}

/** New WireGuard key pair (base64, like `wg genkey | wg pubkey`), from node:crypto X25519. */
export function generateWireguardKeyPair(): WireguardKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const d = privateKey.export({ format: 'jwk' }).d;
  const x = publicKey.export({ format: 'jwk' }).x;
  if (!d || !x) throw new Error('x25519 JWK export lacks d/x');
  return { privateKey: Buffer.from(d, 'base64url').toString('base64'), publicKey: Buffer.from(x, 'base64url').toString('base64') };
}

/** Public key for a base64 WireGuard private key (same result as `wg pubkey`). */
export function wireguardPublicKey(privateKeyBase64: string): string {
  const raw = Buffer.from(privateKeyBase64, 'base64');
  if (raw.length !== 32) throw new RangeError('a WireGuard private key is 32 bytes');
  const key = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  const x = createPublicKey(key).export({ format: 'jwk' }).x;
  if (!x) throw new Error('x25519 JWK export lacks x');
  return Buffer.from(x, 'base64url').toString('base64');
}

/** Random 32-byte preshared key (base64), like `wg genpsk`. */
export function generateWireguardPsk(): string {
  return randomBytes(32).toString('base64');
}

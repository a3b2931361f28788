import { generateKeyPairSync, randomBytes } from 'node:crypto';

export interface IpsecKeyPair {
  /** PKCS#8 PEM. */
  readonly privateKeyPem: string;
  /** SPKI PEM. */
  readonly publicKeyPem: string;
}

/**
 * Ed25519 key pair for strongSwan raw public-key auth. Ed25519 rather than ECDSA: Debian's base strongSwan
 * has no openssl plugin, and its curve25519 plugin signs and verifies Ed25519 (RFC 8420) on its own.
 */
export function generateIpsecKeyPair(): IpsecKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** Random pre-shared key (hex, 64 chars): safe inside swanctl quotes and VICI values. */
export function generateIpsecPsk(): string {
  return randomBytes(32).toString('hex');
}

import { generateKeyPairSync, randomBytes } from 'node:crypto';

export interface IpsecKeyPair {
  /** PKCS#8 PEM. */
  readonly privateKeyPem: string;
  /** SPKI PEM. */
  readonly publicKeyPem: string;
}

/** EC P-256 key pair for strongSwan raw public-key auth (what `openssl genpkey -algorithm EC` gives). */
export function generateIpsecKeyPair(): IpsecKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** Random pre-shared key (hex, 64 chars): safe inside swanctl quotes and VICI values. */
export function generateIpsecPsk(): string {
  return randomBytes(32).toString('hex');
}

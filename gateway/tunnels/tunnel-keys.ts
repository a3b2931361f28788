import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StraitError } from '../../api/index.js';
import { generateIpsecKeyPair, generateWireguardKeyPair, isWireguardKey, wireguardPublicKey, type TunnelLocalKeys, type TunnelType } from '../../tunnel/index.js';
import { createPublicKey } from 'node:crypto';

/** A gateway's tunnel key material: what the driver gets and what the broker publishes. */
export interface GatewayTunnelKeys {
  readonly local: TunnelLocalKeys;
  readonly publicKeys: { wireguard?: string; ipsec?: string };
  /** The file the private key was read from or written to (undefined for types without keys). */
  readonly file?: string;
}

function writeSecret(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/**
 * Loads the private key for `type` from `keyFile` (given by the operator) or from `stateDir` (created on first
 * start and kept, so a restarted gateway keeps its identity and peers need no update). VXLAN and Geneve have no keys.
 */
export function loadTunnelKeys(type: TunnelType, stateDir: string, keyFile?: string): GatewayTunnelKeys {
  if (type === 'vxlan' || type === 'geneve') return { local: {}, publicKeys: {} };
  if (!keyFile) mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  if (type === 'wireguard') {
    const file = keyFile ?? join(stateDir, 'wireguard.key');
    if (!keyFile && !existsSync(file)) writeSecret(file, `${generateWireguardKeyPair().privateKey}\n`);
    const priv = readKey(file).trim();
    if (!isWireguardKey(priv)) throw new StraitError('GATEWAY_INVALID_CONFIG', `${file}: not a WireGuard private key (base64, 32 bytes; e.g. from \`wg genkey\`)`, { file });
    return { local: { wireguardPrivateKey: priv }, publicKeys: { wireguard: wireguardPublicKey(priv) }, file };
  }
  const file = keyFile ?? join(stateDir, 'ipsec.key');
  if (!keyFile && !existsSync(file)) writeSecret(file, generateIpsecKeyPair().privateKeyPem);
  const pem = readKey(file);
  let pub: string;
  try {
    pub = createPublicKey(pem).export({ format: 'pem', type: 'spki' }).toString();
  } catch {
    throw new StraitError('GATEWAY_INVALID_CONFIG', `${file}: not a PKCS#8 PEM private key (Ed25519 or EC P-256)`, { file });
  }
  return { local: { ipsecPrivateKeyPem: pem, ipsecPublicKeyPem: pub }, publicKeys: { ipsec: pub }, file };
}

function readKey(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new StraitError('GATEWAY_INVALID_CONFIG', `cannot read tunnel key ${file}: ${(e as Error).message}`, { file });
  }
}

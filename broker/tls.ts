import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../host/index.js';

export interface TlsFiles {
  caCert: string;
  cert: string;
  key: string;
  /** `sha256:<hex>` of the CA certificate in DER form: what members pin. */
  caHash: string;
}

/** `sha256:<hex>` of a PEM certificate's DER bytes. */
export function certHash(pem: string): string {
  return `sha256:${createHash('sha256').update(new X509Certificate(pem).raw).digest('hex')}`;
}

/**
 * Makes a CA and a server certificate under `dir/tls` with the openssl CLI (P-256 keys, SANs for the given
 * names and addresses plus localhost). Keeps an existing CA so tokens already handed out stay valid.
 */
export async function initTls(stateDir: string, opts: { hosts?: string[] } = {}): Promise<TlsFiles> {
  const dir = join(stateDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, 'ca.key'), caCert = join(dir, 'ca.crt'), key = join(dir, 'server.key'), cert = join(dir, 'server.crt');
  const csr = join(dir, 'server.csr'), ext = join(dir, 'server.ext');
  if (!existsSync(caCert) || !existsSync(caKey)) {
    await run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caCert, '-days', '3650', '-subj', '/CN=strait-broker-ca']);
  }
  const hosts = ['localhost', '127.0.0.1', '::1', ...(opts.hosts ?? [])];
  const san = [...new Set(hosts)].map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  await run(['openssl', 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=strait-broker']);
  await run(['openssl', 'x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '825', '-extfile', ext]);
  rmSync(csr, { force: true });
  // The server certificate file is the full chain (leaf, then CA), so a member holding only the CA hash from its
  // join token can find the CA in the TLS handshake and pin it without being handed a CA file.
  writeFileSync(cert, readFileSync(cert, 'utf8').trimEnd() + '\n' + readFileSync(caCert, 'utf8'));
  for (const f of [caKey, key]) chmodSync(f, 0o600);
  return { caCert, cert, key, caHash: certHash(readFileSync(caCert, 'utf8')) };
}

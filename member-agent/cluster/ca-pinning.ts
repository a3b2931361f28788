import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { brokerUrls, StraitError } from '../../api/index.js';

const hashOfDer = (der: Buffer): string => `sha256:${createHash('sha256').update(der).digest('hex')}`;

/**
 * Pins the broker's CA the way `kubeadm join --discovery-token-ca-cert-hash` does: the CA certificate (from
 * `caFile`, or from the chain the broker presents) must hash to `caHash`, and the broker's certificate must verify
 * against it. Returns the CA PEM for the BrokerClient. Nothing is sent to the broker before the pin holds.
 */
export async function pinBrokerCa(brokerUrl: string, caHash: string, caFile?: string): Promise<string> {
  // Replicas (`URL,URL,…`) share one CA: pinning it at the first is pinning it for all.
  const url = new URL(brokerUrls(brokerUrl)[0] ?? brokerUrl);
  let caPem: string | undefined;
  if (caFile) {
    const pem = readFileSync(caFile, 'utf8');
    const der = new X509Certificate(pem).raw;
    if (hashOfDer(der) !== caHash) throw new StraitError('BROKER_CA_MISMATCH', `--ca-file ${caFile} hashes to ${hashOfDer(der)}, not the token's ${caHash}`);
    caPem = pem;
  }
  const chain = await peerChain(url);
  if (!caPem) {
    const ca = chain.find((c) => hashOfDer(c.raw) === caHash);
    if (!ca) {
      throw new StraitError('BROKER_CA_MISMATCH', `broker ${brokerUrl} presents no certificate with hash ${caHash}; pass the CA with --ca-file (or check the token)`, { presented: chain.map((c) => hashOfDer(c.raw)) });
    }
    caPem = `-----BEGIN CERTIFICATE-----\n${ca.raw.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  }
  const leaf = chain[0];
  const caCert = new X509Certificate(caPem);
  if (!leaf || !(leaf.raw.equals(caCert.raw) || new X509Certificate(leaf.raw).verify(caCert.publicKey))) {
    throw new StraitError('BROKER_CA_MISMATCH', `broker ${brokerUrl}'s certificate is not signed by the pinned CA ${caHash}`);
  }
  return caPem;
}

async function peerChain(url: URL): Promise<{ raw: Buffer }[]> {
  return new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const sock = tls.connect({ host, port: Number(url.port || 443), servername: /^[\d.]+$|:/.test(host) ? undefined : host, rejectUnauthorized: false }, () => {
      const chain: { raw: Buffer }[] = [];
      let c: tls.DetailedPeerCertificate | undefined = sock.getPeerCertificate(true);
      const seen = new Set<string>();
      while (c?.raw && !seen.has(c.fingerprint256)) {
        seen.add(c.fingerprint256);
        chain.push({ raw: c.raw });
        c = c.issuerCertificate;
      }
      sock.end();
      resolve(chain);
    });
    sock.setTimeout(10_000, () => sock.destroy(new Error('TLS handshake timed out')));
    sock.once('error', (e) => reject(new StraitError('UNAVAILABLE', `broker ${url.origin} unreachable: ${e.message}`)));
  });
}

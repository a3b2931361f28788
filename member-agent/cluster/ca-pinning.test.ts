import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { certHash, initTls } from '../../broker/index.js';
import { pinBrokerCa } from './ca-pinning.js';

// A real TLS server with a certificate from the broker's own `initTls` (openssl), with and without the CA in its chain.
describe('pinBrokerCa', () => {
  let dir: string;
  let caHash: string;
  let caFile: string;
  const servers: https.Server[] = [];
  const serve = async (withChain: boolean): Promise<string> => {
    // server.crt from initTls is the full chain; its first PEM block is the leaf alone.
    const chain = readFileSync(join(dir, 'tls', 'server.crt'), 'utf8');
    const leaf = chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + '-----END CERTIFICATE-----'.length) + '\n';
    const cert = withChain ? chain : leaf;
    const s = https.createServer({ cert, key: readFileSync(join(dir, 'tls', 'server.key')) }, (_q, r) => r.end('ok'));
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    return `https://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strait-pin-'));
    const tls = await initTls(dir);
    caHash = tls.caHash;
    caFile = tls.caCert;
  });
  afterAll(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('initTls writes the server certificate as leaf + CA, so the token hash alone pins the CA', () => {
    const chain = readFileSync(join(dir, 'tls', 'server.crt'), 'utf8');
    expect(chain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(chain.trimEnd().endsWith(readFileSync(caFile, 'utf8').trimEnd())).toBe(true);
  });

  it('returns the CA when the broker sends it and its hash matches', async () => {
    const url = await serve(true);
    const pem = await pinBrokerCa(url, caHash);
    expect(certHash(pem)).toBe(caHash);
  });

  it('needs --ca-file when the broker sends only its own certificate, and checks the file against the hash', async () => {
    const url = await serve(false);
    await expect(pinBrokerCa(url, caHash)).rejects.toMatchObject({ code: 'BROKER_CA_MISMATCH' });
    expect(certHash(await pinBrokerCa(url, caHash, caFile))).toBe(caHash);
  });

  it('refuses a wrong hash', async () => {
    const url = await serve(true);
    await expect(pinBrokerCa(url, `sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ code: 'BROKER_CA_MISMATCH' });
    await expect(pinBrokerCa(url, `sha256:${'0'.repeat(64)}`, caFile)).rejects.toMatchObject({ code: 'BROKER_CA_MISMATCH' });
  });
});

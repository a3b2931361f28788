import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uapiGetPeers, uapiRequest, uapiSet } from './wireguard-uapi.js';

const KEY_HEX = '96f34b9644c5988b514a92859ce6d87e7ae0d252e4004272fc37818ec56b3c17';
const GET_ANSWER = `listen_port=51820\npublic_key=${KEY_HEX}\nendpoint=192.168.77.2:51820\nallowed_ip=10.20.1.0/24\nerrno=0\n\n`;

/** A unix socket that answers each connection with `answer(request)` (undefined: says nothing; null: hangs up). */
async function withSocket(answer: (req: string) => string | null | undefined, f: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'strait-uapi-'));
  const path = join(dir, 'wg.sock');
  const conns: Socket[] = [];
  const server: Server = createServer((c) => {
    conns.push(c);
    let req = '';
    c.on('data', (d) => {
      req += d.toString();
      if (!req.endsWith('\n\n')) return;
      const a = answer(req);
      if (a === null) c.destroy();
      // In two pieces: the client reads until the blank line, not one chunk.
      else if (a !== undefined) {
        c.write(a.slice(0, 5));
        setTimeout(() => c.writable && c.write(a.slice(5)), 20);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  try {
    await f(path);
  } finally {
    for (const c of conns) c.destroy();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('WireGuard UAPI client', () => {
  it('sends the request and reads the answer through its blank line, in pieces too', async () => {
    const seen: string[] = [];
    await withSocket(
      (req) => {
        seen.push(req);
        return req === 'get=1\n\n' ? GET_ANSWER : 'errno=0\n\n';
      },
      async (path) => {
        expect(await uapiGetPeers(path)).toEqual([
          { publicKey: Buffer.from(KEY_HEX, 'hex').toString('base64'), psk: '(none)', endpoint: '192.168.77.2:51820', allowedIps: ['10.20.1.0/24'], latestHandshakeMs: 0, rx: 0, tx: 0 },
        ]);
        await uapiSet(path, { listenPort: 51820 });
      },
    );
    expect(seen).toEqual(['get=1\n\n', 'set=1\nlisten_port=51820\n\n']);
  });

  it('a refusal, a hang-up, silence and a missing socket are clear errors', async () => {
    await withSocket(
      (req) => (req.includes('listen_port=1\n') ? 'errno=-98\n\n' : req.includes('listen_port=2\n') ? null : undefined),
      async (path) => {
        await expect(uapiSet(path, { listenPort: 1 })).rejects.toMatchObject({ code: 'TUNNEL_DATAPATH_FAILED', details: { errno: -98 } });
        await expect(uapiSet(path, { listenPort: 2 })).rejects.toMatchObject({ code: 'TUNNEL_DATAPATH_FAILED', message: expect.stringContaining('closed before answering set=1') });
        const t0 = Date.now();
        await expect(uapiRequest(path, 'get=1\n\n', 200)).rejects.toMatchObject({ code: 'TUNNEL_DATAPATH_FAILED', message: expect.stringContaining('no answer to get=1') });
        expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
        await expect(uapiGetPeers(join(path, '..', 'gone.sock'))).rejects.toMatchObject({ code: 'TUNNEL_DATAPATH_FAILED', details: { errno: 'ENOENT' } });
      },
    );
  });
});

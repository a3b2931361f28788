import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { sleep, startTestRedis, type TestRedis } from '../testing/index.js';
import { startTestBroker, TEST_ADMIN_TOKEN, type TestBroker } from './testing.js';

// Slow and odd requests at the HTTP edge (issue #10 items 4 and 5), against a real redis-server and the broker
// over real HTTP, with short deadlines so the test takes seconds.
let redis: TestRedis;
let broker: TestBroker;
let port = 0;

beforeAll(async () => {
  redis = await startTestRedis();
  broker = await startTestBroker(redis.socket, { bookmarkMs: 200, limits: { bodyTimeoutMs: 1000, headersTimeoutMs: 1000 } });
  port = Number(new URL(broker.handle.url).port);
});
afterAll(async () => {
  await broker?.stop();
  await redis?.stop();
});

/** Sends raw bytes; resolves with what came back and when the broker closed the connection (or `waitMs` passed). */
function raw(head: string, body: Buffer | string = '', waitMs = 8000): Promise<{ status: number; text: string; closedAfterMs: number | undefined; socket: net.Socket }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let text = '';
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(head);
      if (body.length) s.write(body);
    });
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text, closedAfterMs: closed ? Date.now() - t0 : undefined, socket: s });
    };
    const timer = setTimeout(() => done(false), waitMs);
    s.on('data', (b: Buffer) => (text += b.toString()));
    s.on('error', () => undefined);
    s.on('close', () => done(true));
  });
}

const codeOf = (text: string): string | undefined => /"code":"([A-Z_]+)"/.exec(text)?.[1];

function post(path: string, body: Buffer | string, headers: Record<string, string>): Promise<{ status: number; code: string | undefined }> {
  return fetch(`${broker.handle.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } }).then(async (r) => ({ status: r.status, code: codeOf(await r.text()) }));
}

describe('the HTTP edge', () => {
  it('authenticates before reading the body: an unauthenticated malformed body is 401, not 400', async () => {
    for (const token of [undefined, 'garbage']) {
      const h: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      expect(await post('/v1/subnets', '{"name":', h)).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    }
    // A join with a token that cannot be one is refused before its body is read too.
    expect(await post('/v1/clusters', '{"id":', { authorization: 'Bearer nope' })).toEqual({ status: 401, code: 'JOIN_TOKEN_INVALID' });
    expect(await post('/v1/subnets', '{"name":', { authorization: `Bearer ${TEST_ADMIN_TOKEN}` })).toEqual({ status: 400, code: 'MALFORMED_JSON' });
  });

  it('refuses a declared oversized body at once, before authentication, and closes the connection', async () => {
    const r = await raw('POST /v1/subnets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n', '{"a"');
    expect(r.status).toBe(413);
    expect(codeOf(r.text)).toBe('BODY_TOO_LARGE');
    expect(r.closedAfterMs).toBeLessThan(3000);
  });

  it('closes unauthenticated and authenticated slow bodies by the body deadline', async () => {
    // 30 clients dribbling 4 bytes a second into a declared 60 KB body (the report's slowloris, sped up).
    const unauth = Array.from({ length: 30 }, () => {
      const s = raw('POST /v1/subnets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n', '{"na');
      return s;
    });
    const auth = raw(`POST /v1/subnets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n`, '{"na');
    const results = await Promise.all([...unauth, auth]);
    for (const r of results.slice(0, 30)) {
      // Unauthenticated: answered 401 without waiting for the body, and the connection closed with the answer.
      expect(r.status).toBe(401);
      expect(r.closedAfterMs).toBeDefined();
      expect(r.closedAfterMs!).toBeLessThan(3000);
    }
    const a = results[30]!;
    expect(a.status).toBe(408);
    expect(codeOf(a.text)).toBe('REQUEST_TIMEOUT');
    expect(a.closedAfterMs).toBeDefined();
  });

  it('closes a connection whose headers do not arrive in time, and watches outlive the request deadline', async () => {
    const ac = new AbortController();
    let watchErr: unknown;
    const watching = broker.admin.watch(await broker.handle.store.currentRev(), () => undefined, ac.signal).catch((e: unknown) => (watchErr = e));
    const r = await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    expect(r.closedAfterMs).toBeDefined();
    expect(r.closedAfterMs!).toBeLessThan(6000);
    // requestTimeout here is 1 + 1 + 5 s; the watch (a long response, not a long request) must still be open.
    await sleep(7500);
    expect(broker.handle.hub!.size).toBe(1);
    expect(watchErr).toBeUndefined();
    ac.abort();
    await watching;
  });

  it('answers a bad or unknown Content-Encoding with 415 UNSUPPORTED_CONTENT_ENCODING and changes nothing', async () => {
    const h = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    const body = JSON.stringify({ name: 'enc', cidr: '10.99.0.0/16' });
    const before = (await broker.admin.listSubnets()).resourceVersion;
    const cases: [string, Buffer | string][] = [
      ['gzip', body],
      ['br', body],
      ['deflate', Buffer.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3])],
      ['gzip', gzipSync(body)],
      ['br', brotliCompressSync(body)],
      ['compress', body],
      ['zstd', body],
      ['gzip, gzip', gzipSync(gzipSync(body))],
      ['x-unknown', body],
    ];
    for (const [enc, b] of cases) {
      expect([enc, await post('/v1/subnets', b, { ...h, 'content-encoding': enc })]).toEqual([enc, { status: 415, code: 'UNSUPPORTED_CONTENT_ENCODING' }]);
    }
    expect((await broker.admin.listSubnets()).resourceVersion).toBe(before);
    // identity is the plain body.
    expect((await post('/v1/subnets', body, { ...h, 'content-encoding': 'identity' })).status).toBe(201);
  });
});

import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { ERROR_CATALOG, StraitError, type ErrorCode } from '../api/index.js';
import { withDeadline, type Logger } from '../host/index.js';
import { bearerOf, type Authenticator, type Principal } from './auth.js';
import type { BrokerStore } from './broker-store.js';
import { DEFAULT_EDGE_LIMITS, type EdgeLimits } from './edge-limits.js';
import type { BrokerMetrics } from './metrics.js';
import { parseJsonBody } from './json-body.js';
import { buildOpenApi } from './openapi.js';
import { idempotencyOf, ROUTES, type RouteContext } from './routes.js';
import type { WatchCloseReason, WatchHub, WatchSink } from './watch-hub.js';

/** The methods whose body is read (as @koa/bodyparser's parsedMethods): another method's body is ignored. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Bytes a catch-up may still have queued when it writes its next page (see serveWatch). */
const CATCH_UP_LOW_WATER = 256 * 1024;

export interface AppDeps {
  store: BrokerStore;
  auth: Authenticator;
  hub: WatchHub;
  metrics: BrokerMetrics;
  logger?: Logger;
  /** URL members use to reach this broker (goes into join tokens). */
  brokerUrl: string;
  /** `sha256:<hex>` of the CA certificate, '' without TLS. */
  caHash: string;
  /** PEM of the CA certificate, served at /v1/ca.crt for pinning */
  caPem?: string;
  /** per-connection limits (defaults: DEFAULT_EDGE_LIMITS) */
  limits?: Partial<EdgeLimits>;
  /** the open watch responses are kept here (the backlog metric reads their unsent bytes) */
  watchStreams?: Set<ServerResponse>;
}

/** Unsent bytes of open watch streams: total and largest. */
export function watchBacklog(streams: Iterable<ServerResponse>): { sum: number; max: number } {
  let sum = 0;
  let max = 0;
  for (const r of streams) {
    const n = r.writableLength;
    sum += n;
    if (n > max) max = n;
  }
  return { sum, max };
}

/** Maps anything thrown to the one wire shape; the only place that decides HTTP statuses. */
export function toStraitError(e: unknown): StraitError {
  if (e instanceof StraitError) return e;
  if (e instanceof z.ZodError) {
    // A body that fits no form of a union (single or batch lease) is explained by the form it came closest to.
    const union = e.issues[0] as { code?: string; errors?: z.core.$ZodIssue[][] } | undefined;
    if (e.issues.length === 1 && union?.code === 'invalid_union' && union.errors?.length) {
      const best = [...union.errors].sort((a, b) => a.length - b.length)[0]!;
      if (best.length > 0) return toStraitError(new z.ZodError(best));
    }
    const issues = e.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
    const custom = e.issues.map((i) => (i.code === 'custom' ? (i.params as { code?: string } | undefined)?.code : undefined)).find((c) => c !== undefined);
    const code: ErrorCode = custom && Object.hasOwn(ERROR_CATALOG, custom) ? (custom as ErrorCode) : 'INVALID_ARGUMENT';
    const first = issues[0];
    return new StraitError(code, `invalid request body: ${first ? `${first.path || '(body)'}: ${first.message}` : 'rejected'}`, { issues });
  }
  const err = e as { type?: string; status?: number; message?: string; name?: string; code?: string };
  if (err?.type === 'entity.too.large' || err?.status === 413) return new StraitError('BODY_TOO_LARGE', `the request body is larger than the limit`);
  if (err?.type === 'encoding.unsupported' || err?.status === 415) return new StraitError('UNSUPPORTED_CONTENT_ENCODING', 'the request body must not be compressed (Content-Encoding: identity)');
  // A body that does not decompress (defence in depth: compressed bodies are refused before they are read).
  if (typeof err?.code === 'string' && err.code.startsWith('Z_')) return new StraitError('UNSUPPORTED_CONTENT_ENCODING', `the request body does not decode: ${err.message ?? err.code}`);
  if (err?.type === 'entity.parse.failed' || (e instanceof SyntaxError && err.status === 400)) return new StraitError('MALFORMED_JSON', 'the request body is not valid JSON (an object is expected)');
  if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
    return new StraitError('INVALID_ARGUMENT', `bad request: ${err.message ?? 'rejected'}`, { type: err.type });
  }
  const msg = err?.message ?? String(e);
  if (/Connection is closed|ECONNREFUSED|ENOENT|max retries|Stream isn't writeable|NOSCRIPT|LOADING|connect/i.test(msg)) {
    return new StraitError('UNAVAILABLE', `Redis is unavailable: ${msg}`, undefined, { cause: e });
  }
  return new StraitError('INTERNAL', 'internal error', undefined, { cause: e });
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  // Koa reports errors of the connection itself (a client that reset it, e.g. a watcher going away) here; without a
  // listener it prints them to stderr.
  app.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'ECONNABORTED') deps.logger?.debug({ err }, 'client connection');
    else deps.logger?.warn({ err }, 'http');
  });
  const router = new Router();
  const openapi = buildOpenApi();
  const limits: EdgeLimits = { ...DEFAULT_EDGE_LIMITS, ...deps.limits };
  const limit = limits.bodyBytes;
  /** Open watches per credential on this replica. */
  const watches = new Map<string, number>();

  // Label children per (method, route, status), looked up once: observing through a labels object hashes the
  // labels on every request.
  const children = new Map<string, { duration: { observe(v: number): void }; count: { inc(): void } }>();
  const metricsOf = (method: string, route: string, status: number): { duration: { observe(v: number): void }; count: { inc(): void } } => {
    const key = `${method} ${status} ${route}`;
    let c = children.get(key);
    if (!c) {
      const labels = { method, route, status: String(status) };
      c = { duration: deps.metrics.requestDuration.labels(labels), count: deps.metrics.requests.labels(labels) };
      children.set(key, c);
    }
    return c;
  };
  // The one error mapper at the edge, plus request metrics.
  app.use(async (ctx, next) => {
    const start = process.hrtime.bigint();
    try {
      await next();
      if (ctx.status === 404 && ctx.body == null && ctx.respond !== false) throw new StraitError('ROUTE_NOT_FOUND', `no API path ${ctx.method} ${ctx.path}`);
    } catch (e) {
      const se = toStraitError(e);
      if (se.code === 'INTERNAL' || se.code === 'UNAVAILABLE') deps.logger?.error({ err: e, path: ctx.path }, 'request failed');
      ctx.status = se.status;
      ctx.body = se.toJSON();
    } finally {
      if (ctx.respond !== false) {
        const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
        const m = metricsOf(ctx.method, route, ctx.status);
        m.duration.observe(Number(process.hrtime.bigint() - start) / 1e9);
        m.count.inc();
      }
    }
  });
  const parser = (jsonLimit: number): Koa.Middleware => bodyParser({ enableTypes: ['json'], detectJSON: () => true, jsonLimit, jsonStrict: true, encoding: 'utf-8' });
  const small = parser(limit);
  // Heartbeats may carry the complete node and owner sets of a large cluster.
  const largeLimit = Math.max(limit, limits.heartbeatBodyBytes);
  const large = parser(largeLimit);
  const isHeartbeat = (ctx: Koa.Context): boolean => ctx.method === 'PUT' && /^\/v1\/clusters\/[^/]+\/heartbeat$/.test(ctx.path);

  /** What the headers alone decide, before authentication costs a Redis round trip: declared size and encoding. */
  const checkBodyHeaders = (ctx: Koa.Context): void => {
    const declared = ctx.request.length;
    const max = isHeartbeat(ctx) ? largeLimit : limit;
    if (declared !== undefined && declared > max) {
      closeAfterAnswer(ctx);
      throw new StraitError('BODY_TOO_LARGE', `the request body (${declared} bytes) is larger than the limit of ${max} bytes`, { limit: max });
    }
    const enc = (ctx.get('content-encoding') || 'identity').trim().toLowerCase();
    if (enc !== 'identity') {
      closeAfterAnswer(ctx);
      throw new StraitError('UNSUPPORTED_CONTENT_ENCODING', `Content-Encoding ${JSON.stringify(ctx.get('content-encoding'))} is not accepted: send the body uncompressed`, { contentEncoding: ctx.get('content-encoding') });
    }
  };
  /** Reads and parses the body, after authentication, within the body deadline. */
  const readBody = async (ctx: Koa.Context): Promise<unknown> => {
    const heartbeat = isHeartbeat(ctx);
    const parse = heartbeat ? large : small;
    // Arrived whole already (a small body comes with its headers): nothing to wait for, no deadline to arm, and
    // nothing for a stream reader to do: the bytes are read here and parsed as the body parser would (parseJsonBody).
    // The body parser's promise chain (co-body, raw-body, iconv) cost about as much broker CPU as the rest of a
    // lease request's body handling.
    const req = ctx.req;
    // Whole: every byte the Content-Length declares is buffered already (a lease's body always is: it comes in the
    // read that brought the headers; `complete` is only set once the parser moves past the message, later).
    const declared = ctx.request.length;
    const whole = req.complete || (declared !== undefined && req.readableLength >= declared && req.headers['transfer-encoding'] === undefined);
    if (whole && !req.closed && BODY_METHODS.has(ctx.method) && req.readableFlowing !== true) {
      const chunks: Buffer[] = [];
      let size = 0;
      for (let c = req.read() as Buffer | null; c !== null; c = req.read() as Buffer | null) {
        chunks.push(c);
        size += c.length;
      }
      const max = heartbeat ? largeLimit : limit;
      if (size > max) {
        closeAfterAnswer(ctx);
        throw new StraitError('BODY_TOO_LARGE', `the request body (${size} bytes) is larger than the limit of ${max} bytes`, { limit: max });
      }
      const body = parseJsonBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      (ctx.request as unknown as { body?: unknown }).body = body;
      return body;
    }
    if (req.complete) {
      await parse(ctx, () => Promise.resolve());
      return (ctx.request as unknown as { body?: unknown }).body;
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        closeAfterAnswer(ctx);
        reject(new StraitError('REQUEST_TIMEOUT', `the request body did not arrive within ${limits.bodyTimeoutMs} ms`, { limitMs: limits.bodyTimeoutMs }));
      }, limits.bodyTimeoutMs);
    });
    try {
      await Promise.race([parse(ctx, () => Promise.resolve()), deadline]);
    } finally {
      clearTimeout(timer);
    }
    return (ctx.request as unknown as { body?: unknown }).body;
  };

  for (const spec of ROUTES) {
    if (!spec.handler) continue;
    const handler = spec.handler;
    const koaPath = spec.path.replace(/\{(\w+)\}/g, ':$1');
    router.register(koaPath, [spec.method], async (ctx) => {
      try {
        await serveRoute(ctx, spec, handler);
      } catch (e) {
        // Refused before its body was read: close with the answer instead of draining a body nobody wants.
        if (spec.body && (ctx.request as unknown as { body?: unknown }).body === undefined) closeAfterAnswer(ctx);
        throw e;
      }
    });
  }
  async function serveRoute(ctx: Koa.Context, spec: (typeof ROUTES)[number], handler: NonNullable<(typeof ROUTES)[number]['handler']>): Promise<void> {
    let principal: Principal = { kind: 'admin' };
    const bearer = bearerOf(ctx.get('authorization'));
    if (spec.body) checkBodyHeaders(ctx);
    if (spec.auth === 'join') {
      if (!bearer) throw new StraitError('UNAUTHENTICATED', 'registering a cluster needs Authorization: Bearer <join token>');
      // The token itself is checked (and consumed) in the registration script; its shape is checked before the body is read.
      // A re-join presents the cluster's current credential instead: it is authenticated here, before the body too.
      if (bearer.startsWith('c.')) principal = await deps.auth.authenticate(ctx.get('authorization'));
      else if (!/^[0-9a-f]{8}\.[0-9a-f]{32}$/.test(bearer)) throw new StraitError('JOIN_TOKEN_INVALID', 'the join token is not of the form <id>.<secret>');
    } else if (spec.auth !== 'none') {
      principal = await deps.auth.authenticate(ctx.get('authorization'));
      if (spec.auth === 'admin' && principal.kind !== 'admin') {
        throw new StraitError('FORBIDDEN', `only the admin may ${spec.summary.toLowerCase()}`, { principal: `cluster/${principal.cluster}` });
      }
    }
    // The body is read only now: an unauthenticated client cannot make the broker wait for or parse a body.
    const raw = spec.body ? await readBody(ctx) : undefined;
    const body = spec.body ? spec.body.parse(raw === undefined ? {} : raw) : undefined;
    const rc: RouteContext = {
      store: deps.store,
      principal,
      params: ctx.params as Record<string, string>,
      query: ctx.query as Record<string, string | undefined>,
      body,
      bearer,
      brokerUrl: deps.brokerUrl,
      caHash: deps.caHash,
      onClusterGone: (id) => deps.auth.forget(id),
      idem: idempotencyOf(ctx.get('idempotency-key') || undefined, { method: spec.method, url: ctx.url, body: raw, principal, bearer, auth: spec.auth }),
    };
    const out = await handler(rc);
    ctx.status = spec.status;
    if (spec.status !== 204) ctx.body = out;
  }

  router.get('/v1/watch', async (ctx) => {
    const principal = await deps.auth.authenticate(ctx.get('authorization'));
    const since = await parseSince(ctx.querystring, deps.store);
    const who = principal.kind === 'admin' ? 'admin' : `cluster/${principal.cluster}`;
    const open = watches.get(who) ?? 0;
    if (open >= limits.watchesPerCredential) {
      throw new StraitError('TOO_MANY_WATCHES', `${who} already holds ${open} open watches on this broker (the limit is ${limits.watchesPerCredential}); close one first`, { principal: who, limit: limits.watchesPerCredential });
    }
    watches.set(who, open + 1);
    try {
      await serveWatch(ctx, since, who);
    } finally {
      const n = (watches.get(who) ?? 1) - 1;
      if (n > 0) watches.set(who, n);
      else watches.delete(who);
    }
  });
  const serveWatch = async (ctx: Koa.Context, since: number, who: string): Promise<void> => {
    const res = ctx.res;
    const cap = limits.watchBacklogBytes;
    // A catch-up writes its next page only once what it queued is nearly gone, not when half the cap is: a paused
    // catch-up then holds about one page, where pacing at cap/2 let each of them keep 4-8 MiB (bench: +12.2 MB RSS
    // per paused catch-up watcher against a goal of 10). A reading client loses nothing: 'drain' comes as soon as
    // the socket takes the page.
    const catchUpLowWater = Math.min(cap / 2, CATCH_UP_LOW_WATER);
    const writeHeaders = (): void => {
      if (res.headersSent) return;
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      res.flushHeaders();
      res.socket?.setNoDelay(true);
    };
    const sink: WatchSink = {
      write(lines) {
        if (res.destroyed) return false;
        writeHeaders();
        res.write(lines);
        return res.writableLength <= cap;
      },
      drained() {
        if (res.destroyed) return Promise.reject(new Error('watcher gone'));
        if (res.writableLength <= catchUpLowWater) return Promise.resolve();
        return new Promise((resolve, reject) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            if (res.destroyed) reject(new Error('watcher gone'));
            else resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      },
    };
    const handle = await deps.hub.subscribe(since, sink);
    ctx.respond = false;
    if (res.destroyed || ctx.req.destroyed) {
      // Gone while subscribing: its 'close' has fired already.
      handle.close();
      return;
    }
    writeHeaders();
    deps.watchStreams?.add(res);
    res.once('close', () => deps.watchStreams?.delete(res));
    const reason = await new Promise<WatchCloseReason>((resolve) => {
      res.once('close', () => {
        handle.close();
        resolve('closed');
      });
      void handle.closed.then(resolve);
    });
    if (reason === 'slow') {
      // Destroy, not end: ending would keep the socket open until its backlog drained, i.e. for ever.
      const err = new StraitError('WATCH_TOO_SLOW', `the watcher left more than ${cap} bytes unread; it was cut off and may resume from its last resourceVersion`, { principal: who, limit: cap });
      deps.logger?.warn({ err, principal: who, backlog: res.writableLength }, 'watcher cut off');
      deps.metrics.watchesCutOff?.inc();
      res.destroy();
    } else if (reason !== 'closed') {
      res.end();
    }
  };
  router.get('/v1/ca.crt', (ctx) => {
    if (!deps.caPem) throw new StraitError('NOT_FOUND', 'this broker runs without a CA (no TLS)');
    ctx.type = 'application/x-pem-file';
    ctx.body = deps.caPem;
  });
  router.get('/v1/openapi.json', (ctx) => {
    ctx.body = openapi;
  });
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    try {
      await withDeadline(deps.store.redis.ping(), 2000, () => new Error('no answer within 2000 ms'));
    } catch (e) {
      throw new StraitError('UNAVAILABLE', `Redis is not reachable: ${e instanceof Error ? e.message : String(e)}`);
    }
    ctx.body = { status: 'ready' };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  app.use(router.routes());
  app.use(
    router.allowedMethods({
      throw: true,
      methodNotAllowed: () => new StraitError('METHOD_NOT_ALLOWED', 'method not allowed on this path'),
      notImplemented: () => new StraitError('METHOD_NOT_ALLOWED', 'method not implemented'),
    }),
  );
  return app;
}

/**
 * Once answered, the connection is closed: its body may still be arriving and is not worth reading. What arrives in
 * the next second is read and dropped (a client still sending gets to read the answer instead of a reset), then the
 * socket is destroyed whatever the client does.
 */
function closeAfterAnswer(ctx: Koa.Context): void {
  if (ctx.response.get('connection') === 'close') return;
  ctx.set('connection', 'close');
  ctx.res.once('finish', () => {
    ctx.req.resume();
    setTimeout(() => ctx.req.socket.destroy(), 1000).unref();
  });
}

/**
 * `since` from the raw query: absent (from now) or exactly one decimal resourceVersion not ahead of the current one.
 * Repeated (`since=1&since=2`) and bracketed (`since[]=1`) forms are refused instead of guessed at.
 */
async function parseSince(querystring: string, store: BrokerStore): Promise<number> {
  const params = new URLSearchParams(querystring);
  const keys = [...params.keys()].filter((k) => k.startsWith('since'));
  if (keys.some((k) => k !== 'since')) throw new StraitError('WATCH_SINCE_INVALID', 'since must be given as since=REV', { keys: [...new Set(keys)].join(',') });
  const values = params.getAll('since');
  const current = Number(await store.currentRev());
  if (values.length === 0) return current;
  if (values.length > 1) throw new StraitError('WATCH_SINCE_INVALID', 'since must be given once', { since: values.join(',') });
  const q = values[0]!;
  if (!/^\d{1,15}$/.test(q)) throw new StraitError('WATCH_SINCE_INVALID', 'since must be a resourceVersion (decimal)', { since: q });
  const since = Number(q);
  if (since > current) {
    throw new StraitError('WATCH_SINCE_INVALID', `since ${since} is ahead of the current resourceVersion ${current}; list again and watch from the list's resourceVersion`, { since: q, current: String(current) });
  }
  return since;
}

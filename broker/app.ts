import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import { z } from 'zod';
import { ERROR_CATALOG, StraitError, type ErrorCode } from '../api/index.js';
import type { Logger } from '../host/index.js';
import { bearerOf, type Authenticator, type Principal } from './auth.js';
import type { BrokerStore } from './broker-store.js';
import type { BrokerMetrics } from './metrics.js';
import { buildOpenApi } from './openapi.js';
import { idempotencyOf, ROUTES, type RouteContext } from './routes.js';
import type { WatchHub } from './watch-hub.js';

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
  /** request body limit in bytes (default 64 KiB) */
  bodyLimit?: number;
  /** body limit of heartbeats, which carry node and owner sets (default 1 MiB) */
  heartbeatBodyLimit?: number;
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
  const router = new Router();
  const openapi = buildOpenApi();
  const limit = deps.bodyLimit ?? 64 * 1024;

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
  const large = parser(Math.max(limit, deps.heartbeatBodyLimit ?? 1024 * 1024));
  app.use((ctx, next) => (ctx.method === 'PUT' && /^\/v1\/clusters\/[^/]+\/heartbeat$/.test(ctx.path) ? large(ctx, next) : small(ctx, next)));

  for (const spec of ROUTES) {
    if (!spec.handler) continue;
    const handler = spec.handler;
    const koaPath = spec.path.replace(/\{(\w+)\}/g, ':$1');
    router.register(koaPath, [spec.method], async (ctx) => {
      let principal: Principal = { kind: 'admin' };
      const bearer = bearerOf(ctx.get('authorization'));
      if (spec.auth === 'join') {
        if (!bearer) throw new StraitError('UNAUTHENTICATED', 'registering a cluster needs Authorization: Bearer <join token>');
      } else if (spec.auth !== 'none') {
        principal = await deps.auth.authenticate(ctx.get('authorization'));
        if (spec.auth === 'admin' && principal.kind !== 'admin') {
          throw new StraitError('FORBIDDEN', `only the admin may ${spec.summary.toLowerCase()}`, { principal: `cluster/${principal.cluster}` });
        }
      }
      const raw = (ctx.request as unknown as { body?: unknown }).body;
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
    });
  }

  router.get('/v1/watch', async (ctx) => {
    await deps.auth.authenticate(ctx.get('authorization'));
    const q = typeof ctx.query.since === 'string' ? ctx.query.since : undefined;
    if (q !== undefined && !/^\d{1,15}$/.test(q)) throw new StraitError('INVALID_ARGUMENT', 'since must be a resourceVersion (decimal)', { since: q });
    const since = q === undefined ? Number(await deps.store.currentRev()) : Number(q);
    const res = ctx.res;
    let headersSent = false;
    const pending: string[] = [];
    const sink = (line: string): boolean => {
      if (!headersSent) {
        pending.push(line);
        return true;
      }
      if (res.destroyed) return false;
      res.write(line);
      // A watcher that does not read is dropped (it reconnects with its last resourceVersion).
      return res.writableLength < 8 * 1024 * 1024;
    };
    const handle = await deps.hub.subscribe(since, sink);
    ctx.respond = false;
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    headersSent = true;
    for (const l of pending) res.write(l);
    await new Promise<void>((resolve) => {
      ctx.req.on('close', () => {
        handle.close();
        resolve();
      });
      void handle.closed.then(() => {
        res.end();
        resolve();
      });
    });
  });
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
      await withTimeout(deps.store.redis.ping(), 2000);
    } catch (e) {
      throw new StraitError('UNAVAILABLE', `Redis is not reachable: ${(e as Error).message}`);
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

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

import type { Command } from '@commander-js/extra-typings';
import { StraitError } from '../../api/index.js';
import { initTls, parseSentinels, startBroker, type BrokerOptions, type BrokerRole, type EdgeLimits } from '../../broker/index.js';

// `strait broker` and `strait broker init-tls`, loaded by their actions in broker.ts on first use.

/** The flags of `strait broker` (broker.ts declares them). */
export interface BrokerFlags {
  listen: string;
  stateDir: string;
  redis?: string;
  redisSentinels?: string;
  redisName?: string;
  redisWaitReplicas?: string;
  redisWaitTimeout: string;
  role: string;
  tlsCert?: string;
  tlsKey?: string;
  advertiseUrl?: string;
  idempotencyTtl: string;
  ownerGrace: string;
  bodyLimit: string;
  heartbeatBodyLimit: string;
  bodyTimeout: string;
  headersTimeout: string;
  watchBacklog: string;
  watchPage: string;
  watchesPerCredential: string;
}

/** A whole number of at least `min` from a flag, or INVALID_ARGUMENT naming the flag. */
function count(flag: string, v: string, min = 1): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new StraitError('INVALID_ARGUMENT', `${flag} wants a whole number of at least ${min}, got ${JSON.stringify(v)}`);
  return n;
}
function seconds(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new StraitError('INVALID_ARGUMENT', `${flag} wants seconds (> 0), got ${JSON.stringify(v)}`);
  return Math.round(n * 1000);
}

/** The per-connection limit flags (docs/broker.md, "Per-connection limits"). */
function limitsFrom(o: { bodyLimit: string; heartbeatBodyLimit: string; bodyTimeout: string; headersTimeout: string; watchBacklog: string; watchPage: string; watchesPerCredential: string }): EdgeLimits {
  return {
    bodyBytes: count('--body-limit', o.bodyLimit, 1024),
    heartbeatBodyBytes: count('--heartbeat-body-limit', o.heartbeatBodyLimit, 1024),
    bodyTimeoutMs: seconds('--body-timeout', o.bodyTimeout),
    headersTimeoutMs: seconds('--headers-timeout', o.headersTimeout),
    watchBacklogBytes: count('--watch-backlog', o.watchBacklog, 64 * 1024),
    catchUpPage: count('--watch-page', o.watchPage, 1),
    watchesPerCredential: count('--watches-per-credential', o.watchesPerCredential, 1),
  };
}

/** `strait broker`: checks the flags, then runs the broker until SIGTERM/SIGINT. */
export async function runBrokerCommand(o: BrokerFlags): Promise<void> {
  const ownerGrace = Number(o.ownerGrace);
  if (!Number.isFinite(ownerGrace) || ownerGrace < 0) throw new StraitError('INVALID_ARGUMENT', `--owner-grace wants seconds, got ${JSON.stringify(o.ownerGrace)}`);
  const limits = limitsFrom(o);
  const idempotencyTtlMs = seconds('--idempotency-ttl', o.idempotencyTtl);
  if (o.redisName && !o.redisSentinels) throw new StraitError('INVALID_ARGUMENT', '--redis-name goes with --redis-sentinels');
  const sentinels = o.redisSentinels !== undefined ? parseSentinels(o.redisSentinels) : undefined;
  if (sentinels && !o.redisName) throw new StraitError('INVALID_ARGUMENT', '--redis-sentinels needs --redis-name (the name the sentinels monitor)');
  if (sentinels && o.redis) throw new StraitError('INVALID_ARGUMENT', '--redis-sentinels and --redis exclude each other');
  const { redisSentinels: _s, ...rest } = o;
  const redis = {
    redisSentinels: sentinels,
    redisName: o.redisName,
    replicaAck: {
      ...(o.redisWaitReplicas !== undefined ? { replicas: count('--redis-wait-replicas', o.redisWaitReplicas, 0) } : {}),
      timeoutMs: seconds('--redis-wait-timeout', o.redisWaitTimeout),
    },
  };
  // Signals are taken from the start: a SIGTERM while starting stops what was started instead of orphaning it.
  let signalled = false;
  let wake = (): void => undefined;
  const onSignal = (): void => {
    signalled = true;
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runBroker({ ...rest, ...redis }, ownerGrace, limits, idempotencyTtlMs, () => signalled, (f) => (wake = f));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Starts the broker (which cleans up after itself if it cannot start) and runs it until a signal. */
async function runBroker(
  o: { listen: string; stateDir: string; role: string; redis?: string; tlsCert?: string; tlsKey?: string; advertiseUrl?: string } & Pick<BrokerOptions, 'redisSentinels' | 'redisName' | 'replicaAck'>,
  ownerGrace: number,
  limits: EdgeLimits,
  idempotencyTtlMs: number,
  signalled: () => boolean,
  onWake: (f: () => void) => void,
): Promise<void> {
  const h = await startBroker({
    limits,
    idempotencyTtlMs,
    jobs: { ownerGraceMs: ownerGrace * 1000 },
    listen: o.listen,
    stateDir: o.stateDir,
    role: o.role as BrokerRole,
    ...(o.redis ? { redisUrl: o.redis } : {}),
    ...(o.redisSentinels ? { redisSentinels: o.redisSentinels, redisName: o.redisName! } : {}),
    ...(o.replicaAck ? { replicaAck: o.replicaAck } : {}),
    ...(o.tlsCert ? { tlsCert: o.tlsCert } : {}),
    ...(o.tlsKey ? { tlsKey: o.tlsKey } : {}),
    ...(o.advertiseUrl ? { advertiseUrl: o.advertiseUrl } : {}),
  });
  try {
    if (signalled()) return;
    process.stdout.write(`${JSON.stringify({ url: h.url, role: o.role, adminTokenFile: process.env.STRAIT_ADMIN_TOKEN ? undefined : `${o.stateDir}/admin.token`, caHash: h.caHash || undefined })}\n`);
    await new Promise<void>((resolve) => {
      onWake(resolve);
      if (signalled()) resolve();
    });
  } finally {
    await h.stop();
  }
}

/** `strait broker init-tls`. */
export async function initTlsCommand(o: { stateDir: string; host?: string[] }, cmd: Command): Promise<void> {
  // `broker` has a --state-dir of its own, and commander hands a flag written after the subcommand to the parent
  // when both define it: take the parent's value when it came from the command line.
  const parent = cmd.parent;
  const stateDir = parent?.getOptionValueSource('stateDir') === 'cli' ? String(parent.opts().stateDir) : o.stateDir;
  const t = await initTls(stateDir, { hosts: o.host ?? [] });
  process.stdout.write(`${JSON.stringify({ ...t, run: `strait broker --state-dir ${stateDir} --tls-cert ${t.cert} --tls-key ${t.key}` }, null, 2)}\n`);
}

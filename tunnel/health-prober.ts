import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import ipaddr from 'ipaddr.js';
import { StraitError } from '../api/index.js';
import { withNetns } from '../host/index.js';
import { ProbeStateMachine, type ProbeHealth } from './probe-state.js';
import { PROBER_SCRIPT, RESPONDER_SCRIPT } from './probe-scripts.js';

export const DEFAULT_PROBE_PORT = 7470;

export interface ProbeTarget {
  /** Caller's name for the target (a peer id, a gateway name). */
  readonly id: string;
  readonly address: string;
  readonly port?: number;
}

export interface HealthProberOptions {
  /** Network namespace to probe from (e.g. a gateway's or a node's); default: the current one. */
  readonly netns?: string;
  readonly targets: readonly ProbeTarget[];
  /** Probe interval per target (default 20 ms). */
  readonly intervalMs?: number;
  /** A probe without reply after this long counts as lost (default: max(interval, 50 ms)). */
  readonly timeoutMs?: number;
  /** Consecutive losses that mark a target down (default 3). */
  readonly misses?: number;
  /** Consecutive replies that mark a target up (default 1). */
  readonly rise?: number;
  /** Source address to bind (to probe "over the tunnel" from an address inside the local CIDR). */
  readonly source?: string;
}

export interface ProbeTransitionEvent {
  readonly target: string;
  readonly from: ProbeHealth;
  readonly to: ProbeHealth;
  /** Date.now() when the parent saw the result that caused it. */
  readonly atMs: number;
  readonly lastRttMs?: number;
}

export interface ProbeResultEvent {
  readonly target: string;
  readonly seq: number;
  readonly ok: boolean;
  readonly rttMs?: number;
}

export type ProberStats = ReturnType<ProbeStateMachine['stats']>;

/**
 * Health prober: UDP echo probes to each target at a fixed interval, reporting RTT, loss and up/down
 * transitions. Events: `transition` (ProbeTransitionEvent), `up` / `down` (same payload), `result`
 * (ProbeResultEvent, one per probe), `error` (the socket process failed).
 */
export class HealthProber extends EventEmitter {
  private child: ChildProcess | undefined;
  private readonly machines: ProbeStateMachine[];
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (e: Error) => void;

  constructor(readonly opts: HealthProberOptions) {
    super();
    validateProberOptions(opts);
    const misses = opts.misses ?? 3;
    const rise = opts.rise ?? 1;
    this.machines = opts.targets.map(() => new ProbeStateMachine({ misses, rise, window: 100 }));
    this.ready = new Promise((res, rej) => {
      this.resolveReady = res;
      this.rejectReady = rej;
    });
    this.ready.catch(() => undefined);
  }

  /** Starts the socket process; resolves once it is sending. */
  start(): Promise<void> {
    const interval = this.opts.intervalMs ?? 20;
    const cfg = {
      targets: this.opts.targets.map((t) => ({ address: t.address, port: t.port ?? DEFAULT_PROBE_PORT })),
      intervalMs: interval,
      timeoutMs: this.opts.timeoutMs ?? Math.max(interval, 50),
      source: this.opts.source,
    };
    const [file, ...args] = withNetns([process.execPath, '-e', PROBER_SCRIPT], this.opts.netns);
    const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STRAIT_PROBE: JSON.stringify(cfg) } });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code, signal) => {
      if (this.child === child) {
        this.child = undefined;
        const e = new StraitError('TUNNEL_DATAPATH_FAILED', `health prober exited (${code ?? signal}): ${stderr.trim()}`);
        this.rejectReady(e);
        if (this.listenerCount('error') > 0) this.emit('error', e);
      }
    });
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => this.onLine(line));
    return this.ready;
  }

  private onLine(line: string): void {
    if (line === 'READY') return this.resolveReady();
    const [kind, idx, seq, rtt] = line.split(' ');
    const i = Number(idx);
    const m = this.machines[i];
    const target = this.opts.targets[i];
    if (!m || !target) return;
    const ok = kind === 'R';
    const rttMs = ok ? Number(rtt) : undefined;
    const t = ok ? m.reply(rttMs!) : m.miss();
    this.emit('result', { target: target.id, seq: Number(seq), ok, ...(rttMs !== undefined ? { rttMs } : {}) } satisfies ProbeResultEvent);
    if (t) {
      const st = m.stats();
      const ev: ProbeTransitionEvent = { target: target.id, from: t.from, to: t.to, atMs: Date.now(), ...(st.lastRttMs !== undefined ? { lastRttMs: st.lastRttMs } : {}) };
      this.emit('transition', ev);
      if (t.to === 'up' || t.to === 'down') this.emit(t.to, ev);
    }
  }

  health(targetId: string): ProbeHealth {
    const i = this.opts.targets.findIndex((t) => t.id === targetId);
    return this.machines[i]?.health ?? 'unknown';
  }

  stats(): Record<string, ProberStats> {
    const out: Record<string, ProberStats> = {};
    this.opts.targets.forEach((t, i) => (out[t.id] = this.machines[i]!.stats()));
    return out;
  }

  /** Stops the socket process (by its pid). */
  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    await gone;
  }
}

function validateProberOptions(o: HealthProberOptions): void {
  const bad = (m: string): never => {
    throw new StraitError('TUNNEL_PROBE_INVALID', m);
  };
  if (!Array.isArray(o.targets) || o.targets.length === 0) bad('at least one probe target is needed');
  for (const t of o.targets) {
    if (!t || typeof t.id !== 'string' || t.id.length === 0) bad('every probe target needs an id');
    if (!ipaddr.IPv4.isValidFourPartDecimal(t.address)) bad(`probe target ${t.id}: address must be IPv4`);
    if (t.port !== undefined && (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535)) bad(`probe target ${t.id}: invalid port`);
  }
  if (o.intervalMs !== undefined && (!Number.isFinite(o.intervalMs) || o.intervalMs < 1 || o.intervalMs > 60_000)) bad('intervalMs must be 1..60000');
  if (o.timeoutMs !== undefined && (!Number.isFinite(o.timeoutMs) || o.timeoutMs < 1)) bad('timeoutMs must be >= 1');
  if (o.misses !== undefined && (!Number.isInteger(o.misses) || o.misses < 1 || o.misses > 1000)) bad('misses must be 1..1000');
  if (o.rise !== undefined && (!Number.isInteger(o.rise) || o.rise < 1 || o.rise > 1000)) bad('rise must be 1..1000');
  if (o.source !== undefined && !ipaddr.IPv4.isValidFourPartDecimal(o.source)) bad('source must be IPv4');
}

/** Starts and returns a prober (convenience: construct + start). */
export async function startHealthProber(opts: HealthProberOptions): Promise<HealthProber> {
  const p = new HealthProber(opts);
  await p.start();
  return p;
}

export interface ProbeResponder {
  readonly pid: number;
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts the UDP echo responder (in `netns` if given) on `address:port` (port 0 = any free port). */
export async function startProbeResponder(opts: { netns?: string; address?: string; port?: number } = {}): Promise<ProbeResponder> {
  const cfg = { address: opts.address ?? '0.0.0.0', port: opts.port ?? DEFAULT_PROBE_PORT };
  const [file, ...args] = withNetns([process.execPath, '-e', RESPONDER_SCRIPT], opts.netns);
  const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STRAIT_PROBE: JSON.stringify(cfg) } });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => (l.startsWith('READY ') ? resolve(Number(l.slice(6))) : reject(new Error(l))));
    child.once('exit', (code) => reject(new StraitError('TUNNEL_DATAPATH_FAILED', `probe responder exited (${code}): ${stderr.trim()}`)));
  });
  return {
    pid: child.pid!,
    port,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await gone;
    },
  };
}

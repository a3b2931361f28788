import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { nftInteractive } from '../../gateway/index.js';

/** One look at a gateway's fence set: the live elements, bracketed by when the look started and ended. */
export interface FenceLook {
  before: number;
  after: number;
  elements: { ip: string; expiresMs?: number }[];
}

/**
 * Reads one nftables set in a gateway's namespace through a long-lived `nft -i` process, so a look costs ~1 ms
 * and its time is known to ~1 ms. Spawning `nft list set` per look (5-30 ms on a loaded host) left the moment an
 * egress IP appeared uncertain by more than the lease's safety margin: the EIP-conflict check could neither prove
 * nor rule out an overlap of a few ms. Any error, exit or timeout answers `null` (unknown) and drops the process;
 * the next look starts a fresh one.
 */
export class FenceSetReader {
  private proc: ChildProcessByStdio<Writable, Readable, Readable> | undefined;
  private out = '';
  private pending: { resolve: (text: string | null) => void; timer: NodeJS.Timeout } | undefined;

  constructor(private readonly netns: string, private readonly setRef: string) {}

  private start(): ChildProcessByStdio<Writable, Readable, Readable> {
    // The same start as the agents' fence sessions: no history file read or written, gone with this process.
    const { argv, env } = nftInteractive(this.netns);
    const [cmd, ...args] = argv;
    const p = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.out = '';
    p.stdin.on('error', () => undefined);
    p.on('error', () => this.finish(null));
    p.on('exit', () => {
      if (this.proc === p) this.proc = undefined;
      this.finish(null);
    });
    p.stdout.on('data', (d: Buffer) => {
      this.out += d.toString();
      // `list set` prints the enclosing table: the answer is complete at its closing brace.
      if (/^}\s*$/m.test(this.out)) {
        const text = this.out;
        this.out = '';
        this.finish(text);
      }
    });
    p.stderr.on('data', () => {
      // Missing set (agent not up yet, namespace being rebuilt): unknown; a fresh process for the next look.
      this.finish(null);
      this.kill();
    });
    return p;
  }

  private finish(text: string | null): void {
    const w = this.pending;
    this.pending = undefined;
    if (!w) return;
    clearTimeout(w.timer);
    w.resolve(text);
  }

  private kill(): void {
    const p = this.proc;
    this.proc = undefined;
    if (!p) return;
    p.stdin.end();
    p.kill('SIGKILL');
  }

  async look(): Promise<FenceLook | null> {
    if (this.pending) return null;
    this.proc ??= this.start();
    const p = this.proc;
    const before = Date.now();
    const text = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => {
        this.finish(null);
        this.kill();
      }, 1000);
      this.pending = { resolve, timer };
      p.stdin.write(`list set ${this.setRef}\n`);
    });
    const after = Date.now();
    return text === null ? null : { before, after, elements: liveElements(text) };
  }

  close(): void {
    this.finish(null);
    this.kill();
  }

  /** One look, then the process is gone: for a check now and then (between trials) rather than a sampler. */
  static async once(netns: string, setRef: string): Promise<FenceLook | null> {
    const r = new FenceSetReader(netns, setRef);
    try {
      return await r.look();
    } finally {
      r.close();
    }
  }
}

/** The IPv4 fence set of a lab's gateway agents (gateway/ names the table `strait-gw-<run>`). */
export function gatewayFenceSet(runId: string): string {
  return `inet strait-gw-${runId} live4`;
}

/** One look at a gateway's fence set now; null when it cannot be read (no agent yet, namespace gone). */
export function readFenceOnce(netns: string, setRef: string): Promise<FenceLook | null> {
  return FenceSetReader.once(netns, setRef);
}

/** nft durations: `132ms`, `1s32ms`, `2m1s`. */
export function parseNftDuration(d: string): number {
  let ms = 0;
  for (const m of d.matchAll(/(\d+)(ms|d|h|m|s)/g)) {
    const n = Number(m[1]);
    ms += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : m[2] === 'h' ? n * 3_600_000 : n * 86_400_000;
  }
  return ms;
}

/** Elements of `nft list set` output with their remaining timeout: `elements = { 172.31.0.200 timeout 140ms expires 132ms }`. */
export function liveElements(text: string): { ip: string; expiresMs?: number }[] {
  const m = /elements\s*=\s*\{([^}]*)\}/s.exec(text);
  if (!m) return [];
  return m[1]!
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0)
    .map((e) => {
      const ip = e.split(/\s+/)[0]!;
      const exp = /expires\s+(\S+)/.exec(e);
      return exp ? { ip, expiresMs: parseNftDuration(exp[1]!) } : { ip };
    });
}

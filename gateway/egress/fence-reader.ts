import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { LineSession, onLines, type PendingTransaction } from './line-session.js';
import { nftInteractive } from './nft-session.js';

/** One look at a gateway's fence set: the live elements, bracketed by when the look started and ended. */
export interface FenceLook {
  before: number;
  after: number;
  elements: { ip: string; expiresMs?: number }[];
}

/** A gateway agent's fence set (the agent names its table `strait-gw-<run>`; live4 also exists in table arp). */
export function gatewayFenceSet(runId: string, family: 4 | 6 = 4): string {
  return `inet strait-gw-${runId} live${family}`;
}

/**
 * The one reader of the gateways' kernel fence sets, for the agent's own `live()`, the tests and the scenario
 * sampler alike. It reads through a long-lived `nft -i` (started like the agent's fence session), so a look costs
 * ~1 ms and its time is known to ~1 ms: spawning `nft list set` per look (5-30 ms on a loaded host) left the
 * moment an egress IP appeared uncertain by more than the lease's safety margin, and the EIP-conflict check could
 * neither prove nor rule out an overlap of a few ms. Looks run one at a time in call order. Any error (a missing
 * set: agent not up yet, namespace being rebuilt), exit or timeout answers `null` (unknown) and drops the
 * process; the next look starts a fresh one.
 */
export class FenceSetReader extends LineSession<ChildProcessByStdio<Writable, Readable, Readable>, PendingTransaction & { resolve: (text: string) => void }> {
  private out: string[] = [];

  constructor(
    private readonly netns: string | undefined,
    private readonly setRef: string,
    private readonly timeoutMs = 1000,
  ) {
    super();
  }

  protected closedError(): Error {
    return new Error('fence reader closed');
  }

  protected start(): ChildProcessByStdio<Writable, Readable, Readable> {
    const { argv, env } = nftInteractive(this.netns);
    const [cmd, ...args] = argv;
    const p = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.out = [];
    p.stdin.on('error', () => undefined);
    onLines(p.stdout, () => this.proc === p, (l) => {
      this.out.push(l);
      // `list set` prints the enclosing table: the answer is complete at its closing brace.
      if (/^}\s*$/.test(l)) this.settle(`${this.out.splice(0).join('\n')}\n`);
    });
    p.stderr.on('data', (d: Buffer) => {
      if (this.proc === p) this.fail(new Error(`nft: ${d.toString().trim().split('\n')[0] ?? 'error'}`));
    });
    p.on('exit', (code) => {
      if (this.proc !== p) return;
      this.proc = undefined;
      this.fail(new Error(`nft exited (${code ?? 'signal'})`));
    });
    p.on('error', (e) => {
      if (this.proc === p) this.fail(e);
    });
    return p;
  }

  private settle(text: string): void {
    const w = this.pending;
    if (!w) return;
    this.pending = undefined;
    clearTimeout(w.timer);
    w.resolve(text);
  }

  /** The set's live elements now (`setRef` defaults to the reader's set), or null when it cannot be read. */
  look(setRef = this.setRef): Promise<FenceLook | null> {
    return this.serial(async () => {
      this.proc ??= this.start();
      const p = this.proc;
      this.out = [];
      const before = Date.now();
      const text = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => this.fail(new Error('fence reader: no answer')), this.timeoutMs);
        this.pending = { resolve, reject, timer };
        p.stdin.write(`list set ${setRef}\n`);
      }).catch(() => null);
      const after = Date.now();
      return text === null ? null : { before, after, elements: liveElements(text) };
    });
  }

  /** One look, then the process is gone: for a check now and then (between trials) rather than a sampler. */
  static async once(netns: string | undefined, setRef: string, timeoutMs?: number): Promise<FenceLook | null> {
    const r = new FenceSetReader(netns, setRef, timeoutMs);
    try {
      return await r.look();
    } finally {
      r.close();
    }
  }
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

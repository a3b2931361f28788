import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { withNetns } from '../../host/index.js';
import { LineSession, onLines, type PendingTransaction } from './line-session.js';

const SETPRIV = '/usr/bin/setpriv';

/**
 * How to start a long-lived `nft -i` (in `netns`), for the fence session here and for readers of nft sets.
 * - `HOME=/nonexistent`: interactive nft (libedit) reads `~/.nft.history` when it starts and writes its whole
 *   history back when it ends. A fence session adds ~550 bytes of history per lease renewal (100/s in the fast
 *   profile): root's history file had grown to 4.5 MB, read by every new session, and a session orphaned by a
 *   SIGKILLed agent spent ~2 s of realtime CPU writing it back — one of two cores gone in the middle of the
 *   failover (`perf sched`). Without a home there is nothing to read or write.
 * - `setpriv --pdeathsig KILL` (util-linux, where present): the session dies with the agent at once instead of
 *   lingering as an orphan.
 */
export function nftInteractive(netns: string | undefined, flags: readonly string[] = []): { argv: string[]; env: NodeJS.ProcessEnv } {
  const inner = withNetns(['nft', '-i', ...flags], netns);
  const argv = existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'KILL', '--', ...inner] : inner;
  return { argv, env: { ...process.env, HOME: '/nonexistent' } };
}

/**
 * Transactions after which a fence session is replaced by a fresh process. Interactive nft was measured keeping every
 * line in its history (RSS 5 → 22 MB over 30,000 lines), so a session is not kept forever. But the replacement is a
 * spawn, and a spawn forks the agent: it held the holder's main thread for ~12 ms, longer than the fast profile's
 * 10 ms renewal interval, so every replacement was a late tick that the lease TTL and the detector then had to cover
 * for 30 s (#12, CPU profile of the fast profile's agents). At 1,000 (every 10 s at 100 renewals/s) that memory
 * never emptied. 10,000 is every 100 s; re-measured with the fence's own transaction (two sets, add / delete / add,
 * stdout read as the session reads it), Debian 12's nft stayed at 4.9 MB RSS over 30,000 transactions, so the bound
 * costs nothing here and caps the old growth at ~6 MB where it happens.
 */
export const NFT_SESSION_MAX_TRANSACTIONS = 10_000;

/**
 * A long-lived `nft -i -e` process: one line written = one nftables transaction, acknowledged by the
 * `# new generation N` line `-e` (echo) prints after each commit. Why: the fence is refreshed on every lease
 * renewal, and spawning `nft` costs 5–15 ms (40+ ms on a loaded host) against ~0.6 ms for a line to a running
 * session; a fence refreshed late under load is an egress outage. Transactions run one at a time, in order.
 *
 * On any error (an `Error:` on stderr, the process exiting, no answer within `timeoutMs`) the transaction is
 * rejected and the process is dropped; the next `apply` starts a fresh one, so a late line of an old error can never
 * be taken for the answer to a new transaction.
 */
export class NftSession extends LineSession<ChildProcessByStdio<Writable, Readable, Readable>, PendingTransaction & { resolve: () => void }> {
  private err = '';
  private done = 0;

  constructor(private readonly opts: { netns?: string; timeoutMs?: number; maxTransactions?: number } = {}) {
    super();
  }

  /** Runs `commands` (nft commands, one per entry) as ONE transaction. */
  apply(commands: readonly string[]): Promise<void> {
    const line = commands.map((c) => c.trim()).filter(Boolean).join('; ');
    return this.serial(() => this.send(line));
  }

  protected closedError(): Error {
    return new Error('nft session closed');
  }

  protected start(): ChildProcessByStdio<Writable, Readable, Readable> {
    const { argv, env } = nftInteractive(this.opts.netns, ['-e']);
    const [cmd, ...args] = argv;
    const p = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.done = 0;
    // An idle session must not keep the agent process alive on its way out.
    unrefChild(p);
    this.err = '';
    p.stdin.on('error', () => undefined);
    // Every handler checks that `p` is still the current process: a replaced or failed one may still report.
    onLines(p.stdout, () => this.proc === p, (l) => {
      if (l.startsWith('# new generation')) this.settle();
    });
    p.stderr.on('data', (d: Buffer) => {
      if (this.proc !== p) return;
      this.err += d.toString();
      if (/Error/.test(this.err)) this.fail(new Error(`nft: ${this.err.trim().split('\n')[0] ?? 'error'}`));
    });
    p.on('exit', (code) => {
      if (this.proc !== p) return;
      this.proc = undefined;
      if (this.pending) this.fail(new Error(`nft session exited (${code ?? 'signal'}) ${this.err.trim()}`));
    });
    p.on('error', (e) => {
      if (this.proc === p) this.fail(e);
    });
    return p;
  }

  private send(line: string): Promise<void> {
    if (!line) return Promise.resolve();
    this.proc ??= this.start();
    const p = this.proc;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error('nft session: no answer')), this.opts.timeoutMs ?? 5000);
      this.pending = { resolve, reject, timer };
      p.stdin.write(`${line}\n`);
    });
  }

  private settle(): void {
    const w = this.pending;
    if (!w) return;
    this.pending = undefined;
    clearTimeout(w.timer);
    w.resolve();
    this.done += 1;
    if (this.done >= (this.opts.maxTransactions ?? NFT_SESSION_MAX_TRANSACTIONS)) {
      // Idle now (one transaction at a time): swap in a fresh process, ready for the next one.
      this.kill();
      this.proc = this.start();
    }
  }
}

/** Lets the process exit while `p` (and its pipes) still run. */
export function unrefChild(p: { unref(): void; stdin: unknown; stdout: unknown; stderr: unknown }): void {
  p.unref();
  for (const s of [p.stdin, p.stdout, p.stderr]) (s as { unref?: () => void } | null)?.unref?.();
}

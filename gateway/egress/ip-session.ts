import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { StraitError } from '../../api/index.js';
import { withNetns } from '../../host/index.js';
import { LineSession, onLines, type PendingTransaction } from './line-session.js';
import { unrefChild } from './nft-session.js';

const SETPRIV = '/usr/bin/setpriv';

/**
 * The line `ip` answers for every transaction: `link show dev lo` prints `1: lo: …` (loopback is ifindex 1 in every
 * namespace) and nothing else does so at the start of a line, since route and rule commands print nothing.
 */
const SENTINEL = 'link show dev lo';
const SENTINEL_REPLY = /^1: lo: /;

/**
 * A long-lived `ip -force -batch -` process: a route move is a line written to a running process (~0.1-0.5 ms)
 * instead of a fork+exec of `ip` (measured 20-25 ms on a loaded node, issue #12), on the critical path of every
 * failover together with the lease expiry.
 *
 * One transaction = the caller's lines followed by a sentinel command whose reply marks the end. stderr is merged
 * into stdout (`2>&1` in the child), so an error line always arrives before the sentinel's reply, and
 * `Command failed -:N` names the line. `-force` keeps the process running after a failed line; `run` rejects (or,
 * with `allowFailure`, returns the errors). Transactions run one at a time, in order. On exit, a timeout or a spawn
 * error the transaction is rejected and the process dropped: the next `run` starts a fresh one, so a late reply of
 * an old transaction can never be taken for a new one's.
 */
export class IpBatchSession extends LineSession<ChildProcessByStdio<Writable, Readable, null>, PendingTransaction & { last: number; errors: string[]; resolve: (errors: string[]) => void }> {
  /** Lines written to the current process so far (ip numbers batch lines from 1). */
  private lineNo = 0;

  constructor(private readonly opts: { netns?: string; timeoutMs?: number } = {}) {
    super();
  }

  /**
   * Runs `lines` (ip batch commands) and resolves with the error lines, empty when all succeeded. Rejects with
   * GATEWAY_DATAPATH_FAILED when a line failed (unless `allowFailure`) or the process did not answer.
   */
  run(lines: readonly string[], o: { allowFailure?: boolean } = {}): Promise<string[]> {
    const body = lines.map((l) => l.trim()).filter(Boolean);
    return this.serial(async () => {
      if (body.length === 0) return [];
      const errors = await this.send(body);
      if (errors.length && !o.allowFailure) {
        throw new StraitError('GATEWAY_DATAPATH_FAILED', `ip: ${errors[0] ?? 'error'}`, { argv: 'ip -force -batch - (session)', stderr: errors.join('\n'), input: body.join('\n').slice(0, 2000) });
      }
      return errors;
    });
  }

  protected closedError(): Error {
    return new StraitError('GATEWAY_DATAPATH_FAILED', 'ip batch session closed');
  }

  protected start(): ChildProcessByStdio<Writable, Readable, null> {
    const inner = withNetns(['ip', '-force', '-batch', '-'], this.opts.netns);
    // The session dies with the agent (pdeathsig), as the nft fence session does.
    const argv = existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'KILL', '--', ...inner] : inner;
    const p = spawn('/bin/sh', ['-c', 'exec "$0" "$@" 2>&1', ...argv], { stdio: ['pipe', 'pipe', 'ignore'] });
    unrefChild({ unref: () => p.unref(), stdin: p.stdin, stdout: p.stdout, stderr: null });
    this.lineNo = 0;
    p.stdin.on('error', () => undefined);
    // Every handler checks that `p` is still the current process: a replaced or failed one may still report.
    onLines(p.stdout, () => this.proc === p, (l) => this.onLine(l));
    p.on('exit', (code) => {
      if (this.proc !== p) return;
      this.proc = undefined;
      this.fail(new StraitError('GATEWAY_DATAPATH_FAILED', `ip batch session exited (${code ?? 'signal'})`));
    });
    p.on('error', (e) => {
      if (this.proc === p) this.fail(new StraitError('GATEWAY_DATAPATH_FAILED', `ip batch session: ${e.message}`));
    });
    return p;
  }

  private onLine(l: string): void {
    const w = this.pending;
    if (!w) return;
    const failed = /^Command failed -:(\d+)/.exec(l);
    if (failed) {
      // The error text came on the lines before; keep the caller's lines' failures, never the sentinel's.
      if (Number(failed[1]) > w.last) this.fail(new StraitError('GATEWAY_DATAPATH_FAILED', `ip batch session: the end marker failed (${l})`));
      return;
    }
    if (SENTINEL_REPLY.test(l)) {
      this.pending = undefined;
      clearTimeout(w.timer);
      w.resolve(w.errors);
      return;
    }
    // Output of the sentinel's second line (`link/loopback …`) or an error message of one of the caller's lines.
    if (!/^\s+link\/loopback/.test(l) && l.trim()) w.errors.push(l.trim());
  }

  private send(body: string[]): Promise<string[]> {
    this.proc ??= this.start();
    const p = this.proc;
    const last = this.lineNo + body.length;
    this.lineNo = last + 1;
    return new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new StraitError('GATEWAY_DATAPATH_FAILED', 'ip batch session: no answer')), this.opts.timeoutMs ?? 10_000);
      this.pending = { last, errors: [], resolve, reject, timer };
      p.stdin.write(`${body.join('\n')}\n${SENTINEL}\n`);
    });
  }
}

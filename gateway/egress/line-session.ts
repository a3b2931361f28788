import type { Readable, Writable } from 'node:stream';

/** What a session's child process must offer (stdin to write lines to; stdout read by the subclass). */
export interface SessionChild {
  readonly pid?: number | undefined;
  readonly stdin: Writable;
  kill(signal: NodeJS.Signals): boolean;
}

/** The transaction under way: settled by the subclass's answer, or rejected by `fail`. */
export interface PendingTransaction {
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The life cycle shared by the long-lived command sessions of the datapath (`nft -i`, `ip -batch -`): one process,
 * one transaction at a time in call order, and on any failure the transaction is rejected and the process dropped,
 * so the next transaction starts a fresh one and a late answer of an old process is never taken for a new one's.
 * Subclasses start the process and read its answers; they must ignore output of a process that is no longer `proc`.
 */
export abstract class LineSession<P extends SessionChild, T extends PendingTransaction> {
  protected proc: P | undefined;
  protected pending: T | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  protected abstract start(): P;
  /** The error a pending transaction gets from `close`. */
  protected abstract closedError(): Error;

  /** Runs `fn` after every transaction queued before it (a failed one does not stop the queue). */
  protected serial<R>(fn: () => Promise<R>): Promise<R> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  protected fail(e: Error): void {
    const w = this.pending;
    this.pending = undefined;
    this.kill();
    if (!w) return;
    clearTimeout(w.timer);
    w.reject(e);
  }

  protected kill(): void {
    const p = this.proc;
    this.proc = undefined;
    if (!p) return;
    p.stdin.end();
    p.kill('SIGKILL');
  }

  /** The running process's pid, if one runs (tests: a transaction must not start a new one). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts the process now, so that the first transaction (a takeover) does not pay for the spawn. */
  warm(): void {
    this.proc ??= this.start();
  }

  /** Ends the process (a pending transaction is rejected); a later transaction starts a new one. */
  close(): void {
    this.fail(this.closedError());
  }
}

/** Calls `onLine` for each complete line `stream` prints while `current()` holds (a replaced process is ignored). */
export function onLines(stream: Readable, current: () => boolean, onLine: (line: string) => void): void {
  let out = '';
  stream.on('data', (d: Buffer) => {
    if (!current()) return;
    out += d.toString();
    let i: number;
    while ((i = out.indexOf('\n')) >= 0) {
      const l = out.slice(0, i);
      out = out.slice(i + 1);
      onLine(l);
    }
  });
}

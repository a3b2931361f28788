import { rename, writeFile } from 'node:fs/promises';

/**
 * Keeps one file rewritten with the latest text, atomically (temporary file + rename) and off the event loop.
 *
 * Why not writeFileSync: on ext4 a write or a rename-over can sleep in the kernel for 10-20 ms while the journal
 * commits (measured with `perf sched` on the gateway agents: main threads in D state for 10-22 ms). Agents rewrite
 * their status exactly when something changes, i.e. during a failover, and a realtime agent stalled there delays
 * its fence, its routes and its lease renewals. Here the write runs in libuv's thread pool; the event loop never
 * waits for the disk. Writes coalesce: while one is in flight only the newest pending text is kept, so readers
 * always end up with the latest state and never see half a file.
 */
export class LatestFileWriter {
  private pending: string | undefined;
  private running: Promise<void> | undefined;

  constructor(
    readonly file: string,
    private readonly onError: (e: unknown) => void = () => undefined,
    /** File mode of new files (e.g. 0o600 for anything holding keys). */
    private readonly mode?: number,
  ) {}

  write(text: string): void {
    this.pending = text;
    this.running ??= this.drain();
  }

  /** Resolves once every text handed to `write` so far is in place. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      while (this.pending !== undefined) {
        const text = this.pending;
        this.pending = undefined;
        try {
          await writeFile(tmp, text, this.mode !== undefined ? { mode: this.mode } : {});
          await rename(tmp, this.file);
        } catch (e) {
          this.onError(e);
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}

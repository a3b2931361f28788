import { stopPid } from '../host/index.js';

type Step = { what: string; run: () => Promise<unknown> | unknown };

/**
 * What a bench started (processes, connections, a worktree, a temporary directory), undone in reverse order on
 * every way out: a normal end, a throw anywhere, SIGINT / SIGTERM / SIGHUP. A failed `bench:broker` used to leave its
 * `strait broker --role api` processes running (three were found after a ceiling phase failed).
 */
export class BenchCleanup {
  private readonly steps: Step[] = [];
  private running: Promise<void> | undefined;

  /** Registers an undo step; returns it, so a step done early (a process stopped on purpose) can be dropped. */
  add(what: string, run: () => Promise<unknown> | unknown): Step {
    const step = { what, run };
    this.steps.push(step);
    return step;
  }

  /** A process the bench started: SIGTERM, SIGKILL after 2 s. */
  addPid(what: string, pid: number): Step {
    return this.add(what, () => stopPid(pid));
  }

  /** Runs a registered step now (and not again at the end). */
  async done(step: Step): Promise<void> {
    const i = this.steps.indexOf(step);
    if (i >= 0) this.steps.splice(i, 1);
    await step.run();
  }

  /** Undoes everything still registered, last first; a step that fails is reported and the others still run. Once. */
  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        try {
          await step.run();
        } catch (e) {
          process.stderr.write(`bench clean-up: ${step.what}: ${(e as Error).message}\n`);
        }
      }
    })();
    return this.running;
  }

  /** On SIGINT, SIGTERM or SIGHUP: undo everything, then exit with 128 + the signal's number. Returns the uninstaller. */
  onSignals(exit: (code: number) => void = (code) => process.exit(code)): () => void {
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
      const h = (): void => {
        process.stderr.write(`bench: ${sig}, stopping what it started\n`);
        void this.run().then(() => exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const)[sig]));
      };
      process.once(sig, h);
      return [sig, h] as const;
    });
    return () => {
      for (const [sig, h] of handlers) process.off(sig, h);
    };
  }
}

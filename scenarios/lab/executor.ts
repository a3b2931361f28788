import { run, ExecError } from '../../host/index.js';
import { StraitError } from '../../api/index.js';
import { LAB_PHASES, describeStep, stepCommands, type LabStep } from './plan.js';

/** Progress of a lab build: one event per finished phase (what was created, how many, how long). */
export interface LabStepEvent {
  phase: string;
  count: number;
  ms: number;
  detail?: string;
}

export type StepRunner = (argv: readonly string[]) => Promise<void>;

const realRunner: StepRunner = async (argv) => {
  await run(argv, { timeoutMs: 20_000 });
};

async function inPool<T>(items: readonly T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  if (failure !== undefined) throw failure;
}

/** Stops a build between commands once the caller aborted (Ctrl-C in `lab up`); the caller rolls back. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new StraitError('LAB_BUILD_FAILED', 'lab build interrupted', { interrupted: true });
}

/**
 * Applies a plan phase by phase; steps of one phase run a few at a time (they are independent). The first
 * failure stops the build and is reported as LAB_BUILD_FAILED naming the step; the caller rolls back.
 */
export async function executePlan(
  steps: readonly LabStep[],
  opts: { onStep?: (e: LabStepEvent) => void; runner?: StepRunner; concurrency?: number; signal?: AbortSignal } = {},
): Promise<Record<string, number>> {
  const runner = opts.runner ?? realRunner;
  const timings: Record<string, number> = {};
  for (const phase of LAB_PHASES) {
    const inPhase = steps.filter((s) => s.phase === phase);
    if (inPhase.length === 0) continue;
    const t0 = performance.now();
    await inPool(inPhase, opts.concurrency ?? 6, async (step) => {
      for (const argv of stepCommands(step)) {
        throwIfAborted(opts.signal);
        try {
          await runner(argv);
        } catch (e) {
          const why = e instanceof ExecError ? e.result.stderr.trim() || e.message : (e as Error).message;
          throw new StraitError('LAB_BUILD_FAILED', `lab step failed: ${describeStep(step)}: ${why}`, {
            step: describeStep(step),
            command: argv.join(' '),
          });
        }
      }
    });
    const ms = Math.round(performance.now() - t0);
    timings[phase] = ms;
    opts.onStep?.({ phase, count: inPhase.length, ms });
  }
  return timings;
}

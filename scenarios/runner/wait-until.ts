import { StraitError } from '../../api/index.js';

/** Polls `check` every 25 ms until it holds; past `timeoutMs` fails the lab start with what it waited for. */
export async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const d = detail?.();
      throw new StraitError('SCENARIO_LAB_FAILED', `timed out after ${timeoutMs} ms waiting for ${what}${d ? `: ${d}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What `waitFor` throws when the condition did not hold in time (errors thrown by the check pass through as they are). */
export class WaitTimeoutError extends Error {
  constructor(readonly what: string, readonly timeoutMs: number) {
    super(`timed out waiting for ${what}`);
    this.name = 'WaitTimeoutError';
  }
}

/**
 * Polls `f` until it returns something other than undefined/false and returns that; throws WaitTimeoutError naming
 * `what` after `timeoutMs`. Tests wait for state this way (generous timeouts, never a wall-clock budget), and so do
 * drivers waiting for a daemon's socket.
 */
export async function waitFor<T>(
  what: string,
  f: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  pollMs = 20,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new WaitTimeoutError(what, timeoutMs);
    await sleep(pollMs);
  }
}

/** `.then(() => true, falseOnTimeout)`: a wait whose timeout is an answer, not an error. */
export function falseOnTimeout(e: unknown): false {
  if (e instanceof WaitTimeoutError) return false;
  throw e;
}

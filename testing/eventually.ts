import { waitFor, WaitTimeoutError } from '../host/index.js';

/**
 * Polls `fn` every 50 ms until it returns something other than undefined/false and returns that, like host's
 * `waitFor`, but a throw counts as "not yet": for reads of state that is still being created (an API object not
 * there, a broker not answering yet). On timeout the error names `what` and the last error seen, so a wait that
 * never succeeds still says why.
 */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  let last: unknown;
  try {
    return await waitFor(
      what,
      () =>
        fn().catch((e: unknown) => {
          last = e;
          return undefined;
        }),
      ms,
      50,
    );
  } catch (e) {
    if (e instanceof WaitTimeoutError) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`, { cause: e });
    throw e;
  }
}

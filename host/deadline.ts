/**
 * `p`, or a rejection with `onTimeout()` once `ms` passed without an answer. `p` is then left to finish on its own
 * and its outcome is ignored: the caller has gone on without it. The timer is cleared on an answer and never keeps
 * the process alive by itself.
 */
export function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(onTimeout()), ms);
      t.unref();
    }),
  ]).finally(() => clearTimeout(t));
}

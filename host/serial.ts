/**
 * Runs async operations one at a time, in call order. A driver's or agent's concurrent calls (a timer and a watch
 * event, say) would otherwise interleave their reads and writes of the same datapath. A failed operation does not
 * stop the ones queued after it.
 */
export function createSerial(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const next = tail.then(fn, fn);
    tail = next.catch(() => undefined);
    return next;
  };
}

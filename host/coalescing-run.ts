/**
 * A reconcile that runs one at a time, where calls that arrive during a run coalesce into one more run after it
 * (not one each): a burst of watch events re-plans once or twice, never once per event, and the last event is
 * always seen by a run that started after it. `stopped()` ends the repeats. `current` is the run under way, for
 * a stop that waits for it.
 */
export function createCoalescingRun(stopped: () => boolean): { run: (fn: () => Promise<void>) => Promise<void>; readonly current: Promise<void> | undefined } {
  let running: Promise<void> | undefined;
  let again = false;
  return {
    run(fn) {
      if (stopped()) return Promise.resolve();
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        do {
          again = false;
          await fn();
        } while (again && !stopped());
      })().finally(() => {
        running = undefined;
      });
      return running;
    },
    get current() {
      return running;
    },
  };
}

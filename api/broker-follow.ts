import type { WatchEvent } from './broker-wire.js';

export interface FollowBrokerOptions {
  /** Where to resume watching; undefined: list first. */
  readonly since: string | undefined;
  readonly watch: (since: string, onEvent: (e: WatchEvent) => void, signal?: AbortSignal) => Promise<void>;
  /** Replaces the follower's copy with a fresh list; returns the resourceVersion to watch from. */
  readonly relist: () => Promise<string>;
  readonly onEvent: (e: WatchEvent) => void;
  /** After a re-list: the copy changed wholesale. */
  readonly onRelisted: () => void;
  /** The watch broke (expired, broker unreachable): the loop re-lists next. */
  readonly onBreak: (err: Error) => void;
  readonly stopped: () => boolean;
  readonly signal: AbortSignal;
  /** Pause between a break (or an ended stream) and the next attempt. */
  readonly retryMs?: number;
}

/**
 * Keeps a local copy of broker objects current until `stopped()`: watch from `since`, remembering the last event's
 * resourceVersion; after any break, list again and watch from there. A stream that ends cleanly resumes from the
 * last event; any error re-lists (the broker may have compacted past it, or restarted).
 */
export async function followBroker(o: FollowBrokerOptions): Promise<void> {
  let rv = o.since;
  while (!o.stopped()) {
    try {
      if (rv === undefined) {
        rv = await o.relist();
        o.onRelisted();
      }
      let last = rv;
      await o.watch(
        rv,
        (e) => {
          last = e.resourceVersion;
          o.onEvent(e);
        },
        o.signal,
      );
      rv = last;
    } catch (e) {
      if (o.stopped()) return;
      o.onBreak(e as Error);
      rv = undefined;
    }
    if (!o.stopped()) await new Promise((r) => setTimeout(r, o.retryMs ?? 500));
  }
}

import type { WatchEvent } from './broker-wire.js';
import { StraitError } from './strait-error.js';

export interface FollowBrokerOptions {
  /** Where to resume watching; undefined: list first. */
  readonly since: string | undefined;
  readonly watch: (since: string, onEvent: (e: WatchEvent) => void, signal?: AbortSignal) => Promise<void>;
  /** Replaces the follower's copy with a fresh list; returns the resourceVersion to watch from. */
  readonly relist: () => Promise<string>;
  readonly onEvent: (e: WatchEvent) => void;
  /** After a re-list: the copy changed wholesale. */
  readonly onRelisted: () => void;
  /**
   * The watch broke: expired or refused (the loop re-lists next), or the broker could not be reached (UNAVAILABLE:
   * the loop watches again from the last resourceVersion, on the client's next broker URL).
   */
  readonly onBreak: (err: Error) => void;
  readonly stopped: () => boolean;
  readonly signal: AbortSignal;
  /** Pause between a break (or an ended stream) and the next attempt. */
  readonly retryMs?: number;
}

/**
 * Keeps a local copy of broker objects current until `stopped()`: watch from `since`, remembering the last event's
 * resourceVersion. A stream that ends, or a broker that cannot be reached (UNAVAILABLE: it stopped, or the
 * connection broke), resumes from the last event, so with several broker replicas on one Redis the watch goes on at
 * another one with every event exactly once (revisions are contiguous in the shared log). Any other error re-lists:
 * the log was compacted past it (WATCH_EXPIRED), or the broker's state went back (a `since` ahead of it is refused).
 */
export async function followBroker(o: FollowBrokerOptions): Promise<void> {
  let rv = o.since;
  while (!o.stopped()) {
    let last = rv;
    try {
      if (rv === undefined) {
        rv = await o.relist();
        last = rv;
        o.onRelisted();
      }
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
      // A relist that failed has no `last` to resume from (undefined): it lists again.
      rv = e instanceof StraitError && e.code === 'UNAVAILABLE' ? last : undefined;
    }
    if (!o.stopped()) await new Promise((r) => setTimeout(r, o.retryMs ?? 500));
  }
}

/**
 * The first list of a follower that must start from the broker's state: `relist` until it answers, retrying every
 * `retryMs` while the broker cannot be reached or fails (5xx), and failing at once on a refusal (4xx: a bad
 * credential or an unknown cluster, which retrying cannot mend) or once `stopped()`. Returns the resourceVersion
 * to watch from.
 */
export async function firstListing(o: { relist: () => Promise<string>; stopped: () => boolean; onRetry: (err: unknown, attempt: number) => void; retryMs?: number }): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await o.relist();
    } catch (e) {
      if (o.stopped() || (e instanceof StraitError && e.status < 500)) throw e;
      o.onRetry(e, attempt);
      await new Promise((r) => setTimeout(r, o.retryMs ?? 1000));
    }
  }
}

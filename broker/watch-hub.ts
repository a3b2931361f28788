import type { Redis } from 'ioredis';
import { StraitError } from '../api/index.js';
import { parseEntry, type BrokerStore, type RawEvent } from './broker-store.js';

/** Where a watcher's NDJSON lines go. */
export interface WatchSink {
  /** Writes one chunk of lines; false when the watcher must be dropped (gone, or its backlog passed the cap). */
  write(lines: string): boolean;
  /** Resolves once the backlog is small again (catch-up writes its next page only then); rejects if the watcher is gone. */
  drained(): Promise<void>;
}

interface Subscriber {
  last: number;
  live: boolean;
  sink: WatchSink;
  closed: boolean;
  onClose: (reason: WatchCloseReason) => void;
}

/** Why the hub let go of a watcher: `slow` (backlog over the cap), `gap` (the log lost events it needed), `stopping`, `error`. */
export type WatchCloseReason = 'closed' | 'slow' | 'gap' | 'stopping' | 'error';

export interface WatchHandle {
  close(): void;
  /** Resolves when the hub drops the watcher, with the reason. */
  closed: Promise<WatchCloseReason>;
}

export interface WatchHubOptions {
  bookmarkMs?: number;
  /** Events per XRANGE page while a watcher catches up (default 1000). */
  catchUpPage?: number;
}

/** Pause after a read that returned events, so that the next read picks up a batch. */
const COALESCE_MS = 2;

export function eventLine(e: RawEvent): string {
  // The object is already JSON in the log: splice it in instead of parsing and re-serialising.
  return `{"type":"${e.type}","kind":"${e.kind}","object":${e.object},"resourceVersion":"${e.rev}"}\n`;
}

/**
 * One tail reader per broker process (a blocking XREAD on its own connection) fanned out to every watcher, so
 * 100 watchers cost one Redis connection. A new watcher first catches up from the log in pages (XRANGE … COUNT),
 * writing a page only when its socket has drained, so a watcher that does not read holds at most its backlog cap
 * plus one page however far back it starts. It goes live at the moment its catch-up has reached what the tail
 * reader has fanned out; revisions are contiguous, so nothing is lost or doubled, and nothing is buffered for it.
 */
export class WatchHub {
  private readonly subs = new Set<Subscriber>();
  private reader: Redis | undefined;
  private lastRev = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private bookmarkTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: BrokerStore,
    private readonly opts: WatchHubOptions = {},
  ) {}

  get size(): number {
    return this.subs.size;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.reader = this.store.redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true, enableAutoPipelining: false });
    this.reader.on('error', () => undefined); // the loop retries; the main connection logs
    this.lastRev = Number(await this.store.currentRev());
    this.loop = this.run();
    this.bookmarkTimer = setInterval(() => this.bookmarks(), this.opts.bookmarkMs ?? 5000);
    this.bookmarkTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.bookmarkTimer) clearInterval(this.bookmarkTimer);
    for (const s of [...this.subs]) this.drop(s, 'stopping');
    this.reader?.disconnect();
    await this.loop?.catch(() => undefined);
  }

  private async run(): Promise<void> {
    const key = this.store.keys.events;
    while (this.running) {
      try {
        const res = (await this.reader!.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', key, `${this.lastRev}-0`)) as [string, [string, string[]][]][] | null;
        if (!res) continue;
        let n = 0;
        const revs: number[] = [];
        const lines: string[] = [];
        for (const [, entries] of res) {
          n += entries.length;
          for (const entry of entries) {
            const e = parseEntry(entry);
            if (e.rev <= this.lastRev) continue;
            this.lastRev = e.rev;
            revs.push(e.rev);
            lines.push(eventLine(e));
          }
        }
        if (revs.length > 0) this.fanOut(revs, lines);
        // Under a stream of writes, gather a few ms of events per read instead of one XREAD per event (each read is
        // a round trip and a syscall on both sides). An event after a quiet spell still wakes the blocked read at once.
        if (n < 1000 && this.running) await new Promise((r) => setTimeout(r, COALESCE_MS));
      } catch {
        if (!this.running) return;
        // Redis restarting or unreachable: retry; watchers stay open and resume where the log continues.
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /**
   * Hands one read's events to every live watcher as one chunk: the lines are joined once and written once per
   * watcher, not once per event and watcher (100 watchers under a lease load made that hundreds of thousands of
   * socket writes a second, which held the event loop: /metrics p99 126 ms in bench:broker). A watcher whose
   * catch-up read past the start of the read gets only the events after its last one.
   */
  private fanOut(revs: readonly number[], lines: readonly string[]): void {
    const first = revs[0]!;
    const last = revs[revs.length - 1]!;
    let all: string | undefined;
    for (const s of this.subs) {
      if (!s.live || s.closed || s.last >= last) continue;
      let chunk: string;
      if (s.last < first) chunk = all ??= lines.join('');
      else chunk = lines.slice(revs.findIndex((r) => r > s.last)).join('');
      s.last = last;
      if (!s.sink.write(chunk)) this.drop(s, 'slow');
    }
  }

  private bookmarks(): void {
    for (const s of this.subs) {
      if (!s.live || s.closed) continue;
      const rv = Math.max(s.last, this.lastRev);
      if (!s.sink.write(`{"type":"BOOKMARK","kind":"Bookmark","object":{},"resourceVersion":"${rv}"}\n`)) this.drop(s, 'slow');
    }
  }

  private drop(s: Subscriber, reason: WatchCloseReason): void {
    if (s.closed) return;
    s.closed = true;
    this.subs.delete(s);
    s.onClose(reason);
  }

  /**
   * Starts delivering events with rev > since. Rejects with WATCH_EXPIRED when the log no longer holds them, before
   * anything was written to the sink (so the HTTP layer can still answer 410); the catch-up then runs in the
   * background and its first write comes after at least one Redis round trip.
   */
  async subscribe(since: number, sink: WatchSink): Promise<WatchHandle> {
    const compacted = await this.store.compacted();
    if (since < compacted) {
      throw new StraitError('WATCH_EXPIRED', `resourceVersion ${since} is older than the event log keeps (compacted up to ${compacted}); list again and watch from the list's resourceVersion`, { since: String(since), compacted: String(compacted) });
    }
    let onClose!: (reason: WatchCloseReason) => void;
    const closed = new Promise<WatchCloseReason>((r) => (onClose = r));
    const s: Subscriber = { last: since, live: false, sink, closed: false, onClose };
    this.subs.add(s);
    void this.catchUp(s).catch(() => this.drop(s, 'error'));
    return { close: () => this.drop(s, 'closed'), closed };
  }

  private async catchUp(s: Subscriber): Promise<void> {
    const page = this.opts.catchUpPage ?? 1000;
    for (;;) {
      if (s.closed) return;
      // What the tail reader had fanned out before this read: the log held it when the read ran.
      const fannedOut = this.lastRev;
      const events = await this.store.eventsAfter(s.last, page);
      if (s.closed) return;
      if (events.length > 0 && events[0]!.rev !== s.last + 1 && (await this.store.compacted()) > s.last) {
        // Compacted while we read: the events in between are gone. Closing makes the client resume and get the 410.
        this.drop(s, 'gap');
        return;
      }
      if (events.length > 0) {
        s.last = events.at(-1)!.rev;
        if (!s.sink.write(events.map(eventLine).join(''))) return this.drop(s, 'slow');
      }
      // Caught up with what the tail reader has fanned out: go live in this same turn, so no event slips between.
      if (s.last >= this.lastRev) {
        s.live = true;
        return;
      }
      if (events.length === 0) {
        // The log ended before what the tail reader had fanned out when we read: it was trimmed or rewound under us.
        if (s.last < fannedOut) {
          this.drop(s, 'gap');
          return;
        }
        // Else the tail reader moved on while the read was under way (its answer came first, though Redis ran the
        // read before the write: two connections): the event is in the log now, read again. Closing here cut off
        // watchers that opened during writes (bench:scale, 16 watchers and a pool change).
        continue;
      }
      await s.sink.drained();
    }
  }
}

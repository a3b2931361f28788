import type { Redis } from 'ioredis';
import { StraitError } from '../api/index.js';
import { parseEntry, type BrokerStore, type RawEvent } from './broker-store.js';

/** Receives NDJSON lines; returns false when the watcher should be dropped (slow or gone). */
export type WatchSink = (line: string) => boolean;

interface Subscriber {
  last: number;
  live: boolean;
  buffer: RawEvent[];
  sink: WatchSink;
  closed: boolean;
  onClose: () => void;
}

export interface WatchHandle {
  close(): void;
  /** Resolves when the hub drops the watcher (slow consumer or hub stopping). */
  closed: Promise<void>;
}

/** Pause after a read that returned events, so that the next read picks up a batch. */
const COALESCE_MS = 2;

export function eventLine(e: RawEvent): string {
  // The object is already JSON in the log: splice it in instead of parsing and re-serialising.
  return `{"type":"${e.type}","kind":"${e.kind}","object":${e.object},"resourceVersion":"${e.rev}"}\n`;
}

/**
 * One tail reader per broker process (a blocking XREAD on its own connection) fanned out to every watcher, so
 * 100 watchers cost one Redis connection. A new watcher first catches up from the log (XRANGE) while live
 * events are buffered, then switches to live delivery; revisions are contiguous, so nothing is lost or doubled.
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
    private readonly opts: { bookmarkMs?: number } = {},
  ) {}

  get size(): number {
    return this.subs.size;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.reader = this.store.redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true, enableAutoPipelining: false });
    this.lastRev = Number(await this.store.currentRev());
    this.loop = this.run();
    this.bookmarkTimer = setInterval(() => this.bookmarks(), this.opts.bookmarkMs ?? 5000);
    this.bookmarkTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.bookmarkTimer) clearInterval(this.bookmarkTimer);
    for (const s of [...this.subs]) this.drop(s);
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
        for (const [, entries] of res) {
          n += entries.length;
          for (const entry of entries) {
            const e = parseEntry(entry);
            if (e.rev <= this.lastRev) continue;
            this.lastRev = e.rev;
            for (const s of this.subs) this.offer(s, e);
          }
        }
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

  private offer(s: Subscriber, e: RawEvent): void {
    if (s.closed) return;
    if (!s.live) {
      s.buffer.push(e);
      return;
    }
    this.deliver(s, e);
  }

  private deliver(s: Subscriber, e: RawEvent): void {
    if (e.rev <= s.last) return;
    s.last = e.rev;
    if (!s.sink(eventLine(e))) this.drop(s);
  }

  private bookmarks(): void {
    for (const s of this.subs) {
      if (!s.live || s.closed) continue;
      const rv = Math.max(s.last, this.lastRev);
      if (!s.sink(`{"type":"BOOKMARK","kind":"Bookmark","object":{},"resourceVersion":"${rv}"}\n`)) this.drop(s);
    }
  }

  private drop(s: Subscriber): void {
    if (s.closed) return;
    s.closed = true;
    this.subs.delete(s);
    s.onClose();
  }

  /**
   * Starts delivering events with rev > since. Rejects with WATCH_EXPIRED when the log no longer holds them
   * (before anything was written to the sink, so the HTTP layer can still answer 410).
   */
  async subscribe(since: number, sink: WatchSink): Promise<WatchHandle> {
    let onClose!: () => void;
    const closed = new Promise<void>((r) => (onClose = r));
    const s: Subscriber = { last: since, live: false, buffer: [], sink, closed: false, onClose };
    this.subs.add(s);
    try {
      let first = true;
      for (;;) {
        const page = await this.store.eventsAfter(s.last, 1000);
        if (first) {
          first = false;
          const compacted = await this.store.compacted();
          if (since < compacted) {
            throw new StraitError('WATCH_EXPIRED', `resourceVersion ${since} is older than the event log keeps (compacted up to ${compacted}); list again and watch from the list's resourceVersion`, { since: String(since), compacted: String(compacted) });
          }
        }
        for (const e of page) {
          if (s.closed) break;
          this.deliver(s, e);
        }
        if (page.length < 1000 || s.closed) break;
      }
      for (const e of s.buffer) {
        if (s.closed) break;
        this.deliver(s, e);
      }
      s.buffer = [];
      s.live = true;
    } catch (e) {
      this.subs.delete(s);
      s.closed = true;
      throw e;
    }
    return { close: () => this.drop(s), closed };
  }
}

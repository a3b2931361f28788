import { brokerScripts, type StoreCore } from './core.js';
import { orderKeys } from './script-loader.js';

export interface RawEvent {
  rev: number;
  type: string;
  kind: string;
  object: string;
}

/** The event log: a Redis stream with ids `<rev>-0`, read by the watch hub, trimmed by the compaction job. */
export class EventLog {
  constructor(private readonly core: StoreCore) {}

  async compacted(): Promise<number> {
    return Number((await this.core.redis.get(this.core.keys.compacted)) ?? '0');
  }

  /** Events with rev > after, oldest first. */
  async eventsAfter(after: number, count = 1000): Promise<RawEvent[]> {
    const rows = (await this.core.redis.xrange(this.core.keys.events, `(${after}-0`, '+', 'COUNT', count)) as [string, string[]][];
    return rows.map(parseEntry);
  }

  /** Trims the log to the last `keep` events; returns the compaction point. */
  async compact(keep: number): Promise<number> {
    const rev = Number(await this.core.currentRev());
    const upto = Math.max(0, rev - keep);
    const keys = orderKeys(brokerScripts().compact, { compacted: this.core.keys.compacted, events: this.core.keys.events });
    return Number(await this.core.s.compact(...keys, String(upto)));
  }
}

export function parseEntry([id, fields]: [string, string[]]): RawEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  return { rev: Number(id.split('-')[0]), type: f.t ?? '', kind: f.k ?? '', object: f.o ?? '{}' };
}

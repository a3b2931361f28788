/**
 * Egress fence lapses a lease holder reported in its log (`egress fence lapsed`, gateway-agent.ts): a fence refresh
 * that was in force only after the deadline of the one before, so the egress IP may have been dark between. They
 * are the one explanation of an egress gap with no role change that the agents can give (#12: a stressed `steady`
 * run's gaps were, every one of them, such a lapse), so a steady report lists them beside its gaps.
 */
export interface FenceLapseRecord {
  gateway: string;
  /** When the holder logged it (just after the refresh), ms after the traffic started. */
  atMs: number;
  darkMsAtMost: number;
  darkMsAtLeast: number;
  refreshMs: number;
}

/** The lapses in one gateway agent's log (pino JSON lines) logged within [from, to] (epoch ms), pure. */
export function parseFenceLapses(gateway: string, logText: string, from: number, to: number): FenceLapseRecord[] {
  const out: FenceLapseRecord[] = [];
  for (const line of logText.split('\n')) {
    if (!line.includes('egress fence lapsed')) continue;
    let j: { msg?: unknown; time?: unknown; darkMsAtMost?: unknown; darkMsAtLeast?: unknown; refreshMs?: unknown };
    try {
      j = JSON.parse(line) as typeof j;
    } catch {
      continue; // a line cut short by a killed agent
    }
    if (j.msg !== 'egress fence lapsed' || typeof j.time !== 'number' || j.time < from || j.time > to) continue;
    const n = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
    out.push({ gateway, atMs: j.time - from, darkMsAtMost: n(j.darkMsAtMost), darkMsAtLeast: n(j.darkMsAtLeast), refreshMs: n(j.refreshMs) });
  }
  return out;
}

/** One line for a summary: how many, and the worst few with when and where. */
export function formatFenceLapses(lapses: readonly FenceLapseRecord[] | undefined): string {
  if (lapses === undefined) return 'not read';
  if (lapses.length === 0) return 'none';
  const worst = [...lapses].sort((a, b) => b.darkMsAtMost - a.darkMsAtMost).slice(0, 5).sort((a, b) => a.atMs - b.atMs);
  const shown = worst.map((l) => `+${(l.atMs / 1000).toFixed(1)} s ${l.gateway} dark ≤ ${l.darkMsAtMost} ms (refresh ${l.refreshMs} ms)`);
  return `${lapses.length}${lapses.length > shown.length ? `, the ${shown.length} longest` : ''}: ${shown.join('; ')}`;
}

/**
 * Egress-IP conflicts from raw fence looks. Pure: the sampler records looks, this decides what they prove.
 *
 * A look reads one gateway's kernel fence set; it happened at some unknown instant between `before` and `after`
 * (both from the runner's one clock, `Date.now()`, like probe and fault times). What a run of looks proves:
 * - an element seen by looks L_i..L_j of a gateway, every look in between having seen it too, was live from
 *   `L_i.after` (it was there when L_i read, which was no later than that) to `L_j.before` (L_j read no earlier).
 *   That is its *certain* span. A refresh is one atomic nft transaction (delete+add), so a live element is never
 *   absent in between; only a release followed by a fresh serve inside one sampling interval could hide a gap.
 * - a run seen by a single look proves liveness at one unknown instant in [before, after]: no certain span.
 * - a look that could not read the set (namespace gone, nft not answering) is unknown: it ends the run.
 *
 * A conflict is reported only where two gateways' certain spans of one IP intersect: both fences were certainly
 * live at every instant of it, so its duration (`to - from`) is never negative. It is a lower bound: an overlap
 * shorter than the sampling interval can go unseen, never be invented. Every conflict carries the looks that bound
 * both spans (the last look before each run that did not see it, the first and last that did, the first after),
 * so a reader can check it without the sampler.
 */

/** One look at one gateway's fence set: live elements, or null when the set could not be read. */
export interface FenceLookRecord {
  gateway: string;
  before: number;
  after: number;
  elements: { ip: string; expiresMs?: number }[] | null;
}

/** A run of consecutive looks of one gateway that all saw `ip`. */
export interface LiveSpan {
  gateway: string;
  ip: string;
  /** The look before the run (null: the run started with the watch or after an unknown look). */
  prior: FenceLookRecord | null;
  first: FenceLookRecord;
  last: FenceLookRecord;
  /** The look after the run (null: the watch ended, or the next look was unknown). */
  next: FenceLookRecord | null;
  /** Certainly live over [certainFrom, certainTo]; null for a run of one look. */
  certainFrom: number | null;
  certainTo: number | null;
}

export interface EipConflict {
  ip: string;
  gateways: string[];
  /** Both fences certainly live over [from, to] (epoch ms, same clock as the fault); `to >= from`. */
  from: number;
  to: number;
  durationMs: number;
  /** The looks that bound both spans, in time order. */
  evidence: FenceLookRecord[];
  /** In words, with times relative to the fault. */
  explanation: string;
}

/** Every run of sightings per gateway and IP, in time order. */
export function liveSpans(looks: readonly FenceLookRecord[]): LiveSpan[] {
  const byGateway = new Map<string, FenceLookRecord[]>();
  for (const l of looks) {
    if (!byGateway.has(l.gateway)) byGateway.set(l.gateway, []);
    byGateway.get(l.gateway)!.push(l);
  }
  const spans: LiveSpan[] = [];
  for (const [gateway, ls] of byGateway) {
    ls.sort((a, b) => a.before - b.before);
    const ips = new Set(ls.flatMap((l) => (l.elements ?? []).map((e) => e.ip)));
    for (const ip of ips) {
      let start = -1;
      const close = (end: number, next: FenceLookRecord | null): void => {
        const first = ls[start]!;
        const last = ls[end]!;
        const multi = end > start;
        const prior = start > 0 && ls[start - 1]!.elements !== null ? ls[start - 1]! : null;
        spans.push({ gateway, ip, prior, first, last, next, certainFrom: multi ? first.after : null, certainTo: multi ? last.before : null });
        start = -1;
      };
      ls.forEach((l, i) => {
        const seen = l.elements?.some((e) => e.ip === ip) ?? false;
        if (seen && start < 0) start = i;
        else if (!seen && start >= 0) close(i - 1, l.elements === null ? null : l);
      });
      if (start >= 0) close(ls.length - 1, null);
    }
  }
  return spans.sort((a, b) => a.first.before - b.first.before);
}

/**
 * Conflicts: intersections of two gateways' certain spans of the same IP. `origin` (the fault, or the start of a
 * steady run, named `originName`) only words the explanation.
 */
export function fenceConflicts(looks: readonly FenceLookRecord[], origin: number, originName = 'fault'): EipConflict[] {
  const at = { t: origin, name: originName };
  const spans = liveSpans(looks).filter((s) => s.certainFrom !== null && s.certainTo !== null);
  const out: EipConflict[] = [];
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length; j++) {
      const a = spans[i]!;
      const b = spans[j]!;
      if (a.ip !== b.ip || a.gateway === b.gateway) continue;
      const from = Math.max(a.certainFrom!, b.certainFrom!);
      const to = Math.min(a.certainTo!, b.certainTo!);
      if (from > to) continue;
      const [x, y] = a.gateway < b.gateway ? [a, b] : [b, a];
      out.push({
        ip: a.ip,
        gateways: [x.gateway, y.gateway],
        from,
        to,
        durationMs: to - from,
        evidence: spanEvidence([x, y]),
        explanation: `${describeSpan(x, at)}; ${describeSpan(y, at)}; so both were live from ${rel(from, at)} to ${rel(to, at)}`,
      });
    }
  }
  return out.sort((p, q) => p.from - q.from);
}

/** Add/remove events for the timeline: a span drawn from its first look's start to its last look's end. */
export function fenceEvents(looks: readonly FenceLookRecord[]): { at: number; kind: 'eip-add' | 'eip-del'; gateway: string; ip: string }[] {
  return liveSpans(looks).flatMap((s) => [
    { at: s.first.before, kind: 'eip-add' as const, gateway: s.gateway, ip: s.ip },
    ...(s.next ? [{ at: s.last.after, kind: 'eip-del' as const, gateway: s.gateway, ip: s.ip }] : []),
  ]);
}

function spanEvidence(spans: readonly LiveSpan[]): FenceLookRecord[] {
  const looks = new Set<FenceLookRecord>();
  for (const s of spans) for (const l of [s.prior, s.first, s.last, s.next]) if (l) looks.add(l);
  return [...looks].sort((a, b) => a.before - b.before || a.gateway.localeCompare(b.gateway));
}

interface Origin {
  t: number;
  name: string;
}

function rel(t: number, o: Origin): string {
  const d = Math.round(t - o.t);
  return `${o.name}${d < 0 ? '' : '+'}${d} ms`;
}

function describeSpan(s: LiveSpan, o: Origin): string {
  const exp = s.last.elements?.find((e) => e.ip === s.ip)?.expiresMs;
  const end = s.next ? `gone in the look ending ${rel(s.next.after, o)}` : 'still there when the watch ended';
  return (
    `${s.gateway} had ${s.ip} in its fence from the look ending ${rel(s.certainFrom!, o)} to the look starting ${rel(s.certainTo!, o)}` +
    `${exp !== undefined ? ` (${exp} ms left on its timeout then)` : ''}, ${end}`
  );
}

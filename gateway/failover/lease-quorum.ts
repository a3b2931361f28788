import { StraitError } from '../../api/index.js';
import type { LeaseRecord, LeaseStore } from './lease-store.js';

/**
 * One of the N independent stores under a quorum lease (a Redis of its own: lease-quorum-redis.ts; in tests
 * lease-quorum-fake.ts). Each keeps, per lease key, the lease ("epoch|holder" with an expiry) and the highest epoch
 * it has seen (never expires). Every operation that grants first checks the store's restart guard: a store whose
 * boot marker is missing has lost its data (restarted empty) and grants nothing for `guardMs`, so that a lease it
 * granted before the restart has run out everywhere it could matter before it grants again.
 */
export interface QuorumMember {
  readonly name: string;
  /**
   * Round one of an acquire: when the lease is free here, raise this store's epoch by one and store a lease for
   * `holder` under it. Answers what happened and this store's epoch now (the new one when granted).
   */
  acquire(key: string, holder: string, ttlMs: number, guardMs: number): Promise<MemberAcquire>;
  /**
   * Round two: the lease granted here in round one (`storeEpoch`) takes the quorum epoch, and this store's epoch
   * rises to it. True when done; false when that lease is gone (expired, released).
   */
  commit(key: string, holder: string, storeEpoch: number, epoch: number, ttlMs: number): Promise<boolean>;
  /**
   * Extends `holder`'s lease at `epoch`. A store that never saw `epoch` (it missed the acquire: down, frozen, cut
   * off, or restarted empty and since out of its guard) and holds no lease joins: it stores the lease at `epoch`.
   * 1: renewed or joined; 0: refused (another lease, or a higher epoch seen here); 2: this lease ran out here and
   * nothing else was granted since (free, no change made); -1: guarded.
   */
  renew(key: string, holder: string, epoch: number, ttlMs: number, guardMs: number): Promise<number>;
  /**
   * Stores `holder`'s lease at `epoch` again where it ran out (renew answered 2), if the store is still free and
   * saw no higher epoch. Only sent after a majority renewed: the lease is alive there, so no other holder can
   * hold a majority, and this store granting it once more is as safe as a renewal.
   */
  rejoin(key: string, holder: string, epoch: number, ttlMs: number, guardMs: number): Promise<boolean>;
  release(key: string, holder: string, epoch: number): Promise<boolean>;
  read(key: string): Promise<LeaseRecord | null>;
}

/** 'granted' at `epoch`; 'held' by someone else; 'guarded': restarted empty, granting nothing yet. */
export interface MemberAcquire {
  readonly result: 'granted' | 'held' | 'guarded';
  readonly epoch: number;
}

export interface QuorumLeaseOptions {
  /**
   * How long a store that restarted empty refuses to grant. Must be at least the longest TTL any holder asks for
   * (the profile's `maxLeaseTtlMs`): a lease it granted before the restart is over by then. Requests for a longer
   * TTL are refused with GATEWAY_INVALID_CONFIG.
   */
  guardMs: number;
  /**
   * The longest one store may take to answer before it counts as silent for this request. A round ends as soon as
   * its outcome is known (a majority granted or refused), so a healthy majority is never slowed by a stalled
   * store; the timeout only bounds a round that cannot be decided without the slow store.
   */
  timeoutMs: number;
  /**
   * The same for renewals (default `timeoutMs`). A renewal with one store lost needs both others: on a loaded
   * host one of them answering a little late must not cost the renewal (quorumRenewTimeoutMs).
   */
  renewTimeoutMs?: number;
  /** Called with what a store did when it failed or timed out (for logs); never throws. */
  onStoreError?: (store: string, op: string, err: unknown) => void;
  /** Runs `fn` after `ms` and returns a cancel (default setTimeout); the fencing simulation runs on virtual time. */
  timer?: (ms: number, fn: () => void) => () => void;
}

// The timeout runs in the check phase after the timer fired: after an event-loop stall, timers run before the
// poll phase reads the answers already waiting in the sockets, and a round would end "silent" with its answers
// in hand (seen in the lab under load: renewals failing with both healthy stores' replies unread).
const realTimer = (ms: number, fn: () => void): (() => void) => {
  let im: NodeJS.Immediate | undefined;
  const t = setTimeout(() => {
    im = setImmediate(fn);
  }, ms);
  return () => {
    clearTimeout(t);
    if (im) clearImmediate(im);
  };
};

/** The smallest majority of `n` stores. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The per-store timeout of acquire, release and read rounds for a profile: one renewal interval (≥ 5 ms). It only
 * delays an acquire when a store is silent (frozen, cut off): a dead one answers at once with a refused connection.
 * (It was half an interval, 20 ms in the default profile: under load a healthy store's answer came later.)
 */
export function quorumTimeoutMs(p: { renewIntervalMs: number }): number {
  return Math.max(5, p.renewIntervalMs);
}

/**
 * The per-store timeout of a renewal: two renewal intervals, but short enough that after a renewal that timed out
 * one more, sent at once, still lands inside the fence (`leaseTtlMs − safetyMarginMs` from the last renewal sent,
 * which was at most one interval before). Default profile 70 ms, fast 20 ms; never below `quorumTimeoutMs`.
 */
export function quorumRenewTimeoutMs(p: { renewIntervalMs: number; leaseTtlMs: number; safetyMarginMs: number }): number {
  const fits = p.leaseTtlMs - p.safetyMarginMs - 2 * p.renewIntervalMs;
  return Math.max(quorumTimeoutMs(p), Math.min(2 * p.renewIntervalMs, fits));
}

type Answer<T> = { ok: true; value: T } | { ok: false; err: unknown };

/**
 * Sends `call` to every member at once and resolves when `decide` knows the outcome from the answers so far, or
 * when every member answered or `timeoutMs` passed (`decide(answers, true)` must then decide). Answers after that
 * go to `late` (a grant nobody waited for still has to be committed or given back).
 */
function round<T, D>(
  members: readonly QuorumMember[],
  call: (m: QuorumMember, i: number) => Promise<T>,
  decide: (answers: readonly (Answer<T> | undefined)[], final: boolean) => D | undefined,
  timeoutMs: number,
  timer: (ms: number, fn: () => void) => () => void,
  late: (i: number, a: Answer<T>) => void = () => undefined,
): Promise<{ decision: D; answers: (Answer<T> | undefined)[]; timedOut: boolean }> {
  return new Promise((resolve) => {
    const answers: (Answer<T> | undefined)[] = members.map(() => undefined);
    let done = false;
    let pending = members.length;
    let cancel = (): void => undefined;
    const finish = (d: D, timedOut = false): void => {
      done = true;
      cancel();
      resolve({ decision: d, answers: [...answers], timedOut });
    };
    cancel = timer(timeoutMs, () => {
      if (!done) finish(decide(answers, true) as D, true);
    });
    members.forEach((m, i) => {
      const settle = (a: Answer<T>): void => {
        if (done) return late(i, a);
        answers[i] = a;
        pending--;
        const d = decide(answers, pending === 0);
        if (d !== undefined) finish(d);
      };
      let p: Promise<T>;
      try {
        p = call(m, i);
      } catch (err) {
        p = Promise.reject(err);
      }
      p.then((value) => settle({ ok: true, value }), (err: unknown) => settle({ ok: false, err }));
    });
  });
}

const unavailable = (op: string, detail: string): StraitError =>
  new StraitError('GATEWAY_LEASE_UNAVAILABLE', `lease quorum: ${op}: ${detail}`);

/**
 * A lease held only while a majority of N independent stores granted it (N = 3: one store may be dead, frozen, cut
 * off or restarted empty and the holder notices nothing).
 *
 * Safety. Two majorities share a store, and a store grants a key to one holder at a time, so two holders never
 * hold a majority at once — provided every store remembers what it granted while it lasts: a store that restarted
 * empty refuses for `guardMs` (QuorumMember). The holder counts its fence from when it sent the requests
 * (lease-keeper.ts): every store started its TTL after that.
 *
 * Epochs only grow. An acquire takes two rounds: round one asks every store (waiting up to the timeout for all of
 * them) and gets grants from a majority, each at that store's next epoch; the quorum epoch is one above every
 * epoch the answers name (the granting majority's highest, plus one); round two commits it, raising each granting
 * store's epoch to it, and only a majority of commits makes the holder the holder. Any later acquire hears from a
 * store of that commit majority unless a second store is lost at the same time (one that restarted empty forgot its
 * epochs): with one store lost, epochs grow; with two, the lease stays safe (the guard) but an epoch may repeat.
 * Renewals are one round. Every round sends to all stores in parallel and ends as soon as its outcome is known.
 */
export class QuorumLeaseStore implements LeaseStore {
  private readonly q: number;
  /** The highest epoch this client has heard of, per key. */
  private readonly seen = new Map<string, number>();
  private readonly timer: (ms: number, fn: () => void) => () => void;

  constructor(
    private readonly members: readonly QuorumMember[],
    private readonly o: QuorumLeaseOptions,
  ) {
    if (members.length === 0) throw new StraitError('GATEWAY_INVALID_CONFIG', 'a lease quorum needs at least one store');
    if (new Set(members.map((m) => m.name)).size !== members.length) throw new StraitError('GATEWAY_INVALID_CONFIG', 'the lease stores of a quorum must be distinct');
    if (!(o.guardMs > 0) || !(o.timeoutMs > 0) || !((o.renewTimeoutMs ?? o.timeoutMs) > 0)) throw new StraitError('GATEWAY_INVALID_CONFIG', 'lease quorum: guardMs and timeoutMs must be > 0');
    this.q = majority(members.length);
    this.timer = o.timer ?? realTimer;
  }

  get size(): number {
    return this.members.length;
  }

  private checkTtl(ttlMs: number): void {
    if (ttlMs > this.o.guardMs) {
      throw new StraitError('GATEWAY_INVALID_CONFIG', `lease quorum: a ${ttlMs} ms lease outlives the ${this.o.guardMs} ms restart guard (a store that restarted empty could grant it twice)`, { ttlMs, guardMs: this.o.guardMs });
    }
  }

  /**
   * Tells `onStoreError` about the stores that failed or had not answered. A round ends as soon as its outcome is
   * known: a store that had not answered by then was not necessarily slow. An acquire refused by two stores that
   * still held the old lease (the standby convicted the holder before its lease ran out: link-down, partition) was
   * logged as "no answer within 40 ms" for the third store after a round of a few ms, and read as a slow store.
   */
  private report(op: string, r: { answers: readonly (Answer<unknown> | undefined)[]; timedOut: boolean }, timeoutMs = this.o.timeoutMs): void {
    if (!this.o.onStoreError) return;
    r.answers.forEach((a, i) => {
      const name = this.members[i]?.name ?? String(i);
      if (a === undefined) {
        const why = r.timedOut ? `no answer within ${timeoutMs} ms` : 'not answered yet when the other stores had decided the round';
        this.o.onStoreError?.(name, op, new Error(why));
      } else if (!a.ok) this.o.onStoreError?.(name, op, a.err);
    });
  }

  async acquire(key: string, holder: string, ttlMs: number): Promise<{ epoch: number } | false> {
    this.checkTtl(ttlMs);
    const n = this.members.length;
    const q = this.q;
    // Grants that arrive after round one was decided: committed if the acquire succeeds, released otherwise.
    const lateGrants: { i: number; storeEpoch: number }[] = [];
    let outcome: { epoch: number } | false | undefined;
    const settleLate = (i: number, storeEpoch: number): void => {
      const m = this.members[i];
      if (!m) return;
      const p = outcome ? m.commit(key, holder, storeEpoch, outcome.epoch, ttlMs) : m.release(key, holder, storeEpoch);
      p.catch(() => undefined);
    };
    const one = await round(
      this.members,
      (m) => m.acquire(key, holder, ttlMs, this.o.guardMs),
      (a, final) => {
        const grants = a.filter((x) => x?.ok && x.value.result === 'granted').length;
        const lost = a.filter((x) => x !== undefined && !(x.ok && x.value.result === 'granted')).length;
        // A grant waits for every store's answer (up to the timeout): the epoch must exceed what each store that
        // answers has seen, not only the first majority's (a store that restarted empty forgot its epochs).
        if (final) return grants >= q ? ('granted' as const) : ('refused' as const);
        if (n - lost < q) return 'refused' as const;
        return undefined;
      },
      this.o.timeoutMs,
      this.timer,
      (i, a) => {
        if (!a.ok || a.value.result !== 'granted') return;
        if (outcome === undefined) lateGrants.push({ i, storeEpoch: a.value.epoch });
        else settleLate(i, a.value.epoch);
      },
    );
    const answers = one.answers.flatMap((a) => (a?.ok ? [a.value] : []));
    const grants = one.answers.flatMap((a, i) => (a?.ok && a.value.result === 'granted' ? [{ i, storeEpoch: a.value.epoch }] : []));
    // Above every epoch heard of: a granting store's new epoch, a refusing store's current one, and what this
    // client saw before (a store that restarted empty may have been the only one of a majority to know it).
    const epoch = Math.max(
      (this.seen.get(key) ?? 0) + 1,
      ...answers.map((x) => (x.result === 'granted' ? x.epoch : x.epoch + 1)),
    );
    this.see(key, epoch - 1);
    if (one.decision === 'refused') {
      outcome = false;
      // Give back what we got (a split vote among several contenders must not block the next try for a TTL).
      for (const g of [...grants, ...lateGrants]) settleLate(g.i, g.storeEpoch);
      this.report('acquire', one);
      if (answers.some((x) => x.result === 'held')) return false;
      throw unavailable('acquire', `granted by ${grants.length} of ${n} stores, ${q} needed (the others failed, did not answer or are in their restart guard)`);
    }
    const committers = grants.map((g) => this.members[g.i]!);
    const two = await round(
      committers,
      (m, i) => m.commit(key, holder, grants[i]!.storeEpoch, epoch, ttlMs),
      (a, final) => {
        const ok = a.filter((x) => x?.ok && x.value).length;
        const bad = a.filter((x) => x !== undefined && !(x.ok && x.value)).length;
        if (ok >= q) return true;
        if (final || committers.length - bad < q) return false;
        return undefined;
      },
      this.o.timeoutMs,
      this.timer,
    );
    if (!two.decision) {
      outcome = false;
      for (const g of [...grants, ...lateGrants]) {
        settleLate(g.i, g.storeEpoch);
        this.members[g.i]?.release(key, holder, epoch).catch(() => undefined);
      }
      this.report('commit', two);
      throw unavailable('acquire', `committed on fewer than ${q} of ${n} stores`);
    }
    outcome = { epoch };
    this.see(key, epoch);
    for (const g of lateGrants) settleLate(g.i, g.storeEpoch);
    return outcome;
  }

  private see(key: string, epoch: number): void {
    if (epoch > (this.seen.get(key) ?? 0)) this.seen.set(key, epoch);
  }

  async renew(key: string, holder: string, epoch: number, ttlMs: number): Promise<boolean> {
    this.checkTtl(ttlMs);
    const n = this.members.length;
    const q = this.q;
    // A store where this lease ran out (it was cut off or frozen for longer than the TTL, or its answers came too
    // late) rejoins once a majority renewed; otherwise it would stay out of the lease until the next acquire,
    // and losing one more store would cost the holder its lease (seen in the lab: lease-store-partition trials in
    // a row failed from the second one on).
    let decided: 'renewed' | 'lost' | 'undecided' | undefined;
    const rejoin = (i: number): void => {
      this.members[i]?.rejoin(key, holder, epoch, ttlMs, this.o.guardMs).catch(() => undefined);
    };
    const r = await round(
      this.members,
      (m) => m.renew(key, holder, epoch, ttlMs, this.o.guardMs),
      (a, final) => {
        const ok = a.filter((x) => x?.ok && x.value === 1).length;
        const refused = a.filter((x) => x?.ok && (x.value === 0 || x.value === 2)).length;
        const answered = a.filter((x) => x !== undefined).length;
        if (ok >= q) decided = 'renewed';
        else if (refused >= q) decided = 'lost';
        else if (final || n - answered + ok < q) decided = 'undecided';
        return decided;
      },
      this.o.renewTimeoutMs ?? this.o.timeoutMs,
      this.timer,
      (i, a) => {
        if (decided === 'renewed' && a.ok && a.value === 2) rejoin(i);
      },
    );
    if (r.decision === 'renewed') {
      r.answers.forEach((a, i) => {
        if (a?.ok && a.value === 2) rejoin(i);
      });
      return true;
    }
    if (r.decision === 'lost') return false;
    // Neither a majority renewed nor a majority said the lease is gone: keep the hold as it is (it runs out at
    // its fence unless a later renewal reaches a majority) rather than drop the egress IPs on a store failure.
    this.report('renew', r, this.o.renewTimeoutMs ?? this.o.timeoutMs);
    throw unavailable('renew', 'no majority answered');
  }

  async release(key: string, holder: string, epoch: number): Promise<boolean> {
    const r = await round(
      this.members,
      (m) => m.release(key, holder, epoch),
      (a, final) => (final ? a : undefined),
      this.o.timeoutMs,
      this.timer,
    );
    const released = r.answers.filter((x) => x?.ok && x.value).length;
    const answered = r.answers.filter((x) => x?.ok).length;
    if (released >= this.q) return true;
    if (answered < this.q) {
      this.report('release', r);
      throw unavailable('release', `${answered} of ${this.members.length} stores answered`);
    }
    return false;
  }

  async read(key: string): Promise<LeaseRecord | null> {
    const r = await round(this.members, (m) => m.read(key), (a, final) => (final ? a : undefined), this.o.timeoutMs, this.timer);
    const recs = r.answers.flatMap((a) => (a?.ok ? [a.value] : []));
    if (recs.length < this.q) {
      this.report('read', r);
      throw unavailable('read', `${recs.length} of ${this.members.length} stores answered`);
    }
    return quorumRecord(recs, this.q);
  }
}

/**
 * The lease a majority agrees on (same holder, same epoch), with the time it is still held on a majority: the
 * q-th longest remaining TTL among them. Null when no majority agrees.
 */
export function quorumRecord(recs: readonly (LeaseRecord | null)[], q: number): LeaseRecord | null {
  const groups = new Map<string, LeaseRecord[]>();
  for (const r of recs) {
    if (!r) continue;
    const id = `${r.epoch}|${r.holder}`;
    groups.set(id, [...(groups.get(id) ?? []), r]);
  }
  for (const g of groups.values()) {
    if (g.length < q) continue;
    const remaining = g.map((r) => r.remainingMs).sort((a, b) => b - a);
    return { holder: g[0]!.holder, epoch: g[0]!.epoch, remainingMs: remaining[q - 1]! };
  }
  return null;
}

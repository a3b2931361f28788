import { createHash, hash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { StraitError } from '../../api/index.js';
import { BrokerKeys } from './keys.js';
import { scriptError, type Reply } from './script-errors.js';
import { NO_REPLICA_ACK, ReplicaAck, type ReplicaAckOptions } from './replica-ack.js';
import { bulk, EncodedEvalsha, isNoScript, scriptSha } from './encoded-evalsha.js';
import { BROKER_LUA_DIR, defineScripts, orderKeys, readLuaScript, type LuaScript, type ScriptCall } from './script-loader.js';

type ScriptName = 'put' | 'del' | 'createRanged' | 'join' | 'rotate' | 'releaseBlock' | 'releaseAddress' | 'compact' | 'heartbeat' | 'ownerGc' | 'indexHolders' | 'leaseBlocks' | 'leaseAddresses' | 'fillReserved' | 'replay' | 'gcLeavers';

/**
 * An Idempotency-Key as the store records it: `key` already scoped to the caller (admin, cluster/<id>, join/<hash>),
 * `fingerprint` a hash of the request (method, path, body), so a key reused for another request is refused.
 */
export interface Idem {
  key: string;
  fingerprint: string;
}

/** The KEYS of one script call in header order (see StoreCore.prepare). */
export interface PreparedKeys {
  readonly name: ScriptName;
  readonly keys: readonly string[];
  /** where the Idempotency-Key's record goes, -1 for a script without one */
  readonly idemAt: number;
  /** a script with a varying number of KEYS (header ending `...name`) takes their count first */
  readonly counted: boolean;
  /**
   * The request's constant part, RESP-encoded once (see EncodedEvalsha): `head` is EVALSHA, the SHA, the number of
   * KEYS and the KEYS before the Idempotency-Key's slot (all of them without one), `afterIdem` the KEYS after it.
   */
  readonly encoded: { readonly head: string; readonly afterIdem: string; readonly count: number };
}

/** Script of each store operation, a file of `store/lua/`. */
const SCRIPT_FILES: Record<ScriptName, string> = {
  put: 'put',
  del: 'delete',
  createRanged: 'create-ranged',
  join: 'join',
  rotate: 'rotate',
  leaseBlocks: 'lease-blocks',
  leaseAddresses: 'lease-addresses',
  fillReserved: 'fill-reserved',
  releaseBlock: 'release-block',
  releaseAddress: 'release-address',
  heartbeat: 'heartbeat',
  ownerGc: 'owner-gc',
  indexHolders: 'index-holders',
  compact: 'compact',
  replay: 'replay',
  gcLeavers: 'gc-leavers',
};

let scripts: Record<ScriptName, LuaScript> | undefined;

/** The broker's Lua scripts, read from their files once per process. */
export function brokerScripts(): Record<ScriptName, LuaScript> {
  scripts ??= Object.fromEntries(Object.entries(SCRIPT_FILES).map(([op, file]) => [op, readLuaScript(BROKER_LUA_DIR, file)])) as Record<ScriptName, LuaScript>;
  return scripts;
}

const shas = new WeakMap<LuaScript, string>();
/** A script's SHA1, computed once per process. */
function shaOf(s: LuaScript): string {
  let sha = shas.get(s);
  if (sha === undefined) shas.set(s, (sha = scriptSha(s.lua)));
  return sha;
}

export const IDEMPOTENCY_TTL_MS = 10 * 60_000;

/** Redis answered, refusing before running anything: nothing changed. */
const REFUSED_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|NOREPLICAS|MISCONF|OOM|CLUSTERDOWN|TRYAGAIN)\b/;

// The one-shot crypto.hash costs less than half of a createHash object (a fingerprint per write request).
const oneShot = typeof hash === 'function' ? hash : undefined;
export function sha256Hex(s: string): string {
  return oneShot ? oneShot('sha256', s, 'hex') : createHash('sha256').update(s).digest('hex');
}

/** JSON with `resourceVersion` first (placeholder), the shape the Lua scripts stamp. */
export function encodeObject(obj: object): string {
  const { resourceVersion: _rv, ...rest } = obj as Record<string, unknown>;
  const body = JSON.stringify(rest);
  return body === '{}' ? '{"resourceVersion":"__RV__"}' : `{"resourceVersion":"__RV__",${body.slice(1)}`;
}

let lastMs = 0;
let lastIso = '';
/** The time as ISO 8601, formatted once per millisecond (every lease stamps its createdAt). */
export const now = (): string => {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
};

/**
 * What every area of the store shares: the connection, the key schema and the scripts, and running a script
 * (connection checks, write failures told apart, Idempotency-Keys).
 */
export class StoreCore {
  readonly keys: BrokerKeys;
  readonly s: Record<ScriptName, ScriptCall>;
  /** WAIT for replicas after each write (Sentinel); a no-op on a single Redis. */
  readonly ack: ReplicaAck;
  /** The socket to Redis is corked until the end of this turn of the event loop (sendCoalesced). */
  private corked = false;

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    private readonly idempotencyTtlMs = IDEMPOTENCY_TTL_MS,
    replicaAck: ReplicaAckOptions = NO_REPLICA_ACK,
  ) {
    this.keys = new BrokerKeys(prefix);
    this.s = defineScripts(redis, 'strait', brokerScripts());
    this.ack = new ReplicaAck(redis, replicaAck);
  }

  /**
   * Runs one script, telling apart the two ways a write can fail on the way to Redis: refused before anything was
   * sent (not connected, or Redis refused to run it: UNAVAILABLE, nothing changed), and the connection lost after
   * the script was sent (OUTCOME_UNKNOWN: it may have run). With an Idempotency-Key the script records its reply
   * atomically with the write, and a retry with the key learns the outcome. With replica acknowledgement on
   * (Sentinel), the answer waits until the replicas hold the write; if they do not in time it is OUTCOME_UNKNOWN
   * too (the write is on the primary only, and lost if the primary fails now).
   *
   * `keys` are the KEYS the script's header names (but `idem`, added here), `args` its ARGV after the two
   * Idempotency-Key ones (fingerprint, TTL) that every script with an `idem` key takes first; `moreKeys` go after the
   * named keys of a script whose header ends with `...name`.
   */
  async script(name: ScriptName, idem: Idem | undefined, keys: Readonly<Record<string, string>>, args: readonly (string | number)[], moreKeys: readonly string[] = []): Promise<Reply> {
    return this.runPrepared(this.prepare(name, keys, moreKeys), idem, args);
  }

  /**
   * The KEYS of a script call in header order, with an empty slot for the Idempotency-Key where the header names
   * `idem`. Computed once for a hot path that calls the script with the same keys again and again (a pool's leases):
   * `runPrepared` then only fills in that slot.
   */
  prepare(name: ScriptName, keys: Readonly<Record<string, string>>, moreKeys: readonly string[] = []): PreparedKeys {
    const s = brokerScripts()[name];
    const idemAt = s.keyNames?.indexOf('idem') ?? -1;
    const ordered = orderKeys(s, idemAt >= 0 ? { ...keys, idem: '' } : keys, moreKeys);
    const before = idemAt >= 0 ? ordered.slice(0, idemAt) : ordered;
    const encoded = {
      head: bulk(['evalsha', shaOf(s), ordered.length, ...before]),
      afterIdem: idemAt >= 0 ? bulk(ordered.slice(idemAt + 1)) : '',
      // EVALSHA, the SHA, the number of KEYS, the KEYS, and (with an idem slot) its two ARGV
      count: 3 + ordered.length + (idemAt >= 0 ? 2 : 0),
    };
    return { name, keys: ordered, idemAt, counted: s.numberOfKeys === undefined, encoded };
  }

  /**
   * Runs a script with keys from `prepare`: the Idempotency-Key's slot and its two ARGV (fingerprint, TTL) filled in.
   * Sent as an EncodedEvalsha (its constant part encoded once); when Redis does not hold the script (its first use,
   * a restart, SCRIPT FLUSH: nothing ran), sent again the ordinary way, which loads it.
   */
  runPrepared(p: PreparedKeys, idem: Idem | undefined, args: readonly (string | number)[]): Promise<Reply> {
    return this.send(() => {
      const e = p.encoded;
      let req = e.head;
      if (p.idemAt >= 0) req += bulk([this.keys.idempotency(idem?.key ?? '')]) + e.afterIdem + bulk([idem?.fingerprint ?? '', this.idempotencyTtlMs]);
      return this.sendCoalesced(new EncodedEvalsha(`*${e.count + args.length}\r\n${req}${bulk(args)}`)).catch((err: unknown) => {
        if (!isNoScript(err)) throw err;
        const call: (string | number)[] = p.counted ? [p.keys.length, ...p.keys] : p.keys.slice();
        if (p.idemAt >= 0) {
          call[(p.counted ? 1 : 0) + p.idemAt] = this.keys.idempotency(idem?.key ?? '');
          call.push(idem?.fingerprint ?? '', this.idempotencyTtlMs);
        }
        for (const a of args) call.push(a);
        return this.s[p.name](...call);
      });
    }, idem);
  }

  /**
   * Sends a command, writing it together with the others sent in the same turn of the event loop: the first one
   * corks the connection's socket, which is uncorked once the turn's I/O callbacks have run (setImmediate). Under
   * load the requests one poll of the event loop reads then reach Redis in one write, and their replies come back
   * in few reads, instead of a write syscall (and a wake-up of Redis) per lease. Waits at most that one turn.
   */
  private sendCoalesced(cmd: EncodedEvalsha): Promise<unknown> {
    const stream = (this.redis as unknown as { stream?: { cork(): void; uncork(): void; writable?: boolean } }).stream;
    if (!this.corked && stream?.writable && this.redis.status === 'ready') {
      this.corked = true;
      stream.cork();
      setImmediate(() => {
        this.corked = false;
        stream.uncork();
      });
    }
    return this.redis.sendCommand(cmd) as Promise<unknown>;
  }

  private async send(call: () => Promise<unknown>, idem: Idem | undefined): Promise<Reply> {
    // The checks are awaited only when they have something to wait for: each await is a turn of the microtask
    // queue and a promise per write (this runs once per lease).
    if (this.redis.status !== 'ready') await this.ensureConnected();
    let r: Reply;
    const ticket = this.ack.ticket();
    try {
      r = (await call()) as Reply;
    } catch (e) {
      throw this.writeFailure(e);
    }
    if (this.ack.enabled) await this.ack.confirm(ticket);
    if (r[0] === 'IDEMMISMATCH') throw scriptError(r, { kind: '', name: '', idemKey: idem?.key });
    return r;
  }

  /**
   * Resolves when Redis is connected (waiting up to 5 s for a connection under way, which a loaded machine needs for
   * its ready check); else refuses at once, sending nothing.
   */
  async ensureConnected(): Promise<void> {
    const r = this.redis;
    if (r.status === 'ready') return;
    if (r.status === 'wait') await r.connect().catch(() => undefined);
    else if (r.status === 'connecting' || r.status === 'connect') {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          r.off('ready', done);
          r.off('close', done);
          resolve();
        };
        const t = setTimeout(done, 5000);
        r.once('ready', done);
        r.once('close', done);
      });
    }
    const now = r.status as string; // changed by the awaits above
    if (now !== 'ready') throw new StraitError('UNAVAILABLE', `Redis is not connected (${now}); nothing was sent, nothing changed`);
  }

  writeFailure(e: unknown): unknown {
    if (e instanceof StraitError) return e;
    const err = e as { name?: string; message?: string };
    if (err?.name === 'ReplyError') {
      if (REFUSED_REPLY.test(err.message ?? '')) return new StraitError('UNAVAILABLE', `Redis refused the write: ${err.message}; nothing changed`, undefined, { cause: e });
      return e;
    }
    return new StraitError(
      'OUTCOME_UNKNOWN',
      `the connection to Redis was lost after the write was sent (${err?.message ?? String(e)}): it may or may not have happened; retry with the same Idempotency-Key to learn which`,
      undefined,
      { cause: e },
    );
  }

  /** The reply recorded under an Idempotency-Key, for writes that read before their script runs. */
  async replayed(idem: Idem | undefined): Promise<Reply | undefined> {
    if (!idem) return undefined;
    const r = (await this.s.replay(this.keys.idempotency(idem.key), idem.fingerprint, this.idempotencyTtlMs)) as Reply;
    if (r[0] === 'NONE') return undefined;
    if (r[0] === 'IDEMMISMATCH') throw scriptError(r, { kind: '', name: '', idemKey: idem.key });
    return r;
  }

  async currentRev(): Promise<string> {
    return (await this.redis.get(this.keys.rev)) ?? '0';
  }

}

import type { Redis } from 'ioredis';
import { StraitError } from '../../api/index.js';

/** How many replicas must hold a write before the broker acknowledges it (`WAIT numreplicas timeout`). */
export interface ReplicaAckOptions {
  /** 0: answer once the primary ran the write (a single Redis, or the embedded one) */
  replicas: number;
  timeoutMs: number;
}

export const NO_REPLICA_ACK: ReplicaAckOptions = { replicas: 0, timeoutMs: 0 };
/** With Sentinel: one replica, and a second to wait for it (docs/broker.md, "Redis Sentinel"). */
export const SENTINEL_REPLICA_ACK: ReplicaAckOptions = { replicas: 1, timeoutMs: 1000 };

/** What a write holds between issuing its script and waiting for the replicas: which connection it went out on. */
export interface WriteTicket {
  readonly epoch: number;
}

/**
 * `WAIT` after writes, as a group commit. WAIT covers every write sent before it on the same connection, so one
 * WAIT sent after a batch of scripts (auto-pipelining puts a turn's scripts on the wire together) confirms all of
 * them: writes that finish in the same turn share one WAIT, and a WAIT already on the wire is reused only by writes
 * that went out before it. WAIT blocks the connection on the server until the replicas answer (about one
 * replication round trip), which is the documented latency cost.
 *
 * A write whose connection was lost or replaced between its script and its WAIT's answer is never reported as
 * replicated: ioredis re-sends a pending WAIT after reconnecting (perhaps to a newly promoted primary, where it
 * answers at once and says nothing about our write). `epoch` counts connection closes to catch that.
 */
export class ReplicaAck {
  private epoch = 0;
  private issued = 0;
  private inflight: { covers: number; reply: Promise<number> } | undefined;
  private next: Promise<number> | undefined;

  constructor(
    private readonly redis: Redis,
    readonly opts: ReplicaAckOptions,
  ) {
    redis.on('close', () => this.epoch++);
  }

  get enabled(): boolean {
    return this.opts.replicas > 0;
  }

  /** Call just before sending a write. */
  ticket(): WriteTicket & { seq: number } {
    return { epoch: this.epoch, seq: ++this.issued };
  }

  /**
   * Resolves once `opts.replicas` replicas hold the write (and everything before it on this connection). Throws
   * OUTCOME_UNKNOWN when they did not within the timeout or the connection changed: the write happened on the
   * primary and may be lost if it fails now; a retry with the same Idempotency-Key learns which.
   */
  async confirm(t: WriteTicket & { seq: number }): Promise<void> {
    if (!this.enabled) return;
    let got: number;
    try {
      got = await this.waitCovering(t.seq);
    } catch (e) {
      throw new StraitError('OUTCOME_UNKNOWN', `the write ran on the Redis primary, but waiting for its replicas failed (${(e as Error).message}): it may be lost if the primary fails; retry with the same Idempotency-Key to learn which`, undefined, { cause: e });
    }
    if (this.epoch !== t.epoch) {
      throw new StraitError('OUTCOME_UNKNOWN', 'the connection to Redis was replaced (a failover?) before the write was confirmed on a replica: it may or may not have survived; retry with the same Idempotency-Key to learn which');
    }
    if (got < this.opts.replicas) {
      throw new StraitError('OUTCOME_UNKNOWN', `the write ran on the Redis primary but reached ${got} of ${this.opts.replicas} replicas within ${this.opts.timeoutMs} ms: it may be lost if the primary fails; retry with the same Idempotency-Key to learn which`, { replicas: String(got), wanted: String(this.opts.replicas) });
    }
  }

  private waitCovering(seq: number): Promise<number> {
    if (this.inflight && this.inflight.covers >= seq) return this.inflight.reply;
    this.next ??= new Promise<void>((r) => setImmediate(r)).then(() => {
      this.next = undefined;
      const covers = this.issued;
      const reply = this.redis.wait(this.opts.replicas, this.opts.timeoutMs);
      this.inflight = { covers, reply };
      const clear = (): void => {
        if (this.inflight?.reply === reply) this.inflight = undefined;
      };
      reply.then(clear, clear);
      return reply;
    });
    return this.next;
  }
}

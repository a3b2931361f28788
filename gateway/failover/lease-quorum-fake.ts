import type { LeaseRecord } from './lease-store.js';
import type { MemberAcquire, QuorumMember } from './lease-quorum.js';
import { QuorumStoreState } from './lease-quorum-state.js';

/**
 * A quorum store process for tests, with the faults a real one suffers: `crash()` (requests fail at once, like a
 * refused connection), `restart()` (back empty), `freeze()`/`thaw()` (SIGSTOP: requests wait and run when it
 * resumes, on the clock of that moment), and per-client partitions (`link(name).cut()`: requests from that client
 * are lost and never answered).
 */
export class FakeQuorumStore {
  readonly state: QuorumStoreState;
  private up = true;
  private frozen: (() => void)[] | null = null;

  constructor(
    readonly name: string,
    clock: () => number = () => performance.now(),
    restartGuard = true,
  ) {
    this.state = new QuorumStoreState(clock, restartGuard);
  }

  crash(): void {
    this.up = false;
    this.frozen = null;
  }

  /** Back up without its data (this is what the restart guard is for). */
  restart(): void {
    this.state.wipe();
    this.up = true;
  }

  freeze(): void {
    this.frozen ??= [];
  }

  thaw(): void {
    const q = this.frozen ?? [];
    this.frozen = null;
    for (const run of q) run();
  }

  /** The store as one client reaches it. */
  link(client = 'client'): FakeQuorumLink {
    return new FakeQuorumLink(this, client);
  }

  /** @internal Runs `op` as the process would: failing when down, later when frozen. */
  exec<T>(op: (s: QuorumStoreState) => T): Promise<T> {
    if (!this.up) return Promise.reject(new Error(`${this.name}: connection refused`));
    if (this.frozen) {
      const q = this.frozen;
      return new Promise((resolve, reject) => {
        q.push(() => (this.up ? resolve(op(this.state)) : reject(new Error(`${this.name}: connection reset`))));
      });
    }
    return Promise.resolve(op(this.state));
  }
}

export class FakeQuorumLink implements QuorumMember {
  private isCut = false;

  constructor(
    readonly store: FakeQuorumStore,
    readonly client: string,
  ) {}

  get name(): string {
    return this.store.name;
  }

  cut(): void {
    this.isCut = true;
  }

  heal(): void {
    this.isCut = false;
  }

  private send<T>(op: (s: QuorumStoreState) => T): Promise<T> {
    // A partition loses the request: no answer ever comes (the quorum's per-store timeout ends the wait).
    if (this.isCut) return new Promise(() => undefined);
    return this.store.exec(op);
  }

  acquire(key: string, holder: string, ttlMs: number, guardMs: number): Promise<MemberAcquire> {
    return this.send((s) => s.acquire(key, holder, ttlMs, guardMs));
  }

  commit(key: string, holder: string, storeEpoch: number, epoch: number, ttlMs: number): Promise<boolean> {
    return this.send((s) => s.commit(key, holder, storeEpoch, epoch, ttlMs));
  }

  renew(key: string, holder: string, epoch: number, ttlMs: number, guardMs: number): Promise<number> {
    return this.send((s) => s.renew(key, holder, epoch, ttlMs, guardMs));
  }

  rejoin(key: string, holder: string, epoch: number, ttlMs: number, guardMs: number): Promise<boolean> {
    return this.send((s) => s.rejoin(key, holder, epoch, ttlMs, guardMs));
  }

  release(key: string, holder: string, epoch: number): Promise<boolean> {
    return this.send((s) => s.release(key, holder, epoch));
  }

  read(key: string): Promise<LeaseRecord | null> {
    return this.send((s) => s.read(key));
  }
}

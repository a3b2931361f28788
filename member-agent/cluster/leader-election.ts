import type { V1Lease } from '@kubernetes/client-node';
import { isConflict, statusOf, type KubeClient } from './kube-client.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  /** Try to acquire or renew this often (default a third of the lease duration). */
  retryMs?: number;
  onStarted: () => void;
  onStopped: () => void;
  onError?: (e: unknown) => void;
}

/**
 * Leader election on a coordination.k8s.io Lease, as client-go does it: the holder renews every `retryMs`; others
 * take the lease once `renewTime + leaseDuration` has passed. Every write is a replace with the lease's
 * resourceVersion, so two candidates can never both win (the loser gets 409). A leader that cannot renew within
 * the lease duration steps down on its own, before anyone else may take over.
 */
export class LeaderElector {
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private lastRenew = 0;
  private running = false;

  constructor(private readonly kube: KubeClient, private readonly o: LeaderElectionOptions) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.running = true;
    void this.tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.leading) {
      this.leading = false;
      this.o.onStopped();
      // Release: let the next candidate take over at once instead of waiting for expiry.
      try {
        const l = await this.kube.coord.readNamespacedLease({ namespace: this.o.namespace, name: this.o.name });
        if (l.spec?.holderIdentity === this.o.identity) {
          await this.kube.coord.replaceNamespacedLease({ namespace: this.o.namespace, name: this.o.name, body: { ...l, spec: { ...l.spec, holderIdentity: undefined, renewTime: undefined, acquireTime: undefined } } });
        }
      } catch {}
    }
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    try {
      const ok = await this.tryAcquireOrRenew();
      if (ok) this.lastRenew = Date.now();
      if (ok && !this.leading && this.running) {
        this.leading = true;
        this.o.onStarted();
      }
      if (!ok && this.leading) this.stepDown();
    } catch (e) {
      this.o.onError?.(e);
      if (this.leading && Date.now() - this.lastRenew > this.o.leaseDurationMs * 0.8) this.stepDown();
    }
    if (this.running) this.timer = setTimeout(() => void this.tick(), this.o.retryMs ?? Math.max(100, Math.floor(this.o.leaseDurationMs / 3)));
  }

  private stepDown(): void {
    this.leading = false;
    this.o.onStopped();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.o;
    const now = new Date();
    const durationSeconds = Math.max(1, Math.ceil(this.o.leaseDurationMs / 1000));
    let cur: V1Lease | undefined;
    try {
      cur = await this.kube.coord.readNamespacedLease({ namespace, name });
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
    }
    if (!cur) {
      try {
        await this.kube.coord.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } } });
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    }
    const spec = cur.spec ?? {};
    const holder = spec.holderIdentity;
    const renew = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = !holder || renew + (spec.leaseDurationSeconds ?? durationSeconds) * 1000 < now.getTime();
    if (holder !== identity && !expired) return false;
    const next: V1Lease = {
      ...cur,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: now,
        ...(holder !== identity ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
      },
    };
    try {
      await this.kube.coord.replaceNamespacedLease({ namespace, name, body: next });
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }
}

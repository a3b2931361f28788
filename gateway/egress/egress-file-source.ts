import { readFileSync } from 'node:fs';
import { createCoalescingRun, type Logger } from '../../host/index.js';
import { parseEgressObjects, resolveEgressObjects, type EgressObjects } from './egress-file.js';
import type { EgressClusterView } from './egress-pods.js';
import type { ResolvedEgress } from './egress-resolve.js';

export interface EgressFileSourceOptions {
  /** The `--egress-config` file, read once at start (a bad file stops the agent before anything is applied). */
  readonly file: string;
  readonly clusterCidrs?: readonly string[];
  /** Broker address leases for pool IPs; without, the lowest free pool IP (the same on every agent reading the file). */
  readonly lease?: (policy: string, gateway: string, family: 'ipv4' | 'ipv6') => Promise<string>;
  /** The live pods and namespaces podSelector / namespaceSelector resolve over; without it they match nothing. */
  readonly view?: EgressClusterView;
  readonly log: Logger;
  /** Called with every resolution that differs from the previous one (not for the first: start() returns it). */
  readonly onChange?: (r: ResolvedEgress) => Promise<void> | void;
}

/**
 * The egress objects of a file, resolved over the cluster's live pods and re-resolved whenever the view reports a
 * pod or namespace change. The objects do not change while the agent runs, so each policy's pool IP is leased
 * (or picked) once and kept: a relabel changes only which sources the rules carry.
 */
export class EgressFileSource {
  private objects: EgressObjects | undefined;
  private current: ResolvedEgress | undefined;
  private currentKey = '';
  private readonly leases = new Map<string, string>();
  private readonly syncs = createCoalescingRun(() => this.stopped);
  private stopped = false;

  constructor(private readonly o: EgressFileSourceOptions) {}

  get resolved(): ResolvedEgress | undefined {
    return this.current;
  }

  async start(): Promise<ResolvedEgress> {
    this.objects = parseEgressObjects(readFileSync(this.o.file, 'utf8'), this.o.file);
    await this.o.view?.start(() => void this.sync());
    await this.resolve(false);
    for (const e of this.current?.errors ?? []) this.o.log.warn({ policy: e.policy, err: e.error }, e.error.message);
    return this.current!;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.o.view?.stop();
    await this.syncs.current?.catch(() => undefined);
  }

  private sync(): Promise<void> {
    return this.syncs.run(async () => {
      await this.resolve(true).catch((e: unknown) => this.o.log.warn({ err: e }, 'egress: resolving over the new pods failed'));
    });
  }

  private async resolve(notify: boolean): Promise<void> {
    if (!this.objects) return;
    const lease = this.o.lease;
    const r = await resolveEgressObjects(
      this.objects,
      { clusterCidrs: this.o.clusterCidrs ?? [], ...this.o.view?.snapshot() },
      lease
        ? async (policy, gateway, family) => {
            const k = `${policy}|${gateway}|${family}`;
            const ip = this.leases.get(k) ?? (await lease(policy, gateway, family));
            this.leases.set(k, ip);
            return ip;
          }
        : undefined,
    );
    const key = JSON.stringify({ rules: r.rules, gateways: r.gateways, pending: r.pending, errors: r.errors.map((e) => [e.policy, e.error.code]) });
    if (key === this.currentKey) return;
    const first = this.current === undefined;
    this.current = r;
    this.currentKey = key;
    if (!first) this.o.log.info({ rules: r.rules.map((x) => `${x.policy}:${x.family}:${x.sources.length}`) }, 'egress re-resolved over the live pods');
    if (notify && !first) await this.o.onChange?.(r);
  }
}

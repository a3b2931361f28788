import type * as k8s from '@kubernetes/client-node';
import { IPPoolKind, type IPPoolNodeStatus } from '../../crds/index.js';
import type { IpamEngine } from '../../ipam/index.js';
import type { Logger } from '../../host/index.js';
import { accessChecked } from '../cluster/access-guard.js';
import { nodeAgentAccess } from '../cluster/component-access.js';
import { canonical } from '../cluster/egress-push-plan.js';
import { isNotFound, KubeClient, refOf } from '../cluster/kube-client.js';

export interface PoolStatusReporterOptions {
  kubeConfig: k8s.KubeConfig;
  nodeName: string;
  engine: IpamEngine;
  log: Logger;
  /** How often the engine's usage is looked at (default 2 s): changes in between are coalesced into one write. */
  intervalMs?: number;
}

/**
 * The node agent's share of each IPPool's status: `status.nodes.<this node>` = its blocks of the pool and the
 * addresses it holds there (the member agent sums the entries into the Allocated and Blocks columns).
 *
 * Written without write storms: the engine's usage is sampled every `intervalMs` (a burst of pods is one write), an
 * entry is written only when it changed since the last write, as a JSON merge patch of this node's key alone (no
 * read-modify-write, no conflict with the other nodes), and an empty entry is removed rather than written. The
 * entries already in the API are read once at start, so a restart writes only what changed meanwhile. A pool
 * without an IPPool object (a pool file without CRDs) answers 404 and is not tried again until its entry changes.
 */
export class PoolStatusReporter {
  private readonly kube: KubeClient;
  /** Pool → the entry the API holds for this node (null: none); absent: not known. */
  private readonly written = new Map<string, IPPoolNodeStatus | null>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  readonly stats = { writes: 0, errors: 0 };

  constructor(private readonly o: PoolStatusReporterOptions) {
    this.kube = new KubeClient(accessChecked(o.kubeConfig, nodeAgentAccess()));
  }

  async start(): Promise<void> {
    try {
      const l = (await this.kube.custom.listClusterCustomObject({ group: IPPoolKind.group, version: IPPoolKind.version, plural: IPPoolKind.plural })) as {
        items: { metadata: { name: string }; status?: { nodes?: Record<string, IPPoolNodeStatus | null> } }[];
      };
      for (const p of l.items) this.written.set(p.metadata.name, p.status?.nodes?.[this.o.nodeName] ?? null);
    } catch (e) {
      // No CRDs installed, or the API server is away: entries are written as they change, none removed blindly.
      this.o.log.debug({ err: e }, 'pool status: could not read the IPPools; writing entries as they change');
    }
    await this.report();
    this.timer = setInterval(() => void this.report(), this.o.intervalMs ?? 2_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One round now (tests); a round in flight is waited for first. */
  async report(): Promise<void> {
    while (this.running) await this.running;
    if (this.stopped) return;
    this.running = this.round()
      .catch((e: unknown) => {
        this.stats.errors++;
        this.o.log.warn({ err: e }, 'pool status: reading the engine\'s usage failed; retrying next round');
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<void> {
    const usage = await this.o.engine.usage();
    for (const u of usage) {
      if (this.stopped) return;
      const blocks = [...(u.blocks[this.o.nodeName] ?? [])].sort();
      const want: IPPoolNodeStatus | null = blocks.length === 0 && u.used === 0 ? null : { blocks, allocatedIPs: u.used };
      const had = this.written.get(u.pool);
      if (had === undefined ? want === null : canonical(had) === canonical(want)) continue;
      try {
        await this.kube.patchCustom(refOf(IPPoolKind), u.pool, { status: { nodes: { [this.o.nodeName]: want } } }, { status: true });
        this.stats.writes++;
        this.written.set(u.pool, want);
      } catch (e) {
        if (isNotFound(e)) {
          this.written.set(u.pool, want);
          continue;
        }
        this.stats.errors++;
        this.o.log.debug({ pool: u.pool, err: e }, 'pool status write failed; retrying next round');
      }
    }
  }
}

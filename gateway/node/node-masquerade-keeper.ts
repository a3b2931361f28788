import { createSerial, type Logger } from '../../host/index.js';
import type { NodeMasquerade } from '../egress/datapath.js';
import { normalizeMasqueradeIntent } from '../egress/node-masquerade-nft.js';
import { masqueradeIntent, newlySelectedSources, type ClusterNetworks } from './node-masquerade-plan.js';

/** What the keeper reads of an EgressPolicy rule. */
export interface EgressRuleRef {
  readonly mark: number;
  readonly sources: readonly string[];
}

export interface NodeMasqueradeKeeperOptions {
  readonly cluster: string;
  readonly staticClusterCidrs: readonly string[];
  readonly datapath: NodeMasquerade;
  readonly log: Logger;
}

/**
 * Keeps the node masquerade equal to the plan of the latest inputs: the clusters' networks (from the broker) and
 * the node's egress rules (their marks). Nothing is installed before the networks are known (without this
 * cluster's pod CIDRs there is nothing to masquerade). Updates run one at a time; an input that leaves the plan as
 * it was touches nothing.
 */
export class NodeMasqueradeKeeper {
  private readonly run = createSerial();
  private networks: ClusterNetworks | undefined;
  private rules: readonly EgressRuleRef[] = [];
  private applied = '';

  constructor(private readonly o: NodeMasqueradeKeeperOptions) {}

  setNetworks(n: ClusterNetworks): Promise<void> {
    this.networks = n;
    return this.run(() => this.apply());
  }

  /**
   * The node's EgressPolicy rules changed (call it once node egress marks them). Sources a rule newly covers have
   * their masqueraded flows forgotten, so those flows reach the gateway with the pod's address from now on.
   */
  setEgressRules(rules: readonly EgressRuleRef[]): Promise<void> {
    const prev = this.rules;
    this.rules = rules.map((r) => ({ mark: r.mark, sources: [...r.sources] }));
    return this.run(async () => {
      await this.apply();
      const fresh = newlySelectedSources(prev, this.rules);
      if (this.applied && fresh.length) {
        await this.o.datapath.forget(fresh);
        this.o.log.info({ sources: fresh }, 'node masquerade: flows of newly egress-selected sources forgotten');
      }
    });
  }

  private async apply(): Promise<void> {
    if (!this.networks) return;
    const intent = normalizeMasqueradeIntent(masqueradeIntent({ cluster: this.o.cluster, networks: this.networks, staticClusterCidrs: this.o.staticClusterCidrs, egressRules: this.rules }));
    const key = JSON.stringify(intent);
    if (key === this.applied) return;
    await this.o.datapath.ensure(intent);
    this.applied = key;
    this.o.log.info({ podCidrs: intent.podCidrs, clusterCidrs: intent.clusterCidrs, egressMarks: intent.egressMarks }, 'node masquerade updated');
  }
}

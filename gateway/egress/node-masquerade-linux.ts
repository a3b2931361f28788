import { ifName } from '../../host/index.js';
import type { NodeMasquerade, NodeMasqueradeIntent } from './datapath.js';
import { conntrackSourceArgs } from './gateway-egress-linux.js';
import { exec, type LinuxDatapathOptions } from './linux-exec.js';
import { masqueradeFromNftJson, masqueradeRuleset, masqueradeUpdate, normalizeMasqueradeIntent, type MasqueradeTable } from './node-masquerade-nft.js';

/**
 * The node masquerade in an nftables table `strait-nm-<run>` of its own (node-masquerade-nft.ts): apart from
 * `strait-ne-<run>`, which node egress rebuilds whenever the policies change, and present on nodes that steer no
 * egress at all. The first `ensure` of a process writes the whole table (taking over one an earlier run left:
 * pods' flows to the outside survive a restart of the agent); later ones change set elements only.
 */
export class LinuxNodeMasquerade implements NodeMasquerade {
  private installed: NodeMasqueradeIntent | undefined;

  constructor(private readonly o: LinuxDatapathOptions) {}

  private get t(): MasqueradeTable {
    // The egress VXLAN device LinuxNodeEgress creates (the same name).
    return { table: `strait-nm-${this.o.runId}`, egressDev: ifName('ve', this.o.runId) };
  }

  async ensure(intent: NodeMasqueradeIntent): Promise<void> {
    const next = normalizeMasqueradeIntent(intent);
    const script = this.installed ? masqueradeUpdate(this.t, this.installed, next) : masqueradeRuleset(this.t, next);
    try {
      if (script) await exec(['nft', '-f', '-'], this.o, script);
    } catch (e) {
      // Someone else changed the table meanwhile (the diff did not apply): the next ensure rewrites it whole.
      this.installed = undefined;
      throw e;
    }
    this.installed = next;
  }

  async forget(sources: readonly string[]): Promise<void> {
    for (const s of sources) {
      // Exit 1 when no entry matched: nothing to forget.
      await exec(['conntrack', '-D', ...conntrackSourceArgs(s), '--src-nat'], this.o, undefined, true);
    }
  }

  async current(): Promise<NodeMasqueradeIntent | undefined> {
    const r = await exec(['nft', '-j', 'list', 'table', 'inet', this.t.table], this.o, undefined, true);
    return r.code === 0 ? masqueradeFromNftJson(r.stdout) : undefined;
  }

  async clear(): Promise<void> {
    await exec(['nft', 'delete', 'table', 'inet', this.t.table], this.o, undefined, true);
    this.installed = undefined;
  }
}

import { ifName } from '../../host/index.js';
import { EGRESS_NEXTHOP_PREFIX, EGRESS_VNI, EGRESS_VXLAN_PORT, gatewayVxlanMac } from '../tunnels/vxlan-identity.js';
import type { NodeEgress, NodeEgressConfig } from './datapath.js';
import type { EgressRule } from './egress-resolve.js';
import { IpBatchSession } from './ip-session.js';
import { exec, set, type LinuxDatapathOptions } from './linux-exec.js';

const RULE_PREF_BASE = 15_000;
const TABLE_BASE = 0x5e00;

/**
 * Node side: an nftables table `strait-ne-<run>` marks policy traffic (prerouting for pods, output for local
 * senders) with the rule's fwmark; `ip rule fwmark M lookup T` sends it to the EgressGateway's table, whose default
 * route points at one candidate through that candidate's VXLAN device. Failover = `ip route replace` in T.
 */
export class LinuxNodeEgress implements NodeEgress {
  private tables = new Map<string, number>();
  private nexthops = new Map<string, string>();
  /** Steering moves are lines to this running `ip -batch` (no fork per move), warmed by `apply`. */
  private readonly ip: IpBatchSession;

  constructor(private readonly o: LinuxDatapathOptions & { dev: string }) {
    this.ip = new IpBatchSession({ netns: o.netns });
  }

  private get table(): string {
    return `strait-ne-${this.o.runId}`;
  }

  private get dev(): string {
    return ifName('ve', this.o.runId);
  }

  /** Next hop standing for candidate i on the node's VXLAN device (resolved by a pinned neighbour entry). */
  private nexthopFor(i: number): string {
    return `${EGRESS_NEXTHOP_PREFIX}${i + 1}`;
  }

  async apply(config: NodeEgressConfig): Promise<void> {
    const gws = [...new Set(config.rules.map((r) => r.gateway))].sort();
    this.tables = new Map(gws.map((g, i) => [g, TABLE_BASE + i]));
    // One VXLAN device; each candidate's MAC is pinned in the FDB (→ its LAN address) and behind a permanent
    // neighbour entry: no ARP across the tunnel, ever, so a standby is always ready.
    const links = await exec(['ip', '-j', 'link', 'show'], this.o);
    const have = new Set((JSON.parse(links.stdout || '[]') as { ifname: string }[]).map((l) => l.ifname));
    const batch: string[] = [];
    if (!have.has(this.dev)) batch.push(`link add ${this.dev} type vxlan id ${EGRESS_VNI} dstport ${EGRESS_VXLAN_PORT} dev ${this.o.dev} nolearning`);
    batch.push(`link set ${this.dev} up`);
    const fdb: string[] = [];
    this.nexthops = new Map();
    config.candidates.forEach((c, i) => {
      const mac = gatewayVxlanMac(this.o.runId, c.name);
      this.nexthops.set(c.name, this.nexthopFor(i));
      fdb.push(`fdb replace ${mac} dev ${this.dev} dst ${c.address} self permanent`);
      batch.push(`neigh replace ${this.nexthopFor(i)} lladdr ${mac} dev ${this.dev} nud permanent`);
    });
    // Policy routing: drop our old rules (by preference range), then add the current ones.
    const rules = JSON.parse((await exec(['ip', '-j', 'rule', 'show'], this.o)).stdout || '[]') as { priority: number }[];
    for (const r of rules) if (r.priority >= RULE_PREF_BASE && r.priority < RULE_PREF_BASE + 1000) batch.push(`rule del pref ${r.priority}`);
    config.rules.forEach((r, i) => {
      const t = this.tables.get(r.gateway);
      batch.push(`${r.family === 'ipv6' ? '-6 ' : ''}rule add fwmark ${r.mark} lookup ${t} pref ${RULE_PREF_BASE + i}`);
    });
    // The VXLAN outer packet inherits the inner mark: throw routes keep gateway and cluster addresses in main.
    for (const t of this.tables.values()) {
      for (const c of config.candidates) if (!c.address.includes(':')) batch.push(`route replace throw ${c.address}/32 table ${t}`);
      for (const cidr of config.clusterCidrs) if (!cidr.includes(':')) batch.push(`route replace throw ${cidr} table ${t}`);
    }
    await exec(['ip', '-batch', '-'], this.o, `${batch.join('\n')}\n`);
    if (fdb.length) await exec(['bridge', '-batch', '-'], this.o, `${fdb.join('\n')}\n`);
    await exec(['nft', '-f', '-'], this.o, this.nftScript(config));
    // Until steered, policy traffic is blackholed rather than leaving with the node's own address.
    const cur = await this.current();
    const keep = new Map<string, string | undefined>();
    for (const g of gws) keep.set(g, cur.get(g) ?? undefined);
    await this.steer(keep);
  }

  private nftScript(config: NodeEgressConfig): string {
    const v4Excl = [...config.clusterCidrs.filter((c) => !c.includes(':')), ...config.candidates.filter((c) => !c.address.includes(':')).map((c) => c.address)];
    const v6Excl = [...config.clusterCidrs.filter((c) => c.includes(':')), ...config.candidates.filter((c) => c.address.includes(':')).map((c) => c.address)];
    const steer: string[] = [];
    if (v4Excl.length) steer.push(`ip daddr ${set(v4Excl)} return`);
    if (v6Excl.length) steer.push(`ip6 daddr ${set(v6Excl)} return`);
    steer.push(`udp dport ${EGRESS_VXLAN_PORT} return`);
    for (const r of config.rules) steer.push(this.markRule(r));
    return [
      `table inet ${this.table} {}`,
      `delete table inet ${this.table}`,
      `table inet ${this.table} {`,
      `  chain steer {`,
      ...steer.map((s) => `    ${s}`),
      '  }',
      '  chain pre { type filter hook prerouting priority mangle; policy accept; jump steer; }',
      '  chain out { type route hook output priority mangle; policy accept; jump steer; }',
      '}',
      '',
    ].join('\n');
  }

  private markRule(r: EgressRule): string {
    const f = r.family === 'ipv6' ? 'ip6' : 'ip';
    const all = r.destinations.length === 1 && /^(0\.0\.0\.0|::)\/0$/.test(r.destinations[0] ?? '');
    return `${f} saddr ${set(r.sources)} ${all ? '' : `${f} daddr ${set(r.destinations)} `}meta mark set ${r.mark} return`;
  }

  async steer(active: ReadonlyMap<string, string | undefined>): Promise<void> {
    const lines: string[] = [];
    for (const [egw, cand] of active) {
      const t = this.tables.get(egw);
      if (t === undefined) continue;
      const nh = cand ? this.nexthops.get(cand) : undefined;
      lines.push(nh ? `route replace default via ${nh} dev ${this.dev} onlink table ${t}` : `route replace blackhole default table ${t}`);
    }
    // A write to the running `ip -batch` session: the failover step costs no fork (issue #12).
    await this.ip.run(lines);
  }

  async current(): Promise<Map<string, string | null>> {
    const m = new Map<string, string | null>();
    const nhToCand = new Map([...this.nexthops].map(([c, nh]) => [nh, c]));
    for (const [egw, t] of this.tables) {
      const r = await exec(['ip', '-j', 'route', 'show', 'table', String(t), 'default'], this.o, undefined, true);
      const routes = JSON.parse(r.stdout || '[]') as { type?: string; gateway?: string }[];
      const rt = routes[0];
      if (rt) m.set(egw, rt.type === 'blackhole' || !rt.gateway ? null : (nhToCand.get(rt.gateway) ?? null));
    }
    return m;
  }

  async clear(): Promise<void> {
    await exec(['nft', 'delete', 'table', 'inet', this.table], this.o, undefined, true);
    const batch: string[] = [];
    const rules = JSON.parse((await exec(['ip', '-j', 'rule', 'show'], this.o)).stdout || '[]') as { priority: number }[];
    for (const r of rules) if (r.priority >= RULE_PREF_BASE && r.priority < RULE_PREF_BASE + 1000) batch.push(`rule del pref ${r.priority}`);
    for (const t of this.tables.values()) batch.push(`route flush table ${t}`);
    batch.push(`link del ${this.dev}`);
    await exec(['ip', '-force', '-batch', '-'], this.o, `${batch.join('\n')}\n`, true);
    this.tables.clear();
    this.nexthops.clear();
    this.ip.close();
  }
}

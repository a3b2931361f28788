import { StraitError } from '../../api/index.js';
import { ExecError, ifName, run, type ExecResult } from '../../host/index.js';
import type {
  GatewayEgress, GatewayEgressConfig, NodeEgress, NodeEgressConfig, NodeRoutes, NodeRoutesIntent,
} from './datapath.js';
import type { EgressRule } from './egress-resolve.js';
import { GarpAnnouncer } from './garp-announcer.js';
import { NftSession } from './nft-session.js';
import { EGRESS_GATEWAY_DEV_ADDR, EGRESS_NEXTHOP_PREFIX, EGRESS_VNI, EGRESS_VXLAN_PORT, gatewayVxlanMac } from '../tunnels/vxlan-identity.js';

/** Where the Linux datapath runs: inside `netns` when given (tests, labs), else in the current namespace. */
export interface LinuxDatapathOptions {
  readonly runId: string;
  readonly netns?: string;
}

async function exec(argv: string[], o: LinuxDatapathOptions, input?: string, allowFailure = false): Promise<ExecResult> {
  try {
    return await run(argv, { netns: o.netns, input, allowFailure, timeoutMs: 10_000 });
  } catch (e) {
    if (e instanceof ExecError) {
      throw new StraitError('GATEWAY_DATAPATH_FAILED', e.message, { argv: e.argv.join(' '), stderr: e.result.stderr.trim(), input: input?.slice(0, 2000) });
    }
    throw e;
  }
}

const set = (items: readonly string[]): string => `{ ${items.join(', ')} }`;

// ------------------------------------------------------------------------------------------------ node routes

/**
 * Remote-cluster routes. active-standby: `ip route replace CIDR via NH`. active-active: one nexthop object per
 * gateway and a *resilient* group, so removing a dead gateway only remaps the flows that used it.
 */
export class LinuxNodeRoutes implements NodeRoutes {
  private readonly nhBase: number;
  private installed = new Set<string>();

  constructor(private readonly o: LinuxDatapathOptions & { dev?: string; nexthopIdBase?: number }) {
    this.nhBase = o.nexthopIdBase ?? 5900;
  }

  async ensure(intent: NodeRoutesIntent): Promise<void> {
    const lines: string[] = [];
    const want = new Set(intent.remoteCidrs);
    const dev = this.o.dev ? ['dev', this.o.dev] : [];
    if (intent.nexthops.length === 0) {
      for (const c of want) lines.push(`route del ${c}`);
    } else if (intent.mode === 'active-standby' || intent.nexthops.length === 1) {
      for (const c of want) lines.push(['route replace', c, 'via', intent.nexthops[0], ...dev].join(' '));
    } else {
      intent.nexthops.forEach((nh, i) => lines.push(['nexthop replace id', this.nhBase + 1 + i, 'via', nh, ...dev].join(' ')));
      const group = intent.nexthops.map((_, i) => this.nhBase + 1 + i).join('/');
      lines.push(`nexthop replace id ${this.nhBase} group ${group} type resilient buckets 64 idle_timer 0`);
      for (const c of want) lines.push(`route replace ${c} nhid ${this.nhBase}`);
    }
    for (const c of this.installed) if (!want.has(c)) lines.push(`route del ${c}`);
    // `ip -force -batch`: one exec for all routes (failover speed), and a missing route on delete is not fatal.
    await exec(['ip', '-force', '-batch', '-'], this.o, `${lines.join('\n')}\n`, true);
    this.installed = intent.nexthops.length === 0 ? new Set() : want;
  }

  async current(): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const r = await exec(['ip', '-j', 'route', 'show'], this.o);
    const routes = JSON.parse(r.stdout || '[]') as { dst: string; gateway?: string; nhid?: number }[];
    let groups: Map<number, string[]> | undefined;
    for (const rt of routes) {
      if (!this.installed.has(rt.dst) && !this.installed.has(rt.dst.replace(/\/32$/, ''))) continue;
      if (rt.gateway) out.set(rt.dst, [rt.gateway]);
      else if (rt.nhid !== undefined) {
        groups ??= await this.nexthopGroups();
        out.set(rt.dst, groups.get(rt.nhid) ?? []);
      }
    }
    return out;
  }

  private async nexthopGroups(): Promise<Map<number, string[]>> {
    const r = await exec(['ip', '-j', 'nexthop', 'show'], this.o);
    const nhs = JSON.parse(r.stdout || '[]') as { id: number; gateway?: string; group?: { id: number }[] }[];
    const byId = new Map(nhs.map((n) => [n.id, n]));
    const m = new Map<number, string[]>();
    for (const n of nhs) if (n.group) m.set(n.id, n.group.map((g) => byId.get(g.id)?.gateway ?? '').filter(Boolean));
    return m;
  }

  async clear(): Promise<void> {
    const lines = [...this.installed].map((c) => `route del ${c}`);
    lines.push(`nexthop del id ${this.nhBase}`);
    for (let i = 1; i <= 16; i++) lines.push(`nexthop del id ${this.nhBase + i}`);
    await exec(['ip', '-force', '-batch', '-'], this.o, `${lines.join('\n')}\n`, true);
    this.installed.clear();
  }
}

// ------------------------------------------------------------------------------------------------ node egress

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

  constructor(private readonly o: LinuxDatapathOptions & { dev: string }) {}

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
    if (lines.length) await exec(['ip', '-batch', '-'], this.o, `${lines.join('\n')}\n`);
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
  }
}

// ------------------------------------------------------------------------------------------------ gateway egress

/**
 * Gateway side: VXLAN device receiving node traffic; table `inet strait-gw-<run>` SNATs policy traffic to its
 * egress IP on the WAN device and drops (a) anything sent from an egress IP that is not live, (b) policy traffic
 * that left untranslated; table `arp strait-gw-<run>` stops ARP answers for egress IPs that are not live. Live =
 * an element in the `live4`/`live6` sets with a kernel timeout: the fence holds even if the agent is frozen.
 */
export class LinuxGatewayEgress implements GatewayEgress {
  private egressIps: string[] = [];
  private readonly liveUntil = new Map<string, number>();
  private readonly nft: NftSession;
  private readonly garp: GarpAnnouncer;

  constructor(private readonly o: LinuxDatapathOptions & { name: string; wanDev: string; lanDev: string }) {
    this.nft = new NftSession({ netns: o.netns });
    this.garp = new GarpAnnouncer({ dev: o.wanDev, netns: o.netns });
  }

  /** One fence transaction through the long-lived nft session; a one-shot `nft` if the session fails. */
  private async fence(commands: readonly string[], allowFailure = false): Promise<void> {
    if (commands.length === 0) return;
    try {
      await this.nft.apply(commands);
    } catch {
      await exec(['nft', '-f', '-'], this.o, `${commands.join('\n')}\n`, allowFailure);
    }
  }

  private get table(): string {
    return `strait-gw-${this.o.runId}`;
  }

  get vxlanDev(): string {
    return ifName('vg', this.o.runId);
  }

  async apply(config: GatewayEgressConfig): Promise<void> {
    this.egressIps = [...config.egressIps];
    this.liveUntil.clear(); // the tables are rebuilt below: nothing is live afterwards
    const links = JSON.parse((await exec(['ip', '-j', 'link', 'show'], this.o)).stdout || '[]') as { ifname: string }[];
    const batch: string[] = [];
    if (!links.some((l) => l.ifname === this.vxlanDev)) {
      batch.push(`link add ${this.vxlanDev} type vxlan id ${EGRESS_VNI} dstport ${EGRESS_VXLAN_PORT} dev ${this.o.lanDev}`);
    }
    batch.push(`link set ${this.vxlanDev} address ${gatewayVxlanMac(this.o.runId, this.o.name)}`, `link set ${this.vxlanDev} up`);
    // Reverse-path filtering rejects everything arriving on a device without any IPv4 address, even in loose mode.
    batch.push(`addr replace ${EGRESS_GATEWAY_DEV_ADDR} dev ${this.vxlanDev}`);
    await exec(['ip', '-batch', '-'], this.o, `${batch.join('\n')}\n`);
    await this.disableVxlanRpFilter(links.map((l) => l.ifname));
    await exec(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], this.o);
    await exec(['sysctl', '-qw', `net.ipv6.conf.${this.o.wanDev}.ndisc_notify=1`], this.o, undefined, true);
    await exec(['nft', '-f', '-'], this.o, this.nftScript(config));
    // IPv4 egress IPs stay on the WAN device for as long as the agent runs, live or not: the fence (ARP in/out,
    // traffic to and from them) is what makes one live, so taking over costs one fence transaction and no `ip`.
    // Added after the fence exists, so they never answer ARP unfenced. (IPv6 addresses still come and go: adding
    // one is what makes the kernel send the unsolicited NA.)
    const v4 = this.egressIps.filter((ip) => !ip.includes(':'));
    if (v4.length) await exec(['ip', '-batch', '-'], this.o, `${v4.map((ip) => `addr replace ${ip}/32 dev ${this.o.wanDev}`).join('\n')}\n`);
    this.garp.prepare(v4);
    // A standby's first fence transaction is its takeover: the session must already be running by then.
    this.nft.warm();
  }

  /**
   * Node traffic arrives on the VXLAN but replies leave via the LAN, so reverse-path filtering must be off on the
   * VXLAN device. The kernel applies max(all, dev): a non-zero `all` would override the device's 0. So when `all`
   * is set, its value moves down to every other interface (each keeps max(own, all), i.e. its effective value is
   * unchanged) and `all` becomes 0 — the host's other interfaces keep exactly the filtering they had. Before, the
   * agent set 2 on `all`, which (max) put loose filtering on the VXLAN device too.
   */
  private async disableVxlanRpFilter(ifnames: readonly string[]): Promise<void> {
    const read = async (k: string): Promise<number> => Number((await exec(['sysctl', '-n', `net.ipv4.conf.${k}.rp_filter`], this.o, undefined, true)).stdout.trim()) || 0;
    const all = await read('all');
    if (all > 0) {
      // `default` too: interfaces created later keep the filtering they would have had.
      for (const dev of ['default', ...ifnames]) {
        if (dev === this.vxlanDev || dev.includes('.') || dev.includes('/')) continue;
        if ((await read(dev)) < all) await exec(['sysctl', '-qw', `net.ipv4.conf.${dev}.rp_filter=${all}`], this.o, undefined, true);
      }
      await exec(['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0'], this.o, undefined, true);
    }
    await exec(['sysctl', '-qw', `net.ipv4.conf.${this.vxlanDev}.rp_filter=0`], this.o, undefined, true);
  }

  private nftScript(config: GatewayEgressConfig): string {
    const wan = `oifname "${this.o.wanDev}"`;
    const v4 = config.egressIps.filter((i) => !i.includes(':'));
    const v6 = config.egressIps.filter((i) => i.includes(':'));
    const nat: string[] = [];
    const fence: string[] = [];
    for (const r of config.rules) {
      const f = r.family === 'ipv6' ? 'ip6' : 'ip';
      const all = r.destinations.length === 1 && /^(0\.0\.0\.0|::)\/0$/.test(r.destinations[0] ?? '');
      const match = `${wan} ${f} saddr ${set(r.sources)} ${all ? '' : `${f} daddr ${set(r.destinations)} `}`;
      nat.push(r.egressIp === 'node' ? `${match}masquerade` : `${match}snat ${f} to ${r.egressIp}`);
      // After SNAT a packet still carrying a pod source was not translated: never let it out.
      fence.push(`${match}drop`);
    }
    const elems = (xs: string[]): string => (xs.length ? ` elements = ${set(xs)};` : '');
    return [
      `table inet ${this.table} {}`,
      `delete table inet ${this.table}`,
      `table arp ${this.table} {}`,
      `delete table arp ${this.table}`,
      `table inet ${this.table} {`,
      `  set eip4 { type ipv4_addr;${elems(v4)} }`,
      `  set eip6 { type ipv6_addr;${elems(v6)} }`,
      '  set live4 { type ipv4_addr; flags timeout; }',
      '  set live6 { type ipv6_addr; flags timeout; }',
      '  chain nat_post { type nat hook postrouting priority srcnat; policy accept;',
      ...nat.map((s) => `    ${s}`),
      '  }',
      '  chain fence_post { type filter hook postrouting priority srcnat + 10; policy accept;',
      `    ${wan} ip saddr @eip4 ip saddr != @live4 drop`,
      `    ${wan} ip6 saddr @eip6 ip6 saddr != @live6 drop`,
      ...fence.map((s) => `    ${s}`),
      '  }',
      '  chain fence_pre { type filter hook prerouting priority raw; policy accept;',
      '    ip daddr @eip4 ip daddr != @live4 drop',
      '    ip6 daddr @eip6 ip6 daddr != @live6 icmpv6 type != { nd-neighbor-solicit, nd-neighbor-advert } drop',
      '  }',
      '}',
      `table arp ${this.table} {`,
      `  set eip4 { type ipv4_addr;${elems(v4)} }`,
      '  set live4 { type ipv4_addr; flags timeout; }',
      '  chain in { type filter hook input priority 0; policy accept; arp daddr ip @eip4 arp daddr ip != @live4 drop; }',
      '  chain out { type filter hook output priority 0; policy accept; arp saddr ip @eip4 arp saddr ip != @live4 drop; }',
      '}',
      '',
    ].join('\n');
  }

  async serve(ips: readonly string[], until: number): Promise<string[]> {
    // Which IPs are live is known from our own deadlines: a renewal must cost exactly one nft exec.
    if (until <= performance.now()) return [];
    const fresh = ips.filter((ip) => (this.liveUntil.get(ip) ?? 0) <= performance.now());
    // Addresses first (harmless while not live: the fence hides them), then the fence, then the announcement.
    // IPv4 addresses are already there (apply); a v4 IP outside the applied config gets its address here.
    const lines = fresh
      .filter((ip) => ip.includes(':') || !this.egressIps.includes(ip))
      .map((ip) => (ip.includes(':') ? `-6 addr replace ${ip}/128 dev ${this.o.wanDev} nodad` : `addr replace ${ip}/32 dev ${this.o.wanDev}`));
    if (lines.length) await exec(['ip', '-batch', '-'], this.o, `${lines.join('\n')}\n`);
    // The timeout is computed here, synchronously right before nft is spawned (no await in between), from the
    // absolute deadline: a stall before this point shortens the fence, it can never extend it.
    const t0 = performance.now();
    const ms = Math.floor(until - t0);
    if (ms <= 0) return [];
    // delete+add in one transaction refreshes the timeout atomically (plain `add` keeps the old one).
    const nft: string[] = [];
    for (const ip of ips) {
      const v6 = ip.includes(':');
      const sets = v6 ? [`inet ${this.table} live6`] : [`inet ${this.table} live4`, `arp ${this.table} live4`];
      for (const s of sets) nft.push(`add element ${s} { ${ip} timeout ${ms}ms }`, `delete element ${s} { ${ip} }`, `add element ${s} { ${ip} timeout ${ms}ms }`);
    }
    await this.fence(nft);
    // The kernel counts from when nft committed, a little after t0 (a pipe write to the running session, not a
    // process start); our own bookkeeping stays on the early side.
    for (const ip of ips) this.liveUntil.set(ip, t0 + ms);
    // IPv6: the kernel sends the unsolicited NA itself on address add (ndisc_notify=1, set in apply()).
    for (const ip of fresh) if (!ip.includes(':')) this.garp.announce(ip);
    return fresh;
  }

  async release(ips?: readonly string[]): Promise<void> {
    const drop = ips ?? this.egressIps;
    if (drop.length === 0) return;
    for (const ip of drop) this.liveUntil.delete(ip);
    const nft: string[] = [];
    for (const ip of drop) {
      const sets = ip.includes(':') ? [`inet ${this.table} live6`] : [`inet ${this.table} live4`, `arp ${this.table} live4`];
      for (const s of sets) nft.push(`add element ${s} { ${ip} timeout 1ms }`, `delete element ${s} { ${ip} }`);
    }
    await this.fence(nft, true);
    // IPv4 addresses stay (fenced, see apply); IPv6 ones go, so that the next add announces them.
    const lines = drop.filter((ip) => ip.includes(':') || !this.egressIps.includes(ip)).map((ip) => (ip.includes(':') ? `-6 addr del ${ip}/128 dev ${this.o.wanDev}` : `addr del ${ip}/32 dev ${this.o.wanDev}`));
    if (lines.length) await exec(['ip', '-force', '-batch', '-'], this.o, `${lines.join('\n')}\n`, true);
  }

  async live(): Promise<string[]> {
    return eipFenceLive(this.o.runId, this.o.netns);
  }

  async clear(): Promise<void> {
    await this.release();
    this.nft.close();
    this.garp.close();
    const v4 = this.egressIps.filter((ip) => !ip.includes(':'));
    if (v4.length) await exec(['ip', '-force', '-batch', '-'], this.o, `${v4.map((ip) => `addr del ${ip}/32 dev ${this.o.wanDev}`).join('\n')}\n`, true);
    await exec(['nft', 'delete', 'table', 'inet', this.table], this.o, undefined, true);
    await exec(['nft', 'delete', 'table', 'arp', this.table], this.o, undefined, true);
    await exec(['ip', 'link', 'del', this.vxlanDev], this.o, undefined, true);
  }
}

/**
 * Egress IPs a gateway serves right now: the elements of its kernel fence sets that have not timed out. This is
 * the authoritative "is this egress IP active here" check (an address may linger on the device after the fence
 * expired, e.g. while the agent is stopped, but then the kernel neither answers ARP for it nor sends from it).
 */
export async function eipFenceLive(runId: string, netns?: string): Promise<string[]> {
  const out: string[] = [];
  for (const s of ['live4', 'live6']) {
    const r = await run(['nft', '-j', 'list', 'set', 'inet', `strait-gw-${runId}`, s], { netns, allowFailure: true });
    if (r.code !== 0) continue;
    const j = JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] };
    for (const item of j.nftables) {
      for (const e of item.set?.elem ?? []) {
        if (typeof e === 'string') out.push(e);
        else {
          const val = (e as { elem?: { val?: string } }).elem?.val;
          if (typeof val === 'string') out.push(val);
        }
      }
    }
  }
  return out.sort();
}

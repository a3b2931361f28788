import { ifName } from '../../host/index.js';
import { EGRESS_GATEWAY_DEV_ADDR, EGRESS_VNI, EGRESS_VXLAN_PORT, gatewayVxlanMac } from '../tunnels/vxlan-identity.js';
import type { GatewayEgress, GatewayEgressConfig } from './datapath.js';
import type { EgressRule } from './egress-resolve.js';
import { eipFenceLive } from './eip-fence.js';
import { GarpAnnouncer } from './garp-announcer.js';
import { exec, set, type LinuxDatapathOptions } from './linux-exec.js';
import { NftSession } from './nft-session.js';

/**
 * Gateway side: VXLAN device receiving node traffic; table `inet strait-gw-<run>` SNATs policy traffic to its
 * egress IP on the WAN device and drops (a) anything sent from an egress IP that is not live, (b) policy traffic
 * that left untranslated; table `arp strait-gw-<run>` stops ARP answers for egress IPs that are not live. Live =
 * an element in the `live4`/`live6` sets with a kernel timeout: the fence holds even if the agent is frozen.
 */
export class LinuxGatewayEgress implements GatewayEgress {
  private egressIps: string[] = [];
  /** The config this instance applied last (undefined: none yet, or cleared): a rules-only change keeps the sets. */
  private applied: GatewayEgressConfig | undefined;
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
    const before = this.applied;
    if (before && sameIps(before.egressIps, config.egressIps)) {
      // Only the rules changed (a pod started or stopped matching a selector): swap the SNAT and fence rules in one
      // transaction and keep the sets, so every live egress IP stays live. Rebuilding the table would take the
      // fence down (nothing live) until the agent's next serve: a blip for every flow on every pod change.
      // The table went missing under us (flushed by hand): fall through and rebuild it.
      const swapped = await exec(['nft', '-f', '-'], this.o, this.ruleSwapScript(config), true);
      if (swapped.code === 0) {
        this.applied = { rules: [...config.rules], egressIps: [...config.egressIps] };
        await this.forgetMovedFlows(before.rules, config.rules);
        return;
      }
    }
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
    this.applied = { rules: [...config.rules], egressIps: [...config.egressIps] };
    // IPv4 egress IPs stay on the WAN device for as long as the agent runs, live or not: the fence (ARP in/out,
    // traffic to and from them) is what makes one live, so taking over costs one fence transaction and no `ip`.
    // Added after the fence exists, so they never answer ARP unfenced. (IPv6 addresses still come and go: adding
    // one is what makes the kernel send the unsolicited NA.)
    const v4 = this.egressIps.filter((ip) => !ip.includes(':'));
    if (v4.length) await exec(['ip', '-batch', '-'], this.o, `${v4.map((ip) => `addr replace ${ip}/32 dev ${this.o.wanDev}`).join('\n')}\n`);
    this.garp.prepare(v4);
    // A standby's first fence transaction is its takeover: the session must already be running by then.
    this.nft.warm();
    if (before) await this.forgetMovedFlows(before.rules, config.rules);
  }

  /**
   * Drops the conntrack entries of sources whose translation changed. NAT is decided on a flow's first packet and
   * kept in its conntrack entry: without this, a pod relabelled out of a policy went on leaving from the policy's
   * egress IP for as long as its flows lived (a UDP stream every 10 ms: for ever), and a pod relabelled in kept its
   * untranslated flows, which the fence then drops. A source whose rule did not change keeps its flows.
   */
  private async forgetMovedFlows(prev: readonly EgressRule[], next: readonly EgressRule[]): Promise<void> {
    const moved = movedSources(prev, next);
    if (moved.length === 0) return;
    await Promise.all(moved.map((src) => exec(['conntrack', '-D', ...conntrackSourceArgs(src)], this.o, undefined, true)));
  }

  private ruleSwapScript(config: GatewayEgressConfig): string {
    const { nat, fence } = this.ruleLines(config);
    const t = `inet ${this.table}`;
    return [
      `flush chain ${t} nat_post`,
      ...nat.map((r) => `add rule ${t} nat_post ${r}`),
      `flush chain ${t} fence_post`,
      ...[...this.eipFenceLines(), ...fence].map((r) => `add rule ${t} fence_post ${r}`),
      '',
    ].join('\n');
  }

  private eipFenceLines(): string[] {
    const wan = `oifname "${this.o.wanDev}"`;
    return [`${wan} ip saddr @eip4 ip saddr != @live4 drop`, `${wan} ip6 saddr @eip6 ip6 saddr != @live6 drop`];
  }

  private ruleLines(config: GatewayEgressConfig): { nat: string[]; fence: string[] } {
    const wan = `oifname "${this.o.wanDev}"`;
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
    return { nat, fence };
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
    const v4 = config.egressIps.filter((i) => !i.includes(':'));
    const v6 = config.egressIps.filter((i) => i.includes(':'));
    const { nat, fence } = this.ruleLines(config);
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
      ...[...this.eipFenceLines(), ...fence].map((s) => `    ${s}`),
      '  }',
      '  chain fence_pre { type filter hook prerouting priority raw; policy accept;',
      '    ip daddr @eip4 ip daddr != @live4 drop',
      '    ip6 daddr @eip6 ip6 daddr != @live6 icmpv6 type != { nd-neighbor-solicit, nd-neighbor-advert } drop',
      '  }',
      // An egress IP is never a TCP endpoint of its own. A segment for it that reaches input had no conntrack entry to
      // map it back to a pod (a flow whose state was not replicated before a takeover): answered by the local stack,
      // it would be a RST that kills the flow at the server. Dropped, the flow can still recover: the pod's next
      // segment is picked up mid-stream and SNATed again, to the same port unless that port is taken.
      '  chain eip_in { type filter hook input priority filter; policy accept;',
      '    ip daddr @eip4 meta l4proto tcp drop',
      '    ip6 daddr @eip6 meta l4proto tcp drop',
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
    this.applied = undefined;
  }
}

function sameIps(a: readonly string[], b: readonly string[]): boolean {
  return [...a].sort().join(',') === [...b].sort().join(',');
}

/** Sources whose translation (egress IP and destinations, over every rule naming them) differs between two rule sets. */
export function movedSources(prev: readonly EgressRule[], next: readonly EgressRule[]): string[] {
  const bySource = (rules: readonly EgressRule[]): Map<string, string> => {
    const m = new Map<string, string[]>();
    for (const r of rules) for (const s of r.sources) m.set(s, [...(m.get(s) ?? []), `${r.egressIp}>${[...r.destinations].sort().join(',')}`]);
    return new Map([...m].map(([k, v]) => [k, v.sort().join(';')]));
  };
  const a = bySource(prev);
  const b = bySource(next);
  return [...new Set([...a.keys(), ...b.keys()])].filter((s) => a.get(s) !== b.get(s)).sort();
}

/** `conntrack -D` arguments selecting the flows from one source address or subnet. */
export function conntrackSourceArgs(source: string): string[] {
  const [addr = source, len] = source.split('/');
  const v6 = addr.includes(':');
  const bits = v6 ? 128 : 32;
  const prefix = len === undefined ? bits : Number(len);
  const args = ['-f', v6 ? 'ipv6' : 'ipv4', '-s', addr];
  if (prefix === bits) return args;
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n);
  const text = v6
    ? (mask.toString(16).padStart(32, '0').match(/.{4}/g) ?? []).join(':')
    : [24n, 16n, 8n, 0n].map((sh) => String((mask >> sh) & 255n)).join('.');
  return [...args, '--mask-src', text];
}

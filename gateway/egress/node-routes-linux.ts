import type { NodeRoutes, NodeRoutesIntent } from './datapath.js';
import { IpBatchSession } from './ip-session.js';
import { exec, type LinuxDatapathOptions } from './linux-exec.js';

/** Route protocol that marks our routes in the kernel (`ip route … proto 94`), so a restarted agent finds them. */
export const NODE_ROUTES_PROTO = 94;

/** `10.1.2.3` → `10.1.2.3/32`: the kernel prints host routes without a prefix length. */
const cidrOf = (dst: string): string => (dst.includes('/') ? dst : `${dst}/${dst.includes(':') ? 128 : 32}`);

/**
 * Remote-cluster routes. active-standby: `ip route replace CIDR via NH`. active-active: one nexthop object per
 * gateway and a *resilient* group, so removing a dead gateway only remaps the flows that used it.
 *
 * Which routes are ours is read from the kernel (routes with our protocol) before the first call, not kept only in
 * memory: an agent restarted after its CIDRs changed must remove the routes its previous run installed.
 */
export class LinuxNodeRoutes implements NodeRoutes {
  private readonly nhBase: number;
  private readonly proto: number;
  private installed = new Set<string>();
  private loaded: Promise<void> | undefined;
  /** Route moves are lines to this running `ip -batch` (no fork per move); started on the first `ensure`. */
  private readonly ip: IpBatchSession;

  constructor(private readonly o: LinuxDatapathOptions & { dev?: string; nexthopIdBase?: number; routeProto?: number }) {
    this.nhBase = o.nexthopIdBase ?? 5900;
    this.proto = o.routeProto ?? NODE_ROUTES_PROTO;
    this.ip = new IpBatchSession({ netns: o.netns });
  }

  /** Our routes as the kernel has them (once per instance; afterwards `installed` follows our own writes). */
  private load(): Promise<void> {
    this.loaded ??= (async () => {
      for (const family of ['-4', '-6']) {
        const r = await exec(['ip', '-j', family, 'route', 'show', 'proto', String(this.proto)], this.o, undefined, true);
        if (r.code !== 0) continue;
        for (const rt of JSON.parse(r.stdout || '[]') as { dst: string }[]) this.installed.add(cidrOf(rt.dst));
      }
    })().catch((e: unknown) => {
      this.loaded = undefined; // the next call reads again
      throw e;
    });
    return this.loaded;
  }

  async ensure(intent: NodeRoutesIntent): Promise<void> {
    await this.load();
    const lines: string[] = [];
    const want = new Set(intent.remoteCidrs.map(cidrOf));
    const dev = this.o.dev ? ['dev', this.o.dev] : [];
    const proto = ['proto', String(this.proto)];
    if (intent.nexthops.length === 0) {
      for (const c of want) lines.push(`route del ${c}`);
    } else if (intent.mode === 'active-standby' || intent.nexthops.length === 1) {
      for (const c of want) lines.push(['route replace', c, 'via', intent.nexthops[0], ...dev, ...proto].join(' '));
    } else {
      intent.nexthops.forEach((nh, i) => lines.push(['nexthop replace id', this.nhBase + 1 + i, 'via', nh, ...dev].join(' ')));
      const group = intent.nexthops.map((_, i) => this.nhBase + 1 + i).join('/');
      lines.push(`nexthop replace id ${this.nhBase} group ${group} type resilient buckets 64 idle_timer 0`);
      for (const c of want) lines.push([`route replace ${c} nhid ${this.nhBase}`, ...proto].join(' '));
    }
    for (const c of this.installed) if (!want.has(c)) lines.push(`route del ${c}`);
    // One write to the running `ip -force -batch` for all routes (failover speed); a missing route on delete is
    // not fatal.
    await this.ip.run(lines, { allowFailure: true });
    this.installed = intent.nexthops.length === 0 ? new Set() : want;
  }

  async current(): Promise<Map<string, string[]>> {
    await this.load();
    const out = new Map<string, string[]>();
    const r = await exec(['ip', '-j', 'route', 'show'], this.o);
    const routes = JSON.parse(r.stdout || '[]') as { dst: string; gateway?: string; nhid?: number }[];
    let groups: Map<number, string[]> | undefined;
    for (const rt of routes) {
      if (!this.installed.has(cidrOf(rt.dst))) continue;
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
    await this.load();
    const lines = [...this.installed].map((c) => `route del ${c}`);
    lines.push(`nexthop del id ${this.nhBase}`);
    for (let i = 1; i <= 16; i++) lines.push(`nexthop del id ${this.nhBase + i}`);
    await exec(['ip', '-force', '-batch', '-'], this.o, `${lines.join('\n')}\n`, true);
    this.installed.clear();
    this.ip.close();
  }
}

import type { NodeRoutes, NodeRoutesIntent } from './datapath.js';
import { exec, type LinuxDatapathOptions } from './linux-exec.js';

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

import type { ChildProcess } from 'node:child_process';
import type { GatewayEvent } from './analysis.js';
import { FenceSetReader, gatewayFenceSet } from './fence-reader.js';
import { parseRouteEvents } from './ip-monitor.js';
import type { EipSample, FailoverBackend } from '../model/failover-backend.js';

/**
 * Watches the gateways during one trial: an `ip monitor route` on the client node (exact times of route moves)
 * and a sampler of the egress IPs each gateway serves (every `sampleMs`). Both read kernel state, so what an agent
 * believes cannot hide a conflict.
 */
export interface GatewayWatch {
  initialEips: { gateway: string; ip: string }[];
  startedAt: number;
  /** Stops watching and returns what was seen (route events plus egress-IP transitions). */
  stop(): Promise<GatewayEvent[]>;
  /** Marks a gateway as gone (node death): its egress IPs vanish with its namespace. */
  markGone(gateway: string, at: number): void;
}

/** A look at every gateway's fence; each sample carries when its look began (`sampledAt`) and ended (`seenBy`). */
type Sample = EipSample & { seenBy: number };

export async function watchGateways(b: FailoverBackend, sampleMs = 10): Promise<GatewayWatch> {
  // One long-lived nft per gateway namespace: looks of ~1 ms, timed to ~1 ms (see fence-reader.ts).
  const readers = new Map(b.gateways.map((g) => [g, new FenceSetReader(b.lab.netns(g), gatewayFenceSet(b.lab.runId))]));
  /** Live elements per gateway; `unknown` lists the gateways that could not be read this time. */
  const lookAll = async (): Promise<{ samples: Sample[]; unknown: Set<string> } | null> => {
    const looks = await Promise.all([...readers].map(async ([g, r]) => ({ g, look: await r.look() })));
    if (looks.every((l) => l.look === null)) return null;
    return {
      samples: looks.flatMap(({ g, look }) => (look ? look.elements.map((e) => ({ gateway: g, sampledAt: look.before, seenBy: look.after, ...e })) : [])),
      unknown: new Set(looks.filter((l) => l.look === null).map((l) => l.g)),
    };
  };
  const startedAt = Date.now();
  const first = await lookAll();
  const initialEips = first && first.unknown.size === 0 ? first.samples : (await b.eipHolders()).map((e) => ({ ...e, seenBy: e.sampledAt ?? startedAt }));
  const active = await b.activeGateway();
  const events: GatewayEvent[] = [];
  if (active) events.push({ at: startedAt, kind: 'route', cluster: b.cluster, gateway: active });

  let monOut = '';
  const mon: ChildProcess = b.lab.spawn(b.clientNode, ['ip', '-ts', 'monitor', 'route']);
  mon.stdout?.on('data', (d: Buffer) => (monOut += d.toString()));
  mon.stderr?.resume();

  const held = new Set(initialEips.map((e) => `${e.gateway} ${e.ip}`));
  // Sampling bounds what happened between two looks at a gateway: an element first seen was added no later than
  // the END of the look that saw it (that bound is used: an overlap is reported only when it certainly happened);
  // one that vanished stopped being live when its remaining timeout said, counted from the START of the look that
  // read it (the earliest it can have been), and not before it was first seen.
  const addedAt = new Map<string, number>();
  const expiresAt = new Map<string, number>();
  for (const e of initialEips) if (e.expiresMs !== undefined) expiresAt.set(`${e.gateway} ${e.ip}`, (e.sampledAt ?? startedAt) + e.expiresMs);
  const gone = new Set<string>();
  let stopping = false;
  const sampler = (async () => {
    while (!stopping) {
      const t0 = Date.now();
      const seen = await lookAll().catch(() => null);
      // Not readable is unknown, not empty: keep what that gateway was last seen serving (a namespace that is gone
      // is handled by markGone).
      const keep = (g: string): boolean => !seen || seen.unknown.has(g);
      const now: Sample[] = [
        ...(seen?.samples ?? []),
        ...[...held].map((k) => ({ gateway: k.split(' ')[0]!, ip: k.split(' ')[1]!, seenBy: t0 })).filter((e) => keep(e.gateway)),
      ].filter((e) => !gone.has(e.gateway));
      const keys = new Map(now.map((e) => [`${e.gateway} ${e.ip}`, e]));
      for (const [k, e] of keys) {
        if (held.has(k)) continue;
        const at = e.seenBy;
        addedAt.set(k, at);
        events.push({ at, kind: 'eip-add', gateway: e.gateway, ip: e.ip });
      }
      for (const k of held) {
        if (keys.has(k)) continue;
        const at = Math.max(addedAt.get(k) ?? 0, Math.min(t0, expiresAt.get(k) ?? t0));
        events.push({ at, kind: 'eip-del', gateway: k.split(' ')[0]!, ip: k.split(' ')[1]! });
      }
      for (const [k, e] of keys) if (e.expiresMs !== undefined) expiresAt.set(k, (e.sampledAt ?? t0) + e.expiresMs);
      held.clear();
      for (const k of keys.keys()) held.add(k);
      await new Promise((r) => setTimeout(r, Math.max(0, sampleMs - (Date.now() - t0))));
    }
  })();

  return {
    initialEips,
    startedAt,
    markGone: (gateway, at) => {
      gone.add(gateway);
      for (const k of [...held]) {
        if (k.startsWith(`${gateway} `)) {
          held.delete(k);
          events.push({ at, kind: 'eip-del', gateway, ip: k.split(' ')[1]! });
        }
      }
    },
    stop: async () => {
      stopping = true;
      await sampler;
      for (const r of readers.values()) r.close();
      mon.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 30));
      events.push(...parseRouteEvents(monOut, b.cluster, b.steeringRoute, b.nexthops));
      // A steering agent may move traffic without the monitored route changing (e.g. nexthop objects): trust the
      // kernel's answer at the end of the trial over silence.
      const final = await b.activeGateway().catch(() => null);
      const lastRoute = [...events].filter((e) => e.kind === 'route').sort((a, c) => a.at - c.at).pop();
      if (final && lastRoute && lastRoute.kind === 'route' && lastRoute.gateway !== final) {
        events.push({ at: Date.now(), kind: 'route', cluster: b.cluster, gateway: final });
      }
      return events;
    },
  };
}

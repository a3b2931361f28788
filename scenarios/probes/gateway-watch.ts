import type { ChildProcess } from 'node:child_process';
import type { GatewayEvent } from './analysis.js';
import { FenceSetReader, gatewayFenceSet } from '../../gateway/index.js';
import { parseRouteEvents } from './ip-monitor.js';
import type { FailoverBackend } from '../model/failover-backend.js';
import { fenceEvents, type FenceLookRecord } from './fence-conflicts.js';

/**
 * Watches the gateways during one trial: an `ip monitor route` on the client node (exact times of route moves)
 * and a sampler of every gateway's fence set (every `sampleMs`). Both read kernel state, so what an agent
 * believes cannot hide a conflict.
 */
export interface GatewayWatch {
  initialEips: { gateway: string; ip: string }[];
  startedAt: number;
  /** Stops watching and returns what was seen: route events plus egress-IP spans, and every raw fence look. */
  stop(): Promise<{ events: GatewayEvent[]; looks: FenceLookRecord[] }>;
  /** Marks a gateway as gone (node death): its egress IPs vanish with its namespace. */
  markGone(gateway: string, at: number): void;
  /**
   * The gateway the client node routes through now, from the watch's own route monitor (undefined: nothing known).
   * No fork: the runner asks at the fault's moment, and forking `ip route get` there once took 1.7 s on a quiet host
   * (a broker-restart trial right after an agent restart: the agent starting at realtime priority holds the CPUs
   * from the normal-priority `ip netns exec`), and the fault came too late in the trial to be measured.
   */
  activeNow(): string | undefined;
}

export async function watchGateways(b: FailoverBackend, sampleMs = 10): Promise<GatewayWatch> {
  // One long-lived nft per gateway namespace: looks of ~1 ms, timed to ~1 ms (see gateway/egress/fence-reader.ts).
  const readers = new Map(b.gateways.map((g) => [g, new FenceSetReader(b.lab.netns(g), gatewayFenceSet(b.lab.runId))]));
  // Every look is kept as it was read: fence-conflicts.ts decides what they prove, and a conflict's evidence is
  // these records, not a summary of them.
  const looks: FenceLookRecord[] = [];
  const gone = new Set<string>();
  const lookAll = async (): Promise<FenceLookRecord[]> => {
    const round = await Promise.all(
      [...readers].filter(([g]) => !gone.has(g)).map(async ([g, r]) => {
        const before = Date.now();
        const look = await r.look().catch(() => null);
        return look ? { gateway: g, before: look.before, after: look.after, elements: look.elements } : { gateway: g, before, after: Date.now(), elements: null };
      }),
    );
    looks.push(...round);
    return round;
  };
  const startedAt = Date.now();
  const first = await lookAll();
  const initialEips = first.flatMap((l) => (l.elements ?? []).map((e) => ({ gateway: l.gateway, ip: e.ip })));
  const active = await b.activeGateway();
  const events: GatewayEvent[] = [];
  if (active) events.push({ at: startedAt, kind: 'route', cluster: b.cluster, gateway: active });

  let monOut = '';
  const mon: ChildProcess = b.lab.spawn(b.clientNode, ['ip', '-ts', 'monitor', 'route']);
  mon.stdout?.on('data', (d: Buffer) => (monOut += d.toString()));
  mon.stderr?.resume();

  let stopping = false;
  const sampler = (async () => {
    while (!stopping) {
      const t0 = Date.now();
      await lookAll();
      await new Promise((r) => setTimeout(r, Math.max(0, sampleMs - (Date.now() - t0))));
    }
  })();

  return {
    initialEips,
    startedAt,
    activeNow: () => {
      const routes = [...events, ...parseRouteEvents(monOut, b.cluster, b.steeringRoute, b.nexthops)].filter((e) => e.kind === 'route');
      const last = routes.sort((a, c) => a.at - c.at).pop();
      return last?.kind === 'route' ? last.gateway : undefined;
    },
    markGone: (gateway, at) => {
      // Its fence went with its namespace: record that as a look that found nothing, and look no more.
      gone.add(gateway);
      looks.push({ gateway, before: at, after: at, elements: [] });
    },
    stop: async () => {
      stopping = true;
      await sampler;
      for (const r of readers.values()) r.close();
      events.push(...fenceEvents(looks));
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
      return { events, looks };
    },
  };
}

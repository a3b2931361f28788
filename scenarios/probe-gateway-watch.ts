import type { ChildProcess } from 'node:child_process';
import type { GatewayEvent } from './probe-analysis.js';
import { parseRouteEvents } from './probe-ip-monitor.js';
import type { EipSample, FailoverBackend } from './runner-backend.js';

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

export async function watchGateways(b: FailoverBackend, sampleMs = 20): Promise<GatewayWatch> {
  const startedAt = Date.now();
  const initialEips = await b.eipHolders();
  const active = await b.activeGateway();
  const events: GatewayEvent[] = [];
  if (active) events.push({ at: startedAt, kind: 'route', cluster: b.cluster, gateway: active });

  let monOut = '';
  const mon: ChildProcess = b.lab.spawn(b.clientNode, ['ip', '-ts', 'monitor', 'route']);
  mon.stdout?.on('data', (d: Buffer) => (monOut += d.toString()));
  mon.stderr?.resume();

  const held = new Set(initialEips.map((e) => `${e.gateway} ${e.ip}`));
  // Sampling bounds what happened between two looks at a gateway: an element first seen was added no later than
  // the look that saw it; one that vanished stopped being live no later than its remaining timeout said (and not
  // before it was first seen).
  const addedAt = new Map<string, number>();
  const expiresAt = new Map<string, number>();
  for (const e of initialEips) if (e.expiresMs !== undefined) expiresAt.set(`${e.gateway} ${e.ip}`, (e.sampledAt ?? startedAt) + e.expiresMs);
  const gone = new Set<string>();
  let stopping = false;
  const sampler = (async () => {
    while (!stopping) {
      const t0 = Date.now();
      let now: EipSample[];
      try {
        now = (await b.eipHolders()).filter((e) => !gone.has(e.gateway));
      } catch {
        now = [...held].map((k) => ({ gateway: k.split(' ')[0]!, ip: k.split(' ')[1]! }));
      }
      const keys = new Map(now.map((e) => [`${e.gateway} ${e.ip}`, e]));
      for (const [k, e] of keys) {
        if (held.has(k)) continue;
        const at = e.sampledAt ?? t0;
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

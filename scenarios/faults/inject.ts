import { StraitError } from '../../api/index.js';
import { deleteNetns, openNetnsRef, pidsInNetnsRef, run, withNetns } from '../../host/index.js';
import type { FailoverBackend } from '../model/failover-backend.js';
import type { FaultKind } from '../model/scenario.js';
import { atRunnerPriority, RUNNER_RT_PRIORITY } from '../runner/runner-priority.js';
import { armCommand, type ArmedCommand } from './armed-command.js';

/**
 * Fault injectors. Each hits one gateway of the backend's cluster and returns how to undo it, so the runner can
 * put the lab back between trials. Every fault acts on something this run created (its namespaces, its pids).
 */
export interface InjectedFault {
  kind: FaultKind;
  gateway: string;
  /** Epoch ms at which the fault took effect (just after the action completed). */
  at: number;
  /** The gateway's namespace is gone: egress IPs on it vanished at `at`. */
  nodeGone: boolean;
  /** Undo the fault (restart, unfreeze, relink, unpartition, rebuild). */
  restore(): Promise<void>;
  /** The lease store a lease-store fault hit. */
  store?: string;
  /** Epoch ms by which the fault's command had returned (armed faults: it took effect between `at` and this). */
  appliedBy?: number;
}

/** How an armed fault command enters a gateway: its namespace, at the runner's realtime priority. */
function faultPrefix(lab: FailoverBackend['lab'], gateway: string): string[] {
  return withNetns(['chrt', '--rr', String(RUNNER_RT_PRIORITY)], lab.netns(gateway));
}

function signal(pid: number | null, sig: NodeJS.Signals): void {
  if (pid === null) return;
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** nftables table that partitions a gateway from its cluster: everything in or out of the LAN device is dropped. */
export function partitionRuleset(table: string, dev: string): string {
  return [
    `table inet ${table} {`,
    `  chain part_in { type filter hook prerouting priority raw - 10; policy accept; iifname "${dev}" drop; }`,
    `  chain part_out { type filter hook output priority raw - 10; policy accept; oifname "${dev}" drop; }`,
    `  chain part_fwd { type filter hook forward priority filter - 10; policy accept; oifname "${dev}" drop; }`,
    '}',
    '',
  ].join('\n');
}

/**
 * nftables table that cuts a gateway off from one lease store: its TCP port, both ways (the lab runs every store on
 * the underlay router, one port each, so the port names the store).
 */
export function leaseStoreCutRuleset(table: string, port: number): string {
  return [
    `table inet ${table} {`,
    `  chain cut_out { type filter hook output priority raw - 10; policy accept; tcp dport ${port} drop; }`,
    `  chain cut_in { type filter hook prerouting priority raw - 10; policy accept; tcp sport ${port} drop; }`,
    '}',
    '',
  ].join('\n');
}

/** Which lease store the next lease-store fault hits: each in turn, so the trials of a run cover all of them. */
const nextStore = new WeakMap<FailoverBackend, number>();

function pickLeaseStore(b: FailoverBackend): { i: number; name: string; port: number } {
  const stores = b.leaseStores ?? [];
  if (stores.length === 0 || !b.killLeaseStore || !b.restartLeaseStore) {
    throw new StraitError('SCENARIO_INVALID', 'this lab has no lease stores to fault');
  }
  const n = nextStore.get(b) ?? 0;
  nextStore.set(b, n + 1);
  const i = n % stores.length;
  const s = stores[i]!;
  return { i, name: s.name, port: s.port };
}

/** Fault commands started ahead of a trial (see armFault); `take` hands one over, `abortAll` ends the rest. */
export interface ArmedFaults {
  take(gateway: string): ArmedCommand | undefined;
  abortAll(): void;
}

/** The program an armed fault of this kind waits in (link-down, partition), or undefined for the others. */
function armedArgv(kind: FaultKind): string[] | undefined {
  if (kind === 'link-down') return ['ip', '-batch', '-'];
  if (kind === 'partition') return ['nft', '-f', '-'];
  return undefined;
}

/**
 * Arms the fault's command in every gateway it may hit, before the trial's traffic starts. Arming is a fork and an
 * exec into the namespace at normal priority: armed after the `beforeFaultMs` sleep (as it was), under `--stress
 * cpu=8` it once took 1.8 s, and a link-down trial's fault came 2,836 ms into its 3.3 s of traffic ("not
 * measured", #12, fast profile, 2026-12-06). Every gateway, because the one to hit is known only at the fault.
 */
export async function armFault(b: FailoverBackend, kind: FaultKind, gateways: readonly string[]): Promise<ArmedFaults> {
  const argv = armedArgv(kind);
  const cmds = new Map<string, ArmedCommand>();
  const abortAll = (): void => {
    for (const c of cmds.values()) c.abort();
    cmds.clear();
  };
  if (argv) {
    const armed = await Promise.allSettled(gateways.map(async (g) => cmds.set(g, await armCommand(faultPrefix(b.lab, g), argv))));
    const failed = armed.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      abortAll();
      throw failed.reason;
    }
  }
  return {
    take(gateway) {
      const c = cmds.get(gateway);
      cmds.delete(gateway);
      return c;
    },
    abortAll,
  };
}

export async function injectFault(b: FailoverBackend, kind: FaultKind, gateway: string, armed?: ArmedFaults): Promise<InjectedFault> {
  const lab = b.lab;
  const dev = b.gatewayLanDev;
  const table = `st_${lab.runId}_partition`;
  const done = (restore: () => Promise<void>, nodeGone = false, at = Date.now()): InjectedFault => ({ kind, gateway, at, nodeGone, restore });
  switch (kind) {
    case 'gateway-sigkill': {
      signal(b.agentPid(gateway), 'SIGKILL');
      return done(() => b.restartAgent(gateway));
    }
    case 'gateway-sigstop': {
      const pid = b.agentPid(gateway);
      signal(pid, 'SIGSTOP');
      return done(async () => signal(pid, 'SIGCONT'));
    }
    case 'link-down': {
      // Armed ahead (armed-command.ts): the exec into the namespace, at normal priority up to its last program,
      // put the link down 48-174 ms after a stamp taken before it (and a stamp taken after it put the failover
      // "before the fault"). Now the stamp is the write of the one line that takes the link down.
      const cmd = armed?.take(gateway) ?? (await armCommand(faultPrefix(lab, gateway), armedArgv(kind)!));
      const { at, doneAt } = await cmd.fire(`link set dev ${dev} down\n`);
      return {
        ...done(async () => {
          await lab.exec(gateway, ['ip', 'link', 'set', dev, 'up']);
          // Link down flushed the routes through the device; put the topology's routes back.
          const host = lab.topology.hosts.find((h) => h.name === gateway);
          for (const r of host?.routes ?? []) {
            const argv = ['ip', 'route', 'replace', r.dst, ...(r.via ? ['via', r.via] : []), ...(r.dev ? ['dev', r.dev] : [])];
            await lab.exec(gateway, argv, { allowFailure: true });
          }
        }, false, at),
        appliedBy: doneAt,
      };
    }
    case 'node-death': {
      const ns = lab.netns(gateway);
      // Held open from the start: after the namespace is deleted by name, this reference still finds what runs
      // in it and reaches its links, and it decides when the kernel tears it down (see below).
      const keep = openNetnsRef(ns);
      const pids = keep ? pidsInNetnsRef(keep) : [];
      // The node dies when its processes do: that is the fault's moment, not the end of the cleanup after it.
      const at = Date.now();
      // The namespace only dies with its last process: kill everything in it (all of it belongs to this run).
      for (const pid of pids) signal(pid, 'SIGKILL');
      await deleteNetns(ns);
      if (!keep) return done(() => b.rebuildGateway(gateway), true);
      // Deleted by name, nothing enters it by name any more. What entered between the listing and the deletion
      // (the scenario's own fence reader restarts its `nft` in the namespace on its next look; an `ip netns exec`
      // that opened the namespace file before the deletion can even enter it later) would keep a dead node running
      // and its namespace alive for good: kill that now, and again when the fault is undone.
      const sweep = async (): Promise<void> => {
        for (let i = 0; i < 5; i++) {
          const late = pidsInNetnsRef(keep);
          if (late.length === 0) break;
          for (const pid of late) signal(pid, 'SIGKILL');
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      await sweep();
      // A dead node falls silent at once: every link of it goes dark.
      const links = JSON.parse((await run([...keep.enter, 'ip', '-j', 'link', 'show'], { allowFailure: true })).stdout || '[]') as { ifname: string }[];
      const down = links.filter((l) => l.ifname !== 'lo').map((l) => `link set dev ${l.ifname} down`);
      if (down.length) await run([...keep.enter, ...atRunnerPriority(['ip', '-force', '-batch', '-'])], { input: `${down.join('\n')}\n`, allowFailure: true });
      // Torn down by the kernel only when the trial is over. Tearing a namespace down holds the (one, shared)
      // kernel's rtnl lock for ~60 ms, and every other "node" of the lab waits for it to change a route: measured
      // in the fast profile, node-death trials in which the client node's route move took 61-66 ms instead of ~10.
      // A real node death stalls no other node's kernel. The open reference keeps the kernel object (links down,
      // nothing running) until restore drops it.
      // (Once this timer has closed it, a later sweep finds nothing by it; the rebuild still copes.)
      const release = setTimeout(() => keep.close(), 10_000);
      release.unref();
      const restore = async (): Promise<void> => {
        clearTimeout(release);
        await sweep();
        keep.close();
        await b.rebuildGateway(gateway);
      };
      return { kind, gateway, at, nodeGone: true, restore };
    }
    case 'partition': {
      // Armed ahead as link-down: `nft -f -` reads the ruleset to its end and commits it in one transaction.
      const cmd = armed?.take(gateway) ?? (await armCommand(faultPrefix(lab, gateway), armedArgv(kind)!));
      const { at, doneAt } = await cmd.fire(partitionRuleset(table, dev));
      return {
        ...done(async () => {
          await lab.exec(gateway, ['nft', 'delete', 'table', 'inet', table], { allowFailure: true });
        }, false, at),
        appliedBy: doneAt,
      };
    }
    case 'broker-restart': {
      // The broker goes away exactly while the gateway fails over: kill the agent and, at once, SIGKILL the broker
      // process and its Redis (the lease store) and start both again (the backend's restartBroker).
      signal(b.agentPid(gateway), 'SIGKILL');
      const at = Date.now();
      await b.restartBroker();
      return { kind, gateway, at, nodeGone: false, restore: () => b.restartAgent(gateway) };
    }
    case 'lease-store-kill': {
      // Steady state: the active gateway keeps renewing through the other stores; the killed one comes back
      // empty when the fault is undone (guarded, then joined by the next renewals).
      const st = pickLeaseStore(b);
      await b.killLeaseStore!(st.i);
      return { ...done(() => b.restartLeaseStore!(st.i)), store: st.name };
    }
    case 'lease-store-partition': {
      const st = pickLeaseStore(b);
      const cut = `st_${lab.runId}_lscut`;
      await lab.exec(gateway, atRunnerPriority(['nft', '-f', '-']), { input: leaseStoreCutRuleset(cut, st.port) });
      return {
        ...done(async () => {
          await lab.exec(gateway, ['nft', 'delete', 'table', 'inet', cut], { allowFailure: true });
        }),
        store: st.name,
      };
    }
    case 'lease-store-kill-during-failover': {
      // The active gateway dies and a lease store with it: the standby must acquire through the other stores.
      const st = pickLeaseStore(b);
      signal(b.agentPid(gateway), 'SIGKILL');
      const at = Date.now();
      await b.killLeaseStore!(st.i);
      return {
        kind, gateway, at, nodeGone: false, store: st.name,
        restore: async () => {
          await b.restartLeaseStore!(st.i);
          await b.restartAgent(gateway);
        },
      };
    }
  }
}

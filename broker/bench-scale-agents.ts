// The simulated member clusters of bench:scale: a group of light agents (one BrokerClient per cluster) driven by
// messages, run in a child process of the bench (forked with `--child`) or in the bench's own process (`--procs 0`,
// and the test). Each agent joins, leases a block for each of its 20 nodes and its addresses, heartbeats its
// complete node and owner sets, and holds one watch, resumed from its last resourceVersion when it ends, as an
// agent does.
import { EventEmitter, setMaxListeners } from 'node:events';
import { BrokerClient, MAX_BATCH_LEASES, type WatchEvent } from '../api/index.js';

export const NODES = 20;

export const nodeNames = (): string[] => Array.from({ length: NODES }, (_, j) => `node-${j}`);
export const ownerNames = (c: number, n: number): string[] => Array.from({ length: n }, (_, i) => `ns-${c % 97}/pod-${c}-${i}`);
export const clusterId = (c: number): string => `m${c}`;
/** Wall-clock ms with sub-ms precision, comparable between processes of one host. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

export async function inPool<T>(items: readonly T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export type ToAgents =
  | { op: 'join'; url: string; joinToken: string; clusters: number[] }
  | { op: 'lease'; perCluster: number }
  | { op: 'heartbeat' }
  | { op: 'watch'; since: string }
  | { op: 'stop' };
export type FromAgents =
  | { op: 'joined'; lat: number[] }
  | { op: 'leased'; leases: number; lat: number[] }
  | { op: 'heartbeated'; lat: number[] }
  | { op: 'watching' }
  | { op: 'seen'; rev: string; at: number[] }
  | { op: 'stopped'; watchErrors: number; rewatches: number; lines: number };

/** One group of agents; `reply` gets the answer to each message, and a `seen` once all its watchers saw a pool event. */
export class AgentGroup {
  private readonly agents = new Map<number, BrokerClient>();
  private perCluster = 0;
  private readonly ac = new AbortController();
  private readonly watches: Promise<void>[] = [];
  private watchErrors = 0;
  private rewatches = 0;
  private lines = 0;
  /** rev of an IPPool event → receive times at the watchers of this group */
  private readonly seen = new Map<string, number[]>();

  constructor(private readonly reply: (m: FromAgents) => void) {
    setMaxListeners(100_000, this.ac.signal);
  }

  async handle(m: ToAgents): Promise<void> {
    switch (m.op) {
      case 'join': {
        const lat: number[] = [];
        const joiner = new BrokerClient({ baseUrl: m.url, token: m.joinToken });
        await inPool(m.clusters, 4, async (c) => {
          const s = performance.now();
          const j = await joiner.joinCluster({ id: clusterId(c), podCIDRs: [`172.${16 + (c >> 8)}.${c & 255}.0/24`] });
          lat.push(performance.now() - s);
          this.agents.set(c, new BrokerClient({ baseUrl: m.url, token: j.credentials.token }));
        });
        joiner.close();
        return this.reply({ op: 'joined', lat });
      }
      case 'lease': {
        this.perCluster = m.perCluster;
        const lat: number[] = [];
        let leases = 0;
        await inPool([...this.agents.keys()], 16, async (c) => {
          const a = this.agents.get(c)!;
          let s = performance.now();
          // (`leases += await …` would add to the value read before the await: lost updates across the 16 lanes)
          const blocks = await a.leaseBlocks('nodes', { cluster: clusterId(c), nodes: nodeNames() });
          leases += blocks.items.length;
          lat.push(performance.now() - s);
          const owners = ownerNames(c, this.perCluster);
          for (let i = 0; i < owners.length; i += MAX_BATCH_LEASES) {
            s = performance.now();
            const got = await a.leaseAddresses('addrs', { owners: owners.slice(i, i + MAX_BATCH_LEASES) });
            leases += got.items.length;
            lat.push(performance.now() - s);
          }
        });
        return this.reply({ op: 'leased', leases, lat });
      }
      case 'heartbeat': {
        const lat: number[] = [];
        await inPool([...this.agents.keys()], 8, async (c) => {
          const s = performance.now();
          await this.agents.get(c)!.heartbeat(clusterId(c), { nodes: nodeNames(), addressOwners: ownerNames(c, this.perCluster) });
          lat.push(performance.now() - s);
        });
        return this.reply({ op: 'heartbeated', lat });
      }
      case 'watch': {
        const n = this.agents.size;
        const onEvent = (e: WatchEvent): void => {
          this.lines++;
          if (e.kind !== 'IPPool') return;
          const at = wallMs();
          const list = this.seen.get(e.resourceVersion) ?? [];
          list.push(at);
          this.seen.set(e.resourceVersion, list);
          if (list.length === n) {
            this.seen.delete(e.resourceVersion);
            this.reply({ op: 'seen', rev: e.resourceVersion, at: list });
          }
        };
        for (const a of this.agents.values()) this.watches.push(this.follow(a, m.since, onEvent));
        return this.reply({ op: 'watching' });
      }
      case 'stop': {
        this.ac.abort();
        await Promise.all(this.watches);
        for (const a of this.agents.values()) a.close();
        return this.reply({ op: 'stopped', watchErrors: this.watchErrors, rewatches: this.rewatches, lines: this.lines });
      }
    }
  }

  /** One agent's watch, as an agent keeps it: resumed from the last resourceVersion seen whenever it ends. */
  private async follow(a: BrokerClient, since: string, onEvent: (e: WatchEvent) => void): Promise<void> {
    let last = since;
    const signal = this.ac.signal;
    for (let first = true; !signal.aborted; first = false) {
      if (!first) this.rewatches++;
      try {
        await a.watch(
          last,
          (e) => {
            last = e.resourceVersion;
            onEvent(e);
          },
          signal,
        );
      } catch {
        this.watchErrors++;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}

/** A group in this process behind the same message face as a forked child (`send`, 'message' events). */
export class LocalAgents extends EventEmitter {
  private readonly group = new AgentGroup((m) => setImmediate(() => this.emit('message', m)));
  exitCode: number | null = null;

  send(m: ToAgents): boolean {
    this.group.handle(m).catch((err: Error) => this.emit('error', err));
    return true;
  }
}

/** The body of a forked agent process (`bench-scale.js --child`). */
export function runAgentChild(): void {
  const group = new AgentGroup((m) => void process.send!(m));
  process.on('message', (m: ToAgents) => {
    group
      .handle(m)
      .then(() => {
        if (m.op === 'stop') process.disconnect();
      })
      .catch((err: Error) => {
        process.stderr.write(`bench-scale agents: ${err.stack ?? err.message}\n`);
        process.exit(1);
      });
  });
}

import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { BrokerClient, StraitError } from '../../api/index.js';
import { straitMainPath } from '../../gateway/index.js';
import { isAlive, startDaemon, stopPid } from '../../host/index.js';
import type { Lab } from '../lab/lab.js';
import { waitUntil } from './wait-until.js';

/** The broker's Redis. */
const BROKER_REDIS_PORT = 6379;
const BROKER_PORT = 8443;

/** What the broker knows about the gateways: one line for the demo. */
export interface BrokerView {
  clusters: number;
  gateways: { cluster: string; name: string; health: string; priority: number; updatedAt: string }[];
  /** When the broker was asked (epoch ms), to compare with `updatedAt`. */
  at: number;
}

/**
 * A Redis on the lab's underlay router: append-only, so the broker's state (clusters, tokens, gateways) and the
 * leases survive a restart. `rtPriority` runs it SCHED_RR (a store on the failover path, like the agents).
 */
export async function startLabRedis(lab: Lab, host: string, dir: string, o: { port: number; name: string; fsync: 'always' | 'everysec'; rtPriority?: number; persist?: boolean }): Promise<number> {
  mkdirSync(join(dir, o.name), { recursive: true });
  // persist: false (a quorum lease store): nothing on disk, so every restart comes back empty.
  const aof = o.persist === false ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', o.fsync];
  const d = startDaemon(
    [...(o.rtPriority ? ['chrt', '--rr', String(o.rtPriority)] : []), 'redis-server', '--port', String(o.port), '--bind', '0.0.0.0', '--protected-mode', 'no', '--save', '', ...aof, '--dir', join(dir, o.name)],
    { netns: lab.netns(host), logFile: join(dir, `${o.name}.log`) },
  );
  lab.recordDaemon({ pid: d.pid, name: o.name, host });
  await waitUntil(`${o.name} (redis-server)`, 15_000, async () => (await lab.exec(host, ['redis-cli', '-p', String(o.port), 'ping'], { allowFailure: true })).stdout.includes('PONG'));
  return d.pid;
}

/**
 * `strait broker` and its Redis on the lab's underlay router, where each cluster reaches it at its own router
 * address. This process talks to it with the real BrokerClient: the broker listens only inside the router's
 * namespace, so a socat there bridges a Unix socket in the run directory (the file system is shared across
 * namespaces) to the broker's loopback port, and a loopback TCP listener here hands each connection to that socket.
 */
export class LabBroker {
  readonly adminToken = randomBytes(24).toString('hex');
  private redisPid: number | null = null;
  private brokerPid: number | null = null;
  private relay: Server | null = null;
  private admin: BrokerClient | null = null;

  constructor(
    private readonly lab: Lab,
    private readonly host: string,
    private readonly dir: string,
  ) {}

  /** The URL a cluster's agents use: the router's address on that cluster's network. */
  static urlFor(c: { routerIp?: string }): string {
    return `http://${c.routerIp ?? '127.0.0.1'}:${BROKER_PORT}`;
  }

  get socketPath(): string {
    return join(this.dir, 'broker.sock');
  }

  /** Admin client (this process, through the relay). */
  client(): BrokerClient {
    if (!this.admin) throw new StraitError('SCENARIO_LAB_FAILED', 'the lab broker is not started');
    return this.admin;
  }

  /** A client with another token (a cluster's credential), through the same relay; close it after use. */
  clientWith(token: string): BrokerClient {
    return new BrokerClient({ baseUrl: this.client().baseUrl, token, timeoutMs: 5000 });
  }

  async start(): Promise<void> {
    await this.startRelay();
    await this.startStore();
    await this.startProcess();
  }

  /** The broker crashes: process and Redis die with SIGKILL and come back; Redis persisted every write. */
  async crashAndRestart(): Promise<void> {
    for (const pid of [this.brokerPid, this.redisPid]) {
      if (!pid) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
      await waitUntil('the old broker process to exit', 5000, () => !isAlive(pid));
    }
    await this.startStore();
    await this.startProcess();
  }

  async view(): Promise<BrokerView> {
    const at = Date.now();
    const c = this.client();
    const [cl, gw] = await Promise.all([c.listClusters(), c.listGateways()]);
    return { at, clusters: cl.items.length, gateways: gw.items.map((g) => ({ cluster: g.cluster, name: g.name, health: g.health, priority: g.priority, updatedAt: g.updatedAt })) };
  }

  async stop(graceMs: number): Promise<void> {
    this.admin?.close();
    this.admin = null;
    await new Promise<void>((r) => (this.relay ? this.relay.close(() => r()) : r()));
    this.relay = null;
    if (this.brokerPid) await stopPid(this.brokerPid, graceMs);
    if (this.redisPid) await stopPid(this.redisPid, graceMs);
  }

  private async startRelay(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    const socat = startDaemon(['socat', `UNIX-LISTEN:${this.socketPath},fork,mode=600`, `TCP:127.0.0.1:${BROKER_PORT}`], {
      netns: this.lab.netns(this.host),
      logFile: join(this.dir, 'broker-relay.log'),
    });
    this.lab.recordDaemon({ pid: socat.pid, name: 'broker-relay', host: this.host });
    const server = createServer((down) => {
      const up = connect(this.socketPath);
      down.pipe(up).pipe(down);
      const end = (): void => {
        down.destroy();
        up.destroy();
      };
      up.on('error', end);
      down.on('error', end);
    });
    // Loopback only, an ephemeral port: nothing outside this machine reaches the lab's broker.
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
    server.unref();
    this.relay = server;
    const port = (server.address() as { port: number }).port;
    this.admin = new BrokerClient({ baseUrl: `http://127.0.0.1:${port}`, token: this.adminToken, timeoutMs: 5000 });
  }

  private async startStore(): Promise<void> {
    this.redisPid = await startLabRedis(this.lab, this.host, this.dir, { port: BROKER_REDIS_PORT, name: 'broker-redis', fsync: 'always' });
  }

  private async startProcess(): Promise<void> {
    // Listens on all the router's underlay addresses: each cluster reaches it at its own router address.
    const d = startDaemon(
      [process.execPath, straitMainPath(), 'broker', '--listen', `0.0.0.0:${BROKER_PORT}`, '--state-dir', join(this.dir, 'broker'), '--redis', `redis://127.0.0.1:${BROKER_REDIS_PORT}`],
      { netns: this.lab.netns(this.host), logFile: join(this.dir, 'broker.log'), env: { ...process.env, STRAIT_ADMIN_TOKEN: this.adminToken } },
    );
    this.brokerPid = d.pid;
    this.lab.recordDaemon({ pid: d.pid, name: 'broker', host: this.host });
    await waitUntil('the broker to answer', 20_000, async () => {
      if (!isAlive(d.pid)) throw new StraitError('SCENARIO_LAB_FAILED', `the broker exited; see ${join(this.dir, 'broker.log')}`);
      return (await this.client().health().catch(() => null))?.status !== undefined;
    });
  }
}

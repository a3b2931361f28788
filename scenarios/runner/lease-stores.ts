import { StraitError } from '../../api/index.js';
import { PROFILES, type ProfileName } from '../../gateway/index.js';
import { isAlive, stopPid } from '../../host/index.js';
import type { Lab } from '../lab/lab.js';
import { startLabRedis } from './broker-process.js';
import { waitUntil } from './wait-until.js';

/** The single store keeps its old port (and its append-only file): the comparison run is the old lab. */
const SINGLE_PORT = 6380;
/** A quorum's stores: one redis-server each, ports 6381, 6382, … */
const QUORUM_BASE_PORT = 6381;

/** 1 (a single store) or an odd number from 3 to 7 (a quorum); anything else is refused before the lab is built. */
export function checkLeaseStoreCount(count: number): void {
  if (!(count === 1 || (Number.isInteger(count) && count >= 3 && count % 2 === 1 && count <= 7))) {
    throw new StraitError('SCENARIO_INVALID', `leaseStores: ${count}; use 1 (a single store) or 3, 5 or 7 (a quorum)`, { leaseStores: count });
  }
}

/**
 * The stores' SCHED_RR priority: the agents' own (`realtimePriority` of the profile). A renewal answered late is a
 * stall the lease must cover, whoever was not scheduled: a store at normal priority answered in 70-230 ms under
 * `--stress cpu=8` while the SCHED_RR agents asked on time, and the adaptive TTL stretched to its ceiling.
 */
export function leaseStoreRtPriority(profile: ProfileName): number {
  return PROFILES[profile].realtimePriority;
}

export interface LabLeaseStore {
  readonly name: string;
  readonly port: number;
  pid(): number | null;
}

/**
 * The gateways' lease stores in the lab: one redis-server (the single-store lease) or three or five (the quorum
 * lease), each its own process with its own port and directory on the underlay router, sharing nothing. A quorum
 * store runs without persistence: a restart comes back empty and guarded (gateway/failover/lease-quorum-redis.ts).
 * All of them run on one lab host because the lab has one router; in a deployment they belong in separate failure
 * domains (docs/gateways.md). Faults kill, restart and cut off one of them (scenarios/faults/inject.ts).
 */
export class LabLeaseStores {
  private readonly pids: (number | null)[];

  constructor(
    private readonly lab: Lab,
    private readonly host: string,
    private readonly dir: string,
    readonly count: number,
    private readonly rtPriority: number,
  ) {
    checkLeaseStoreCount(count);
    this.pids = Array.from({ length: count }, () => null);
  }

  get stores(): LabLeaseStore[] {
    return this.pids.map((_, i) => ({ name: this.nameOf(i), port: this.portOf(i), pid: () => this.pids[i] ?? null }));
  }

  private nameOf(i: number): string {
    return this.count === 1 ? 'lease-store' : `lease-store-${i + 1}`;
  }

  private portOf(i: number): number {
    return this.count === 1 ? SINGLE_PORT : QUORUM_BASE_PORT + i;
  }

  /** `--lease-redis` for the gateways of a cluster that reaches the router at `routerIp`. */
  urls(routerIp: string): string[] {
    return this.pids.map((_, i) => `redis://${routerIp}:${this.portOf(i)}`);
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.count; i++) await this.startOne(i);
  }

  private async startOne(i: number): Promise<void> {
    // The single store: fsync once a second, as before (a crashed process loses no lease: Redis write()s the AOF
    // before it replies). The quorum's stores: nothing on disk, a restart is an empty, guarded restart.
    this.pids[i] = await startLabRedis(this.lab, this.host, this.dir, {
      port: this.portOf(i), name: this.nameOf(i), fsync: 'everysec', rtPriority: this.rtPriority,
      ...(this.count > 1 ? { persist: false } : {}),
    });
  }

  /** SIGKILL store `i` (a crash); `restart(i)` brings it back. */
  async kill(i: number): Promise<void> {
    const pid = this.pids[i];
    if (!pid) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    this.pids[i] = null;
    await waitUntil(`${this.nameOf(i)} to exit`, 5000, () => !isAlive(pid));
  }

  async restart(i: number): Promise<void> {
    if (this.pids[i]) return;
    await this.startOne(i);
  }

  async stop(graceMs: number): Promise<void> {
    for (const pid of this.pids) if (pid) await stopPid(pid, graceMs);
  }
}

import { readFileSync } from 'node:fs';
import { readAgentStatus, type TunnelKeeperStatus } from '../../gateway/index.js';
import { StraitError } from '../../api/index.js';
import { isAlive, startDaemon, stopPid } from '../../host/index.js';
import type { Lab } from '../lab/lab.js';
import { waitUntil } from './wait-until.js';

/** One agent process of the lab: `strait gateway` or `strait node-steer` in a host's namespace. */
export interface LabAgent {
  readonly host: string;
  readonly kind: 'gateway' | 'steer';
  readonly argv: string[];
  readonly statusFile: string;
  readonly log: string;
  /** Where a gateway agent writes its tunnel status (`--tunnel-status-file`), when it keeps tunnels. */
  readonly tunnelStatusFile?: string;
  pid: number | null;
}

/**
 * The lab's agents: gateway agents on the candidates, node-steer agents on the workers. Started gateways first,
 * each answering before the next, and every start recorded with the lab so `lab down` ends them after a crash.
 */
export class AgentFleet {
  private readonly agents = new Map<string, LabAgent>();

  constructor(private readonly lab: Lab) {}

  add(a: Omit<LabAgent, 'pid'>): void {
    this.agents.set(`${a.kind}:${a.host}`, { ...a, pid: null });
  }

  gateway(host: string): LabAgent | undefined {
    return this.agents.get(`gateway:${host}`);
  }

  steer(host: string): LabAgent | undefined {
    return this.agents.get(`steer:${host}`);
  }

  /** Pid of a gateway's agent process, null when it is not running. */
  gatewayPid(host: string): number | null {
    const a = this.gateway(host);
    return a?.pid && isAlive(a.pid) ? a.pid : null;
  }

  async start(a: LabAgent): Promise<void> {
    const d = startDaemon(a.argv, { netns: this.lab.netns(a.host), logFile: a.log });
    a.pid = d.pid;
    this.lab.recordDaemon({ pid: d.pid, name: a.argv[2] ?? 'agent', host: a.host });
    // Gateways first, each answering probes before the node agents start: node-steer does not rewrite its status
    // file when only a gateway's health changes (no steering change), so a gateway coming up after the node agent
    // can stay "down" in the status the lab waits on.
    if (a.kind === 'gateway') {
      await waitUntil(`${a.host} gateway agent to start`, 20_000, () => readAgentStatus(a.statusFile)?.pid === d.pid || !isAlive(d.pid));
    }
  }

  async startAll(): Promise<void> {
    for (const a of this.agents.values()) if (a.kind === 'gateway') await this.start(a);
    for (const a of this.agents.values()) if (a.kind !== 'gateway') await this.start(a);
  }

  /** Stops a gateway's agent if it runs and starts it again (after a SIGKILL or a node rebuild). */
  async restartGateway(host: string): Promise<void> {
    const a = this.gateway(host);
    if (!a) return;
    if (a.pid && isAlive(a.pid)) await stopPid(a.pid, 500);
    await this.start(a);
  }

  /** An agent that died while the lab comes up fails the start at once, with the end of its log (a crash's stack). */
  assertAlive(): void {
    for (const a of this.agents.values()) {
      if (a.pid !== null && !isAlive(a.pid)) {
        throw new StraitError('SCENARIO_LAB_FAILED', `the ${a.argv[2] ?? 'agent'} agent on ${a.host} exited while the lab came up; the end of ${a.log}:\n${logTail(a.log, 12)}`);
      }
    }
  }

  /** The tunnel status a gateway agent rewrites, or null before the first. */
  tunnelStatus(host: string): TunnelKeeperStatus | null {
    const f = this.gateway(host)?.tunnelStatusFile;
    if (!f) return null;
    try {
      return JSON.parse(readFileSync(f, 'utf8')) as TunnelKeeperStatus;
    } catch {
      return null;
    }
  }

  async stopAll(graceMs: number): Promise<void> {
    for (const a of this.agents.values()) if (a.pid) await stopPid(a.pid, graceMs);
  }
}

/** The last `n` lines of a daemon's log ('' if unreadable): enough for a crash's message and stack. */
function logTail(file: string, n: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

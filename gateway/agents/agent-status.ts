import { readFileSync } from 'node:fs';
import { LatestFileWriter } from '../../host/index.js';

/** What an agent reports about itself; rewritten atomically on every change so readers never see half a file. */
export interface AgentStatus {
  readonly kind: 'gateway' | 'node-steer';
  readonly cluster: string;
  readonly name: string;
  readonly pid: number;
  /** gateway: whether it holds the lease and serves its egress IPs. */
  readonly role?: 'active' | 'standby';
  readonly epoch?: number;
  /** Egress IPs this gateway serves right now. */
  readonly egressIps: readonly string[];
  /** The elected active gateway(s) in this agent's view, best first. */
  readonly active: readonly string[];
  /** Probe view: candidate → healthy. */
  readonly health: Readonly<Record<string, boolean>>;
  /** Number of times the active set changed since start. */
  readonly switches: number;
  readonly updatedAt: string;
}

/**
 * Rewrites an agent's status file on every change without ever blocking the agent's event loop on the disk (see
 * LatestFileWriter: a synchronous write stalled realtime agents by 10-22 ms in the middle of failovers).
 */
export class AgentStatusWriter {
  private readonly w: LatestFileWriter;

  constructor(file: string, onError?: (e: unknown) => void) {
    this.w = new LatestFileWriter(file, onError);
  }

  write(s: AgentStatus): void {
    this.w.write(`${JSON.stringify(s)}\n`);
  }

  flush(): Promise<void> {
    return this.w.flush();
  }
}

/** The last status an agent wrote, or null when it has written none yet. */
export function readAgentStatus(file: string): AgentStatus | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as AgentStatus;
  } catch {
    return null;
  }
}

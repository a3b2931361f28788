import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LatestFileWriter } from '../host/index.js';
import type { TunnelPeer } from './types.js';

/**
 * The last reconciled peer set, kept in the driver's state dir. The datapath is the truth for what is
 * installed; this record only maps datapath entries back to peer ids and clusters for `status()`.
 */
export function writePeerRecord(stateDir: string, peers: readonly TunnelPeer[]): void {
  writeFileSync(join(stateDir, 'peers.json'), JSON.stringify(peers, null, 2), { mode: 0o600 });
}

export function readPeerRecord(stateDir: string): TunnelPeer[] {
  const f = join(stateDir, 'peers.json');
  if (!existsSync(f)) return [];
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as TunnelPeer[];
  } catch {
    return [];
  }
}

/**
 * The same record, kept in memory and written behind (host/latest-file-writer.ts): a reconcile is on the failover
 * path, and a synchronous write there can sleep 10-20 ms in the kernel while ext4 commits its journal, stalling
 * the agent's probe responder and lease renewals with it. The file is still what a restarted driver reads.
 */
export class PeerRecordStore {
  private mem: TunnelPeer[] | undefined;
  private readonly writer: LatestFileWriter;

  constructor(private readonly stateDir: string) {
    this.writer = new LatestFileWriter(join(stateDir, 'peers.json'), () => undefined, 0o600);
  }

  get(): TunnelPeer[] {
    return this.mem ?? readPeerRecord(this.stateDir);
  }

  set(peers: readonly TunnelPeer[]): void {
    this.mem = [...peers];
    this.writer.write(JSON.stringify(peers, null, 2));
  }

  /** Waits for the file (before the state dir is removed, or a process exits). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Forgets the in-memory copy (the state dir is gone). */
  clear(): void {
    this.mem = undefined;
  }
}

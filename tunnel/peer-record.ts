import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

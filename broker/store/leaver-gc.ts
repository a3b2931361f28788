import type { StoreCore } from './core.js';

/** Lease entries one gc-leavers call scans (a call holds Redis for about a millisecond per few hundred). */
export const LEAVER_GC_PAGE = 1000;

/**
 * Returns the leases of clusters that left, for the gc job: one pass of `lua/gc-leavers.lua` pages over the two
 * lease hashes, in Redis (nothing is listed into the broker). The job calls it only when a cluster that left is due
 * and not yet passed over, once for all of them, so a run with nobody due reads no lease.
 */
export class LeaverGc {
  constructor(private readonly core: StoreCore) {}

  async returnLeasesOf(clusters: readonly string[], page = LEAVER_GC_PAGE): Promise<{ blocks: number; addresses: number }> {
    const out = { blocks: 0, addresses: 0 };
    if (clusters.length === 0) return out;
    // Both kinds are released there (release.lua), so the keys of both.
    const keys = { ...this.core.keys.blockRelease(), ...this.core.keys.addressRelease() };
    for (const kind of ['Block', 'AddressLease'] as const) {
      let cursor = '0';
      do {
        const r = await this.core.script('gcLeavers', undefined, keys, [kind, cursor, page, ...clusters]);
        cursor = String(r[1]);
        if (kind === 'Block') out.blocks += Number(r[2] ?? 0);
        else out.addresses += Number(r[2] ?? 0);
      } while (cursor !== '0');
    }
    return out;
  }
}

import type { StoreCore } from './core.js';

/** The owner GC's one step: a lease whose node or owner is gone from its cluster's reports for long enough goes back. */
export class OwnerGc {
  constructor(private readonly core: StoreCore) {}

  /**
   * Owner GC of one lease (see `store/lua/heartbeat.lua` and `owner-gc.lua`): `released` when its node (block) or owner
   * (address) has been missing from the cluster's reported set for at least `graceMs`.
   */
  async collectIfOwnerGone(kind: 'node' | 'owner', target: string, nowMs: number, graceMs: number): Promise<'released' | 'live' | 'wait' | 'unknown' | 'gone'> {
    const r = await this.core.run('ownerGc', undefined, kind, target, String(nowMs), String(graceMs));
    switch (r[0]) {
      case 'OK':
        return 'released';
      case 'LIVE':
        return 'live';
      case 'WAIT':
        return 'wait';
      case 'UNKNOWN':
        return 'unknown';
      default:
        return 'gone';
    }
  }
}

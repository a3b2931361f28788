import { describe, expect, it } from '@jest/globals';
import { isStraitError } from '../../api/index.js';
import { PROFILE_NAMES, PROFILES } from '../../gateway/index.js';
import { checkLeaseStoreCount, leaseStoreRtPriority } from './lease-stores.js';

describe('lab lease stores', () => {
  // The default profile's agents run SCHED_RR; a store left at normal priority answered renewals 70-230 ms late
  // under --stress cpu=8 and stretched every lease to its ceiling.
  it.each(PROFILE_NAMES)('profile %s: the stores run at the agents\' realtime priority', (name) => {
    expect(leaseStoreRtPriority(name)).toBe(PROFILES[name].realtimePriority);
    expect(leaseStoreRtPriority(name)).toBeGreaterThan(0);
  });

  it('a store count other than 1 or an odd 3-7 is refused', () => {
    for (const n of [0, 2, 4, 9, 1.5]) {
      let err: unknown = null;
      try {
        checkLeaseStoreCount(n);
      } catch (e) {
        err = e;
      }
      expect(isStraitError(err, 'SCENARIO_INVALID')).toBe(true);
    }
    for (const n of [1, 3, 5, 7]) expect(() => checkLeaseStoreCount(n)).not.toThrow();
  });
});

import { describe, expect, it } from '@jest/globals';
import { PROFILES } from '../../gateway/index.js';
import { RUNNER_RT_PRIORITY } from '../runner/runner-priority.js';
import { MEASURE_RT_PRIORITY } from './traffic.js';

// The instruments must outrank the load (stress-ng, the runner) and never the system they measure (traffic.ts).
describe('the probes’ realtime priority', () => {
  it('is above the runner and below the agents of every profile', () => {
    expect(MEASURE_RT_PRIORITY).toBeGreaterThan(RUNNER_RT_PRIORITY);
    for (const p of Object.values(PROFILES)) expect(MEASURE_RT_PRIORITY).toBeLessThan(p.realtimePriority);
  });
});

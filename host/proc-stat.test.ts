import { describe, expect, it } from '@jest/globals';
import { procStatFields } from './proc-stat.js';

describe('procStatFields', () => {
  it('reads the fields after the command name: field 3 is the state, field 4 the parent', () => {
    const f = procStatFields(`/proc/${process.pid}/stat`);
    expect(f[0]).toMatch(/^[RSDTtZXIPWK]$/);
    expect(Number(f[4 - 3])).toBe(process.ppid);
    expect(f.length).toBeGreaterThanOrEqual(52 - 2);
  });
});

import { describe, expect, it } from '@jest/globals';
import { goalVerdict } from './demo.js';

describe('strait demo: the outage against the profile goal', () => {
  it('says within the goal at or below it', () => {
    expect(goalVerdict(59.6, 60)).toBe("within the profile's goal of 60 ms");
    expect(goalVerdict(200, 200)).toBe("within the profile's goal of 200 ms");
  });
  it('says plainly when it is over, and by how much', () => {
    expect(goalVerdict(459.2, 200)).toBe("OVER the profile's goal of 200 ms by 259 ms");
  });
});

import { describe, expect, it } from '@jest/globals';
import { liveElements, parseNftDuration } from './fence-reader.js';

describe('fence reader', () => {
  it('reads live fence elements with their remaining time', () => {
    const text = 'table inet strait-gw-x {\n\tset live4 {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t\telements = { 172.31.0.200 timeout 140ms expires 132ms,\n\t\t\t     172.31.0.201 timeout 1s expires 1s20ms }\n\t}\n}\n';
    expect(liveElements(text)).toEqual([
      { ip: '172.31.0.200', expiresMs: 132 },
      { ip: '172.31.0.201', expiresMs: 1020 },
    ]);
    expect(liveElements('table inet t {\n set live4 {\n type ipv4_addr\n }\n}')).toEqual([]);
    expect(parseNftDuration('2m1s5ms')).toBe(121_005);
  });
});

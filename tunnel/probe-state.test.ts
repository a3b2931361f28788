import { describe, expect, it } from '@jest/globals';
import { ProbeStateMachine } from './probe-state.js';

type Step = number | 'x';

const table: { name: string; misses: number; rise: number; steps: Step[]; transitions: string[]; final: string }[] = [
  { name: 'first reply brings it up', misses: 3, rise: 1, steps: [1], transitions: ['unknown>up'], final: 'up' },
  { name: 'two misses are tolerated', misses: 3, rise: 1, steps: [1, 'x', 'x', 1], transitions: ['unknown>up'], final: 'up' },
  { name: 'three misses take it down', misses: 3, rise: 1, steps: [1, 'x', 'x', 'x'], transitions: ['unknown>up', 'up>down'], final: 'down' },
  { name: 'more misses do not repeat the event', misses: 3, rise: 1, steps: [1, 'x', 'x', 'x', 'x', 'x'], transitions: ['unknown>up', 'up>down'], final: 'down' },
  { name: 'recovers on a reply', misses: 2, rise: 1, steps: [1, 'x', 'x', 2], transitions: ['unknown>up', 'up>down', 'down>up'], final: 'up' },
  { name: 'rise 2 needs two replies in a row', misses: 2, rise: 2, steps: ['x', 'x', 1, 'x', 1, 1], transitions: ['unknown>down', 'down>up'], final: 'up' },
  { name: 'never answered: down from unknown', misses: 1, rise: 1, steps: ['x'], transitions: ['unknown>down'], final: 'down' },
  { name: 'interleaved misses never reach the threshold', misses: 2, rise: 1, steps: [1, 'x', 1, 'x', 1, 'x'], transitions: ['unknown>up'], final: 'up' },
];

describe('ProbeStateMachine', () => {
  it.each(table)('$name', ({ misses, rise, steps, transitions, final }) => {
    const m = new ProbeStateMachine({ misses, rise, window: 100 });
    const seen: string[] = [];
    for (const s of steps) {
      const t = s === 'x' ? m.miss() : m.reply(s);
      if (t) seen.push(`${t.from}>${t.to}`);
    }
    expect(seen).toEqual(transitions);
    expect(m.health).toBe(final);
  });

  it('computes loss over the window and RTT', () => {
    const m = new ProbeStateMachine({ misses: 3, rise: 1, window: 4 });
    for (const s of [1, 'x', 'x', 3, 5] as Step[]) if (s === 'x') m.miss(); else m.reply(s);
    const st = m.stats();
    expect(st.sent).toBe(4);
    expect(st.lost).toBe(2);
    expect(st.loss).toBe(0.5);
    expect(st.lastRttMs).toBe(5);
  });

  it('rejects nonsense settings', () => {
    expect(() => new ProbeStateMachine({ misses: 0, rise: 1, window: 1 })).toThrow(RangeError);
  });
});

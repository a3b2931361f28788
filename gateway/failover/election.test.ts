import { describe, it, expect } from '@jest/globals';
import { electActive, HealthTracker, leaseClaimant, type CandidateHealth } from './election.js';

const C = [
  { name: 'gw1', priority: 100 },
  { name: 'gw2', priority: 50 },
  { name: 'gw3', priority: 50 },
];
const up = (since = 0, recovered = false): CandidateHealth => ({ healthy: true, since, recovered });
const down = (since = 0): CandidateHealth => ({ healthy: false, since, recovered: true });

describe('electActive', () => {
  const cases: { name: string; health: [string, CandidateHealth][]; now?: number; mode?: 'active-standby' | 'active-active'; want: string[] }[] = [
    { name: 'highest priority healthy wins', health: [['gw1', up()], ['gw2', up()], ['gw3', up()]], want: ['gw1'] },
    { name: 'ties broken by name', health: [['gw1', down()], ['gw2', up()], ['gw3', up()]], want: ['gw2'] },
    { name: 'unknown health is not healthy', health: [['gw3', up()]], want: ['gw3'] },
    { name: 'nobody healthy → nobody active', health: [['gw1', down()], ['gw2', down()]], want: [] },
    { name: 'recovered gateway held down', health: [['gw1', up(900, true)], ['gw2', up()]], now: 1000, want: ['gw2'] },
    { name: 'recovered gateway after hold-down', health: [['gw1', up(0, true)], ['gw2', up()]], now: 5000, want: ['gw1'] },
    { name: 'lone recovered survivor is used during hold-down', health: [['gw1', up(900, true)], ['gw2', down()]], now: 1000, want: ['gw1'] },
    { name: 'first start is not a recovery', health: [['gw1', up(990)], ['gw2', up()]], now: 1000, want: ['gw1'] },
    { name: 'active-active: all eligible, best first', mode: 'active-active', health: [['gw1', up()], ['gw2', up()], ['gw3', up()]], want: ['gw1', 'gw2', 'gw3'] },
    { name: 'active-active: dead one removed', mode: 'active-active', health: [['gw1', up()], ['gw2', down()], ['gw3', up()]], want: ['gw1', 'gw3'] },
    { name: 'active-active: held-down one left out', mode: 'active-active', now: 1000, health: [['gw1', up(800, true)], ['gw2', up()], ['gw3', up()]], want: ['gw2', 'gw3'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(electActive({ candidates: C, health: new Map(c.health), now: c.now ?? 10_000, holdDownMs: 3000, mode: c.mode ?? 'active-standby' })).toEqual(c.want);
    });
  }
});

describe('HealthTracker', () => {
  it('goes down after N consecutive misses and up on the first reply', () => {
    const t = new HealthTracker(3);
    expect(t.reply('gw1', 0)).toBe('up');
    expect(t.miss('gw1', 10)).toBeUndefined();
    expect(t.miss('gw1', 20)).toBeUndefined();
    expect(t.reply('gw1', 30)).toBeUndefined(); // a reply resets the count
    expect(t.miss('gw1', 40)).toBeUndefined();
    expect(t.miss('gw1', 50)).toBeUndefined();
    expect(t.miss('gw1', 60)).toBe('down');
    expect(t.miss('gw1', 70)).toBeUndefined();
    expect(t.view().get('gw1')).toEqual({ healthy: false, since: 60, recovered: true });
    expect(t.reply('gw1', 80)).toBe('up');
    expect(t.view().get('gw1')).toEqual({ healthy: true, since: 80, recovered: true });
  });
  it('a candidate never seen up is not a recovery when it first answers (startup race)', () => {
    const t = new HealthTracker(2);
    t.miss('gw2', 0);
    t.miss('gw2', 10);
    expect(t.view().get('gw2')?.healthy).toBe(false);
    expect(t.reply('gw2', 20)).toBe('up');
    expect(t.view().get('gw2')?.recovered).toBe(false);
  });
  it('accepts up/down events from an external prober', () => {
    const t = new HealthTracker(3);
    expect(t.markUp('a', 0)).toBe('up');
    expect(t.markDown('a', 5)).toBe('down');
    expect(t.markDown('a', 6)).toBeUndefined();
    expect(t.markUp('a', 7)).toBe('up');
    expect(t.view().get('a')?.recovered).toBe(true);
    expect(t.markDown('b', 8)).toBeUndefined();
    expect(t.markUp('b', 9)).toBe('up');
    expect(t.view().get('b')?.recovered).toBe(false);
  });
});

describe('leaseClaimant', () => {
  it('picks the answering candidate with the highest claimed epoch; none when nobody answering claims', () => {
    const claims = new Map([['gw1', 7], ['gw2', 8], ['gw3', 0]]);
    expect(leaseClaimant(['gw1', 'gw2', 'gw3'], claims, () => true)).toBe('gw2');
    expect(leaseClaimant(['gw1', 'gw2', 'gw3'], claims, (n) => n !== 'gw2')).toBe('gw1');
    expect(leaseClaimant(['gw3'], claims, () => true)).toBeUndefined(); // epoch 0 is no claim
    expect(leaseClaimant(['gw1', 'gw2'], claims, () => false)).toBeUndefined();
    expect(leaseClaimant(['gw4'], claims, () => true)).toBeUndefined();
  });
});

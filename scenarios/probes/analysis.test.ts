import { describe, expect, it } from '@jest/globals';
import { analyseTcp, analyseUdp, gatewayAt, percentile, sourceIp, type UdpProbeResult } from './analysis.js';
import { syntheticTcp, syntheticUdp } from './fixtures.js';
import { parseAddressEvents, parseMonitorTimestamp, parseRouteEvents } from './ip-monitor.js';

const T = 1_800_000_000_000;

describe('UDP analysis', () => {
  it('measures the gap between the last good reply before the loss and the first after it', () => {
    const r = syntheticUdp({ start: T, durationMs: 3000, lossFrom: T + 1000, lossTo: T + 1150 });
    const a = analyseUdp(r, T + 1000, '10.11.1.2');
    expect(a.lost).toBe(15);
    expect(a.outageMs).toBe(160); // last good at 990, next good at 1150
    expect(a.outageFrom).toBe(T + 990);
    expect(a.outageTo).toBe(T + 1150);
    expect(a.recovered).toBe(true);
    expect(a.wrongSourceIPs).toEqual([]);
  });

  it('reports 0 when nothing was lost', () => {
    const a = analyseUdp(syntheticUdp({ start: T, durationMs: 1000 }), T + 500, null);
    expect(a).toMatchObject({ outageMs: 0, lost: 0, recovered: true, outageFrom: null });
  });

  it('ignores a baseline hiccup before the fault', () => {
    const r = syntheticUdp({ start: T, durationMs: 3000, lossFrom: T + 100, lossTo: T + 400 });
    expect(analyseUdp(r, T + 1000, null).outageMs).toBe(0);
  });

  it('counts a prober that paused after the fault as outage only when asked (fault trials), never a baseline pause', () => {
    // A flow whose prober sent nothing strictly between `from` and `to` (every probe answered, sequence unbroken).
    const paused = (pauses: [number, number][]): UdpProbeResult => {
      const r = syntheticUdp({ start: T, durationMs: 3000 });
      r.records = r.records.filter((x) => pauses.every(([from, to]) => x.sentAt <= T + from || x.sentAt >= T + to));
      r.records.forEach((x, i) => (x.seq = i));
      return r;
    };
    // 990 → 1090 across the fault, and a 300 ms pause before it.
    const r = paused([[990, 1090], [200, 500]]);
    expect(analyseUdp(r, T + 1000, null).outageMs).toBe(0);
    const a = analyseUdp(r, T + 1000, null, { countProberPauses: true });
    expect(a.outageMs).toBe(100);
    expect([a.outageFrom, a.outageTo]).toEqual([T + 990, T + 1090]);
    // Two intervals without a send are jitter, not a pause.
    expect(analyseUdp(paused([[1000, 1020]]), T + 1000, null, { countProberPauses: true }).outageMs).toBe(0);
  });

  it('takes the longest gap when the outage comes in pieces', () => {
    const r = syntheticUdp({ start: T, durationMs: 3000, lossFrom: T + 1000, lossTo: T + 1050 });
    r.records[120]!.recvAt = null; // 1200 lost alone
    for (let i = 130; i < 160; i++) r.records[i]!.recvAt = null; // 1300..1590
    expect(analyseUdp(r, T + 1000, null).outageMs).toBe(310);
  });

  it('flags no recovery and measures to the end of the trial', () => {
    const r = syntheticUdp({ start: T, durationMs: 3000, lossFrom: T + 1000 });
    const a = analyseUdp(r, T + 1000, null);
    expect(a.recovered).toBe(false);
    expect(a.outageMs).toBe(2000); // 990 .. 2990
  });

  it('counts wrong source IPs per IP', () => {
    const r = syntheticUdp({ start: T, durationMs: 2000, lossFrom: T + 1000, lossTo: T + 1100, src: (t) => (t < T + 1000 ? '172.31.0.200:5000' : '172.31.0.12:5000') });
    expect(analyseUdp(r, T + 1000, '172.31.0.200').wrongSourceIPs).toEqual([{ ip: '172.31.0.12', count: 90 }]);
  });

  it('extracts IPs from ip:port', () => {
    expect(sourceIp('10.0.0.1:53')).toBe('10.0.0.1');
    expect(sourceIp('[fd00::1]:53')).toBe('fd00::1');
    expect(sourceIp('fd00::1')).toBe('fd00::1');
  });
});

describe('TCP analysis', () => {
  it('a stream that paused and resumed survived', () => {
    const a = analyseTcp(syntheticTcp({ start: T, durationMs: 3000, pauseFrom: T + 1000, pauseTo: T + 1400 }), T + 1000);
    expect(a.survived).toBe(true);
    expect(a.stallMs).toBe(450);
  });
  it('a reset stream broke', () => {
    const a = analyseTcp(syntheticTcp({ start: T, durationMs: 3000, brokeAt: T + 1200 }), T + 1000);
    expect(a.survived).toBe(false);
    expect(a.error).toMatch(/ECONNRESET/);
  });
});

describe('gateway events', () => {
  const ev = [
    { at: T, kind: 'route' as const, cluster: 'c1', gateway: 'gw1' },
    { at: T + 100, kind: 'route' as const, cluster: 'c2', gateway: 'x' },
    { at: T + 200, kind: 'route' as const, cluster: 'c1', gateway: 'gw2' },
  ];
  it('tells which gateway carried a cluster at a time', () => {
    expect(gatewayAt(ev, 'c1', T - 1)).toBeNull();
    expect(gatewayAt(ev, 'c1', T + 150)).toBe('gw1');
    expect(gatewayAt(ev, 'c1', T + 200)).toBe('gw2');
  });

  it('percentiles use the nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([], 50)).toBeNull();
  });
});

describe('ip monitor parsing', () => {
  const text = [
    '[2026-11-22T12:11:21.457186] 3: eth1    inet 172.31.0.200/32 scope global eth1',
    '       valid_lft forever preferred_lft forever',
    '[2026-11-22T12:11:21.459012] local 172.31.0.200 dev eth1 table local proto kernel scope host src 172.31.0.200 ',
    '[2026-11-22T12:11:21.461289] 10.21.0.0/16 via 192.168.1.11 dev eth0 ',
    '[2026-11-22T12:11:21.464150] 10.21.0.0/16 via 192.168.1.12 dev eth0 ',
    '[2026-11-22T12:11:21.466979] Deleted 3: eth1    inet 172.31.0.200/32 scope global eth1',
    '[2026-11-22T12:11:21.469061] default via 192.168.1.12 dev eth0 table 100',
  ].join('\n');
  it('reads timestamps as local time with microseconds', () => {
    const p = parseMonitorTimestamp('[2026-11-22T12:11:21.457186] x');
    expect(p!.at).toBeCloseTo(new Date(2026, 10, 22, 12, 11, 21).getTime() + 457.186, 3);
    expect(parseMonitorTimestamp('valid_lft forever')).toBeNull();
  });
  it('finds egress IPs coming and going', () => {
    const e = parseAddressEvents(text, 'gw1', ['172.31.0.200']);
    expect(e.map((x) => x.kind)).toEqual(['eip-add', 'eip-del']);
    expect(parseAddressEvents(text, 'gw1', ['172.31.0.99'])).toEqual([]);
  });
  it('maps route next hops to gateways', () => {
    const hops = { '192.168.1.11': 'gw1', '192.168.1.12': 'gw2' };
    expect(parseRouteEvents(text, 'c1', '10.21.0.0/16', hops).map((e) => (e.kind === 'route' ? e.gateway : ''))).toEqual(['gw1', 'gw2']);
    expect(parseRouteEvents(text, 'c1', 'default', hops)).toHaveLength(1);
  });
});

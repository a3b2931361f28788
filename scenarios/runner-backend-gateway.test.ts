import { describe, expect, it } from '@jest/globals';
import { hostRebuildSteps, liveElements, parseNftDuration } from './runner-backend-gateway.js';
import { planLab } from './lab-plan.js';
import { resolveTopology } from './topology-resolve.js';

describe('gateway lab helpers', () => {
  it('reads live fence elements with their remaining time', () => {
    const text = 'table inet strait-gw-x {\n\tset live4 {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t\telements = { 172.31.0.200 timeout 140ms expires 132ms,\n\t\t\t     172.31.0.201 timeout 1s expires 1s20ms }\n\t}\n}\n';
    expect(liveElements(text)).toEqual([
      { ip: '172.31.0.200', expiresMs: 132 },
      { ip: '172.31.0.201', expiresMs: 1020 },
    ]);
    expect(liveElements('table inet t {\n set live4 {\n type ipv4_addr\n }\n}')).toEqual([]);
    expect(parseNftDuration('2m1s5ms')).toBe(121_005);
  });

  it('rebuilds one host: its namespace, its links to the switches, addresses and routes only', () => {
    const topo = resolveTopology({ name: 't', clusters: [{ name: 'c1', workers: 1, gateways: 2 }], externals: [{ name: 'ext' }] });
    const steps = hostRebuildSteps(planLab(topo, 'abc123'), 'st-abc123-c1-gw1');
    expect(steps.filter((s) => s.kind === 'netns').map((s) => ('netns' in s ? s.netns : ''))).toEqual(['st-abc123-c1-gw1']);
    expect(steps.filter((s) => s.kind === 'veth')).toHaveLength(2); // LAN and WAN
    expect(steps.some((s) => s.kind === 'route' && s.netns === 'st-abc123-c1-gw1')).toBe(true);
    expect(steps.some((s) => 'netns' in s && s.netns === 'st-abc123-c1-gw2')).toBe(false);
    // the switch side of its veths is enslaved and brought up again
    expect(steps.filter((s) => s.kind === 'master').length).toBe(2);
  });
});

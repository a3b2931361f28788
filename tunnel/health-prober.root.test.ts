import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { describeRoot } from '../testing/index.js';
import { newRunId, sh } from '../host/index.js';
import { createTwoGateways, type TwoGateways } from './two-gateway-topology.js';
import { startHealthProber, startProbeResponder, type ProbeTransitionEvent } from './health-prober.js';

describeRoot('health prober between namespaces', () => {
  let topo: TwoGateways;
  beforeAll(async () => {
    topo = await createTwoGateways(newRunId());
  });
  afterAll(async () => {
    await topo?.destroy();
  });

  it('reports down within a few intervals when the path breaks, up when it heals', async () => {
    const responder = await startProbeResponder({ netns: topo.b.netns, address: topo.plainB });
    const prober = await startHealthProber({ netns: topo.a.netns, targets: [{ id: 'gwb', address: topo.plainB }], intervalMs: 20, misses: 3 });
    const events: ProbeTransitionEvent[] = [];
    prober.on('transition', (e: ProbeTransitionEvent) => events.push(e));
    try {
      const until = async (to: string): Promise<void> => {
        const end = Date.now() + 10_000;
        while (Date.now() < end && prober.health('gwb') !== to) await new Promise((r) => setTimeout(r, 10));
      };
      await until('up');
      expect(prober.health('gwb')).toBe('up');
      const cut = Date.now();
      await sh(['ip', '-n', topo.b.netns, 'link', 'set', 'pl0', 'down']);
      await until('down');
      expect(prober.health('gwb')).toBe('down');
      const detected = events.find((e) => e.to === 'down')!.atMs - cut;
      expect(detected).toBeGreaterThanOrEqual(0);
      await sh(['ip', '-n', topo.b.netns, 'link', 'set', 'pl0', 'up']);
      await until('up');
      expect(events.map((e) => `${e.from}>${e.to}`)).toEqual(['unknown>up', 'up>down', 'down>up']);
    } finally {
      await prober.stop();
      await responder.stop();
    }
  }, 40_000);
});

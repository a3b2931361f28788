import { describe, expect, it } from '@jest/globals';
import { startHealthProber, startProbeResponder, type ProbeTransitionEvent } from './health-prober.js';

function waitEvent(p: NodeJS.EventEmitter, name: string, timeoutMs = 10_000): Promise<ProbeTransitionEvent> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${name} event`)), timeoutMs);
    p.once(name, (e: ProbeTransitionEvent) => {
      clearTimeout(t);
      resolve(e);
    });
  });
}

describe('health prober over loopback', () => {
  it('goes up with RTT, down when the responder stops, up again when it returns', async () => {
    const r1 = await startProbeResponder({ address: '127.0.0.1', port: 0 });
    const p = await startHealthProber({ targets: [{ id: 'gw', address: '127.0.0.1', port: r1.port }], intervalMs: 20, misses: 3 });
    try {
      const up = await waitEvent(p, 'up');
      expect(up).toMatchObject({ target: 'gw', from: 'unknown', to: 'up' });
      expect(p.stats().gw?.lastRttMs).toBeGreaterThan(0);
      await r1.stop();
      const down = await waitEvent(p, 'down');
      expect(down).toMatchObject({ target: 'gw', from: 'up', to: 'down' });
      expect(p.health('gw')).toBe('down');
      const r2 = await startProbeResponder({ address: '127.0.0.1', port: r1.port });
      try {
        await waitEvent(p, 'up');
        expect(p.stats().gw?.lost).toBeGreaterThanOrEqual(3);
      } finally {
        await r2.stop();
      }
    } finally {
      await p.stop();
      await r1.stop();
    }
  }, 30_000);

  it('rejects bad settings with a catalogued error', async () => {
    await expect(startHealthProber({ targets: [{ id: 'x', address: 'nope' }] })).rejects.toMatchObject({ code: 'TUNNEL_PROBE_INVALID' });
    await expect(startHealthProber({ targets: [{ id: 'x', address: '127.0.0.1' }], misses: 0 })).rejects.toMatchObject({ code: 'TUNNEL_PROBE_INVALID' });
  });
});

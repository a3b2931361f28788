import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { startTestKubeApiServer, type TestKubeApiServer } from '../../testing/index.js';
import { KubeClient } from './kube-client.js';
import { LeaderElector } from './leader-election.js';

async function until(fn: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('LeaderElector on a coordination.k8s.io Lease', () => {
  let api: TestKubeApiServer;
  beforeAll(async () => {
    api = await startTestKubeApiServer();
  });
  afterAll(async () => {
    await api.stop();
  });

  it('elects exactly one leader; a stopped leader hands over; a leader that cannot renew steps down', async () => {
    const kube = new KubeClient(api.kubeConfig());
    const log: string[] = [];
    const mk = (id: string): LeaderElector =>
      new LeaderElector(kube, { namespace: 'default', name: 'l', identity: id, leaseDurationMs: 1_000, retryMs: 100, onStarted: () => log.push(`+${id}`), onStopped: () => log.push(`-${id}`) });
    const a = mk('a');
    const b = mk('b');
    a.start();
    b.start();
    await until(() => a.isLeader || b.isLeader);
    await new Promise((r) => setTimeout(r, 500));
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    const [leader, other] = a.isLeader ? [a, b] : [b, a];
    await leader.stop();
    await until(() => other.isLeader);
    expect(api.get('coordination.k8s.io', 'leases', 'l', 'default')?.spec).toMatchObject({ leaseTransitions: 1 });
    // The API server goes away: the leader cannot renew and steps down within the lease duration.
    await api.stop();
    await until(() => !other.isLeader, 5_000);
    await api.start();
    await until(() => other.isLeader, 5_000);
    await other.stop();
    expect(log.filter((l) => l.startsWith('+')).length).toBeGreaterThanOrEqual(3);
  });
});

import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { deleteNetns, ensureNetns, netnsName, newRunId, run } from '../../host/index.js';
import { describeRoot } from '../../testing/index.js';
import { isStraitError } from '../../api/index.js';
import { IpBatchSession } from './ip-session.js';

describeRoot('ip batch session (root)', () => {
  const ns = netnsName(newRunId(), 'ipb');
  const session = new IpBatchSession({ netns: ns, timeoutMs: 10_000 });
  const route = async (dst: string): Promise<string> => (await run(['ip', 'route', 'show', dst], { netns: ns })).stdout.trim();

  beforeAll(async () => {
    await ensureNetns(ns);
    await run(['ip', '-batch', '-'], { netns: ns, input: 'link set lo up\nlink add d0 type veth peer name d1\nlink set d1 up\nlink set d0 up\naddr add 10.77.0.1/24 dev d0\n' });
  });
  afterAll(async () => {
    session.close();
    await deleteNetns(ns);
  });

  it('moves a route with a write to one running process, not a process per move', async () => {
    await session.run(['route replace 10.20.0.0/16 via 10.77.0.11 dev d0 onlink']);
    const pid = session.pid;
    expect(pid).toBeDefined();
    for (let i = 0; i < 20; i++) await session.run([`route replace 10.20.0.0/16 via 10.77.0.${11 + (i % 2)} dev d0 onlink`]);
    expect(await route('10.20.0.0/16')).toMatch(/via 10\.77\.0\.12 dev d0/);
    expect(session.pid).toBe(pid);
  });

  it('a failed line rejects with the catalog error and ip\'s words; the same process carries on', async () => {
    const pid = session.pid;
    let err: unknown;
    await session.run(['route del 10.99.0.0/16', 'route replace 10.21.0.0/16 via 10.77.0.11 dev d0 onlink']).catch((e: unknown) => (err = e));
    expect(isStraitError(err, 'GATEWAY_DATAPATH_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/No such process/);
    // -force: the lines after the failed one still ran.
    expect(await route('10.21.0.0/16')).toMatch(/via 10\.77\.0\.11/);
    await expect(session.run(['route del 10.99.0.0/16'], { allowFailure: true })).resolves.toEqual([expect.stringMatching(/No such process/)]);
    await expect(session.run(['route replace 10.22.0.0/16 via 10.77.0.11 dev d0 onlink'])).resolves.toEqual([]);
    expect(session.pid).toBe(pid);
  });

  it('a process that died is replaced by the next move', async () => {
    process.kill(session.pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 50));
    await session.run(['route replace 10.23.0.0/16 via 10.77.0.12 dev d0 onlink']);
    expect(await route('10.23.0.0/16')).toMatch(/via 10\.77\.0\.12/);
  });

  it('transactions issued together run in order, each answered by its own marker', async () => {
    const moves = Array.from({ length: 30 }, (_, i) => session.run([`route replace 10.24.0.0/16 via 10.77.0.${11 + (i % 3)} dev d0 onlink`]));
    await expect(Promise.all(moves)).resolves.toHaveLength(30);
    expect(await route('10.24.0.0/16')).toMatch(/via 10\.77\.0\.13/);
  });
});

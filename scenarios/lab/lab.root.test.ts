import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { isStraitError } from '../../api/index.js';
import { deleteNetns, ensureNetns, listNetns, newRunId, withNetns } from '../../host/index.js';
import { describeRoot, waitFor } from '../../testing/index.js';
import { labDown, labStatus, labUp, type Lab } from './lab.js';
import { findLeftovers, netnsInodes } from './leftovers.js';
import { labStatePath, readLabState } from './state.js';
import { resolveTopology } from '../topology/resolve.js';

/** Lab-only checks (no tunnel): namespaces, addressing, routing inside a cluster, clean teardown. */
describeRoot('lab (namespaces, routing, teardown)', () => {
  let lab: Lab | undefined;
  let inodes: number[] = [];
  const phases: string[] = [];

  beforeAll(async () => {
    lab = await labUp({ topology: 'egress', onStep: (e) => phases.push(e.phase) });
    inodes = await netnsInodes(lab.runId);
  }, 60_000);

  afterAll(async () => {
    await lab?.down();
  }, 60_000);

  const L = (): Lab => {
    if (!lab) throw new Error('lab not built');
    return lab;
  };

  it('creates one namespace per host and segment, records state, reports phases', async () => {
    const names = (await listNetns()).filter((n) => n.startsWith(`st-${L().runId}-`));
    expect(names.sort()).toEqual(readLabState(L().runId)?.namespaces.sort());
    expect(readLabState(L().runId)?.status).toBe('ready');
    expect(phases).toEqual(expect.arrayContaining(['namespaces', 'links', 'addresses', 'routes']));
    expect(L().host('c1-n1-p2')).toMatchObject({ netns: `st-${L().runId}-c1-n1-p2`, addresses: ['10.11.1.3'], role: 'pod', cluster: 'c1' });
    const status = await labStatus();
    expect(status.find((s) => s.runId === L().runId)).toMatchObject({ status: 'ready', topology: 'egress' });
  });

  it('leaves the root namespace alone (no link carries the run id there)', async () => {
    const { sh } = await import('../../host/index.js');
    expect(await sh(['ip', '-o', 'link'])).not.toContain(L().runId);
  });

  it('routes inside the cluster: pod ↔ pod on a node, pod → gateways, gateway → ext on the WAN', async () => {
    const ping = async (from: string, to: string): Promise<number> =>
      (await L().exec(from, ['ping', '-c', '1', '-W', '2', to], { allowFailure: true })).code;
    expect(await ping('c1-n1-p1', L().ip('c1-n1-p2'))).toBe(0);
    expect(await ping('c1-n1-p1', L().ip('c1-gw1'))).toBe(0);
    expect(await ping('c1-n1-p2', L().ip('c1-gw2'))).toBe(0);
    expect(await ping('c1-gw2', L().ip('ext'))).toBe(0);
    // Pods reach ext only once a gateway SNATs them (the gateway engineer's job): here ext has no route back.
    expect((await L().exec('c1-n1-p1', ['ping', '-c', '1', '-W', '1', L().ip('ext')], { allowFailure: true })).code).not.toBe(0);
  });

  it('sets forwarding on nodes and gateways, not on pods', async () => {
    const fwd = async (h: string): Promise<string> => (await L().exec(h, ['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim();
    expect(await fwd('c1-gw1')).toBe('1');
    expect(await fwd('c1-n1')).toBe('1');
    expect(await fwd('c1-n1-p1')).toBe('0');
  });

  it('refuses a run id that is in use', async () => {
    const err = await labUp({ topology: 'egress', runId: L().runId }).catch((e: unknown) => e);
    expect(isStraitError(err, 'LAB_RUN_EXISTS')).toBe(true);
  });

  it('down removes every namespace, process, socket and file of the run', async () => {
    const runId = L().runId;
    // A process inside the lab that nobody stopped: down must end it too.
    L().spawn('ext', ['sleep', '300']);
    await new Promise((r) => setTimeout(r, 100));
    await L().down();
    lab = undefined;
    const left = await findLeftovers(runId, inodes);
    expect(left).toEqual({ namespaces: [], processes: [], sockets: [], runDir: false });
    expect(existsSync(labStatePath(runId))).toBe(false);
  });
});

describeRoot('lab build failure', () => {
  it('rolls back everything when a step fails halfway', async () => {
    const runId = newRunId();
    // A valid model with a pod MTU the kernel rejects: the build fails in the `up` phase, after namespaces,
    // links and addresses exist.
    const topology = resolveTopology({ name: 'fail', clusters: [{ name: 'c1' }] });
    const err = await labUp({ topology, runId, plan: { podMtu: 70_000 } }).catch((e: unknown) => e);
    expect(isStraitError(err, 'LAB_BUILD_FAILED')).toBe(true);
    expect(await findLeftovers(runId)).toEqual({ namespaces: [], processes: [], sockets: [], runDir: false });
  }, 60_000);

  it('labDown of an unknown run is LAB_NOT_FOUND', async () => {
    const err = await labDown(newRunId()).catch((e: unknown) => e);
    expect(isStraitError(err, 'LAB_NOT_FOUND')).toBe(true);
  });
});

describeRoot('findLeftovers', () => {
  const a = newRunId();
  const b = newRunId();
  const children: ChildProcess[] = [];
  /** A `sleep 60` inside `ns`, returned once it runs there (after `ip netns exec` has exec'd it). */
  const sleepIn = async (ns: string): Promise<ChildProcess> => {
    const [file, ...args] = withNetns(['sleep', '60'], ns);
    const c = spawn(file!, args, { stdio: 'ignore' });
    children.push(c);
    const cmdline = (): string => {
      try {
        return readFileSync(`/proc/${c.pid}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    };
    await waitFor(`sleep in ${ns}`, () => cmdline() === 'sleep\x0060\x00', 5000, 20);
    return c;
  };
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const n of [`st-${a}-held`, `st-${b}-other`]) await deleteNetns(n);
  });

  it('finds a process that holds a deleted namespace of the run; an inode that now names another run is not a leftover', async () => {
    // A leftover only the inode can find: a process in a namespace of the run whose name is gone.
    await ensureNetns(`st-${a}-held`);
    const held = await sleepIn(`st-${a}-held`);
    const [heldIno] = await netnsInodes(a);
    await deleteNetns(`st-${a}-held`);
    expect((await findLeftovers(a, [heldIno!])).processes).toEqual([{ pid: held.pid, cmdline: 'sleep 60' }]);
    // The kernel reuses freed namespace inodes: one that now names run b's namespace is b's business.
    await ensureNetns(`st-${b}-other`);
    const other = await sleepIn(`st-${b}-other`);
    const [otherIno] = await netnsInodes(b);
    expect(readlinkSync(`/proc/${other.pid}/ns/net`)).toBe(`net:[${otherIno}]`);
    const left = await findLeftovers(a, [heldIno!, otherIno!]);
    expect(left.processes).toEqual([{ pid: held.pid, cmdline: 'sleep 60' }]);
  });
});

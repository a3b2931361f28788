import { run, sh } from './exec.js';

/** Creates a network namespace with `lo` up. Idempotent. */
export async function ensureNetns(name: string): Promise<void> {
  const exists = (await listNetns()).includes(name);
  if (!exists) await sh(['ip', 'netns', 'add', name]);
  await sh(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
}

/** Deletes a network namespace; missing is fine. */
export async function deleteNetns(name: string): Promise<void> {
  await run(['ip', 'netns', 'del', name], { allowFailure: true });
}

export async function listNetns(): Promise<string[]> {
  const out = await sh(['ip', 'netns', 'list']);
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.length > 0);
}

/** Pids of every process whose network namespace is `name` (to kill them before deleting it). */
export async function pidsInNetns(name: string): Promise<number[]> {
  const r = await run(['ip', 'netns', 'pids', name], { allowFailure: true });
  return r.stdout
    .split('\n')
    .map((s) => Number.parseInt(s, 10))
    .filter((n) => Number.isInteger(n) && n > 0);
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

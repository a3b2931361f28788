import { closeSync, fstatSync, openSync, readdirSync, statSync } from 'node:fs';
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

/** Pids of every process whose network namespace is `name` (to kill them before deleting it); none if it is gone. */
export async function pidsInNetns(name: string): Promise<number[]> {
  const ref = openNetnsRef(name);
  if (!ref) return [];
  try {
    return pidsInNetnsRef(ref);
  } finally {
    ref.close();
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * An open reference to a named network namespace: it keeps the kernel's namespace alive after `ip netns del`
 * (nothing can enter it by name any more), and `enter` runs commands in it all the same (`nsenter` on the file).
 */
export interface NetnsRef {
  /** The namespace's inode: which processes are in it (`pidsInNetnsRef`). */
  readonly ino: number;
  /** argv prefix that runs a command inside the namespace while the reference is open. */
  readonly enter: readonly string[];
  /** Drops the reference (once); the kernel tears the namespace down when nothing else holds it. */
  close(): void;
}

export function openNetnsRef(name: string): NetnsRef | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(`/run/netns/${name}`, 'r');
  } catch {
    return undefined;
  }
  const ino = fstatSync(fd).ino;
  const path = `/proc/${process.pid}/fd/${fd}`;
  return {
    ino,
    enter: ['nsenter', `--net=${path}`],
    close(): void {
      // Never twice: the number may belong to another file by then.
      if (fd === undefined) return;
      const f = fd;
      fd = undefined;
      closeSync(f);
    },
  };
}

/** Pids of the processes in the namespace `ref` holds, read from /proc (no fork, works after `ip netns del`). */
export function pidsInNetnsRef(ref: NetnsRef): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (statSync(`/proc/${e}/ns/net`).ino === ref.ino) out.push(Number(e));
    } catch {
      // Exited meanwhile.
    }
  }
  return out;
}

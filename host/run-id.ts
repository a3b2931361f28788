import { randomBytes } from 'node:crypto';

/**
 * Every namespace, link, daemon and file a lab or test creates carries a run id, so parallel runs never
 * collide and `strait lab down` can sweep leftovers. Run ids are short because Linux interface names
 * are limited to 15 bytes: a run id is 6 lowercase alphanumerics, e.g. `k3x9qa`.
 */
export const RUN_ID_PATTERN = /^[a-z0-9]{4,8}$/;

export function newRunId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(6);
  let id = '';
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}

export function assertRunId(id: string): string {
  if (!RUN_ID_PATTERN.test(id)) throw new Error(`invalid run id "${id}": expected 4-8 lowercase letters or digits`);
  return id;
}

/** Namespace names: `st-<runid>-<name>` (namespace names may be long; interface names may not). */
export function netnsName(runId: string, name: string): string {
  return `st-${runId}-${name}`;
}

/**
 * Interface names in a shared namespace (the root one, or a bridge namespace): must stay within 15 bytes,
 * so they are `<prefix><runid><n>` with a short prefix. Throws instead of silently truncating.
 */
export function ifName(prefix: string, runId: string, suffix = ''): string {
  const name = `${prefix}${runId}${suffix}`;
  if (Buffer.byteLength(name) > 15) throw new Error(`interface name too long (max 15): ${name}`);
  return name;
}

/** Directory for a run's files (configs, sockets, pid files, logs). */
export function runDir(runId: string, base = process.env.STRAIT_RUN_BASE ?? '/tmp/strait'): string {
  return `${base}/${runId}`;
}

import { StraitError } from '../api/index.js';

/**
 * Who an address belongs to: one interface of one pod sandbox. `podUid` (from `K8S_POD_UID` in CNI_ARGS) is
 * preferred as identity because it survives a sandbox re-creation; without it the container id is used.
 */
export interface Owner {
  containerId: string;
  ifName: string;
  podUid?: string;
  namespace?: string;
  podName?: string;
  /** Set for StatefulSet pods: the same ordinal keeps its addresses until the StatefulSet is gone. */
  statefulSet?: { name: string; ordinal: number };
}

/** The idempotency key: the same owner always maps to the same key. */
export function ownerKey(owner: Owner): string {
  return owner.podUid ? `pod:${owner.podUid}/${owner.ifName}` : `ctr:${owner.containerId}/${owner.ifName}`;
}

/** The key of a StatefulSet sticky binding (`namespace/name/ordinal/ifName`), or undefined for other pods. */
export function stickyKey(owner: Owner): string | undefined {
  const s = owner.statefulSet;
  if (!s) return undefined;
  return `${owner.namespace ?? 'default'}/${s.name}/${s.ordinal}/${owner.ifName}`;
}

/** `namespace/name` of the StatefulSet a sticky key belongs to. */
export function statefulSetOfSticky(sticky: string): string {
  const parts = sticky.split('/');
  return `${parts[0]}/${parts[1]}`;
}

/** The owner key a parked StatefulSet address is held under while no pod of that ordinal exists. */
export function parkedOwnerKey(sticky: string): string {
  return `sticky:${sticky}`;
}

export function validateOwner(owner: Owner): void {
  const bad = (why: string): never => {
    throw new StraitError('INVALID_OWNER', `invalid allocation owner: ${why}`, { owner: { ...owner } });
  };
  if (!owner || typeof owner !== 'object') bad('missing');
  if (typeof owner.containerId !== 'string' || owner.containerId === '') bad('containerId is required');
  if (typeof owner.ifName !== 'string' || owner.ifName === '' || owner.ifName.length > 15) bad('ifName must be 1..15 characters');
  if (/[/\s]/.test(owner.containerId) || /[/\s]/.test(owner.ifName)) bad('containerId and ifName may not contain "/" or spaces');
  if (owner.podUid !== undefined && (typeof owner.podUid !== 'string' || /[/\s]/.test(owner.podUid))) bad('bad podUid');
  const s = owner.statefulSet;
  if (s !== undefined) {
    if (typeof s.name !== 'string' || s.name === '' || s.name.includes('/')) bad('statefulSet.name is required');
    if (!Number.isInteger(s.ordinal) || s.ordinal < 0) bad('statefulSet.ordinal must be a non-negative integer');
    if (owner.namespace !== undefined && owner.namespace.includes('/')) bad('bad namespace');
  }
}

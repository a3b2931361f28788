/**
 * Server-side apply (`PATCH` with `application/apply-patch+yaml`, `kubectl apply --server-side`), simplified:
 * each applier's field set is kept in `metadata.managedFields` (operation Apply, FieldsV1 format), so
 * - fields an applier set before and leaves out now are removed, unless another applier still claims them;
 * - setting a field another applier claims to a different value is a conflict (409) unless `force=true`, which
 *   moves the field to the new applier.
 * Limits: lists are atomic (no `x-kubernetes-list-type: map` merging); writes other than apply (PUT, PATCH) are not
 * recorded as Update managers, so fields they set are never conflicts and never removed by an apply. Pure.
 */
import type { KubeObject } from './store.js';

type Json = Record<string, unknown>;
/** FieldsV1: `{"f:spec": {"f:cidr": {}}}`; `{}` marks a leaf (scalar, list or whole map value). */
export type FieldSet = { [k: string]: FieldSet };

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: FieldSet;
  subresource?: string;
}

const isMap = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const METADATA_UNMANAGED = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'managedFields', 'selfLink']);

function fieldsOfValue(v: unknown): FieldSet {
  if (!isMap(v) || Object.keys(v).length === 0) return {};
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [`f:${k}`, fieldsOfValue(x)]));
}

/** The fields an applied configuration sets (apiVersion, kind, identity metadata and, if `withStatus` is false, status left out). */
export function fieldsOf(config: Json, withStatus: boolean): FieldSet {
  const out: FieldSet = {};
  for (const [k, v] of Object.entries(config)) {
    if (k === 'apiVersion' || k === 'kind' || (k === 'status' && !withStatus)) continue;
    if (k === 'metadata' && isMap(v)) {
      const meta = Object.fromEntries(Object.entries(v).filter(([mk]) => !METADATA_UNMANAGED.has(mk)));
      if (Object.keys(meta).length) out['f:metadata'] = fieldsOfValue(meta);
      continue;
    }
    out[`f:${k}`] = fieldsOfValue(v);
  }
  return out;
}

/** Leaf paths of a field set, as lists of keys. */
function leaves(set: FieldSet, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [k, sub] of Object.entries(set)) {
    const p = [...prefix, k.slice(2)];
    if (Object.keys(sub).length === 0) out.push(p);
    else out.push(...leaves(sub, p));
  }
  return out;
}

function has(set: FieldSet, path: string[]): boolean {
  let cur: FieldSet | undefined = set;
  for (const k of path) {
    cur = cur[`f:${k}`];
    if (!cur) return false;
    // A leaf higher up owns everything below it.
    if (Object.keys(cur).length === 0) return true;
  }
  return true;
}

function remove(set: FieldSet, path: string[]): FieldSet {
  const [head, ...rest] = path;
  if (head === undefined) return set;
  const key = `f:${head}`;
  const sub = set[key];
  if (!sub) return set;
  const out = { ...set };
  if (!rest.length) delete out[key];
  else {
    const next = remove(sub, rest);
    if (Object.keys(next).length) out[key] = next;
    else delete out[key];
  }
  return out;
}

const valueAt = (o: unknown, path: string[]): unknown => path.reduce<unknown>((cur, k) => (isMap(cur) ? cur[k] : undefined), o);

function deleteAt(o: Json, path: string[]): void {
  const parent = valueAt(o, path.slice(0, -1));
  if (isMap(parent)) delete parent[path[path.length - 1] ?? ''];
}

function mergeInto(target: Json, config: Json): Json {
  const out: Json = { ...target };
  for (const [k, v] of Object.entries(config)) {
    out[k] = isMap(v) && isMap(out[k]) ? mergeInto(out[k] as Json, v) : structuredClone(v);
  }
  return out;
}

export interface ApplyRequest {
  manager: string;
  force: boolean;
  apiVersion: string;
  time: string;
  /** True on the status subresource (then only status is applied) or for kinds without one. */
  withStatus: boolean;
  subresource?: string;
}

export type ApplyResult = { object: KubeObject } | { conflicts: { manager: string; path: string }[] };

/** The object after `config` is applied by `req.manager` to `current` (undefined: the apply creates it). */
export function serverSideApply(current: KubeObject | undefined, config: KubeObject, req: ApplyRequest): ApplyResult {
  const entries = ((current?.metadata.managedFields as ManagedFieldsEntry[] | undefined) ?? []).filter((e) => (e.subresource ?? '') === (req.subresource ?? ''));
  const untouched = ((current?.metadata.managedFields as ManagedFieldsEntry[] | undefined) ?? []).filter((e) => (e.subresource ?? '') !== (req.subresource ?? ''));
  const mine = entries.find((e) => e.manager === req.manager && e.operation === 'Apply');
  const others = entries.filter((e) => e !== mine);
  const scoped: Json = req.subresource === 'status' ? { metadata: {}, status: config.status } : config;
  const newSet = fieldsOf(scoped, req.withStatus || req.subresource === 'status');
  const base: Json = current ? structuredClone(current) : { metadata: {} };

  const conflicts: { manager: string; path: string }[] = [];
  let othersAfter = others.map((e) => ({ ...e }));
  for (const path of leaves(newSet)) {
    const owners = othersAfter.filter((e) => has(e.fieldsV1, path));
    if (!owners.length) continue;
    if (JSON.stringify(valueAt(base, path)) === JSON.stringify(valueAt(scoped, path))) continue;
    if (!req.force) {
      for (const o of owners) conflicts.push({ manager: o.manager, path: `.${path.join('.')}` });
      continue;
    }
    othersAfter = othersAfter.map((e) => (owners.includes(e) ? { ...e, fieldsV1: remove(e.fieldsV1, path) } : e));
  }
  if (conflicts.length) return { conflicts };

  const next = mergeInto(base, scoped) as KubeObject;
  for (const path of mine ? leaves(mine.fieldsV1) : []) {
    if (has(newSet, path) || othersAfter.some((e) => has(e.fieldsV1, path))) continue;
    deleteAt(next, path);
  }
  const entry: ManagedFieldsEntry = {
    manager: req.manager, operation: 'Apply', apiVersion: req.apiVersion, time: req.time, fieldsType: 'FieldsV1', fieldsV1: newSet,
    ...(req.subresource ? { subresource: req.subresource } : {}),
  };
  next.metadata = { ...next.metadata, managedFields: [...untouched, ...othersAfter.filter((e) => Object.keys(e.fieldsV1).length), entry] };
  return { object: next };
}

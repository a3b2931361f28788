/**
 * Strategic merge patch (`application/strategic-merge-patch+json`) for the built-in kinds, as kubectl's client-side
 * `apply`, `label`, `annotate` and `patch --type strategic` send it: lists with a patch merge key merge item by
 * item, `finalizers` merge as a set, other lists are replaced; the directives `$patch` (replace, delete, merge),
 * `$retainKeys`, `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>` are honoured. The merge keys
 * are those of the upstream Go types the test server's built-ins use (a table, not a schema walk). Pure.
 */
import { PatchError } from './patch.js';

type Json = Record<string, unknown>;

const KEYS: Record<string, string> = {
  containers: 'name', initContainers: 'name', ephemeralContainers: 'name', env: 'name', volumes: 'name',
  volumeMounts: 'mountPath', volumeDevices: 'devicePath', imagePullSecrets: 'name', hostAliases: 'ip', conditions: 'type',
  ownerReferences: 'uid', topologySpreadConstraints: 'topologyKey', resourceClaims: 'name', schedulingGates: 'name', secrets: 'name',
};
const PRIMITIVE_SETS = new Set(['finalizers']);

const isMap = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function mergeKeyOf(field: string, items: unknown[]): string | undefined {
  if (field === 'ports') return items.some((i) => isMap(i) && 'containerPort' in i) ? 'containerPort' : 'port';
  return KEYS[field];
}

const stripDirectives = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isMap(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith('$')).map(([k, x]) => [k, stripDirectives(x)]));
};

/** Applies `patch` to `target`; `undefined` means the patch deleted it (`$patch: delete`). */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) throw new PatchError('a strategic merge patch is a JSON object');
  return mergeMap(isMap(target) ? target : {}, patch);
}

function mergeMap(target: Json, patch: Json): Json | undefined {
  const directive = patch.$patch;
  if (directive === 'delete') return undefined;
  if (directive === 'replace') return stripDirectives(patch) as Json;
  if (directive !== undefined && directive !== 'merge') throw new PatchError(`unknown $patch directive ${String(directive)}`);
  const out: Json = { ...target };
  const orders: [string, unknown[]][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys') continue;
    if (k.startsWith('$setElementOrder/')) {
      if (!Array.isArray(v)) throw new PatchError(`${k} must be a list`);
      orders.push([k.slice('$setElementOrder/'.length), v]);
      continue;
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (!Array.isArray(v)) throw new PatchError(`${k} must be a list`);
      if (Array.isArray(out[field])) out[field] = (out[field] as unknown[]).filter((x) => !v.includes(x));
      continue;
    }
    if (k.startsWith('$')) throw new PatchError(`unknown directive ${k}`);
    if (v === null) delete out[k];
    else if (Array.isArray(v)) out[k] = mergeList(k, out[k], v);
    else if (isMap(v)) {
      const merged = mergeMap(isMap(out[k]) ? (out[k] as Json) : {}, v);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else out[k] = v;
  }
  for (const [field, order] of orders) out[field] = reorder(field, out[field], order);
  const retain = patch.$retainKeys;
  if (Array.isArray(retain)) for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  return out;
}

function mergeList(field: string, current: unknown, patch: unknown[]): unknown[] {
  const cur = Array.isArray(current) ? (current as unknown[]) : [];
  if (patch.some((i) => isMap(i) && i.$patch === 'replace')) return stripDirectives(patch.filter((i) => !(isMap(i) && i.$patch === 'replace'))) as unknown[];
  if (PRIMITIVE_SETS.has(field)) return [...cur, ...patch.filter((x) => !cur.includes(x))];
  const key = mergeKeyOf(field, [...cur, ...patch]);
  if (!key || !patch.every(isMap)) return stripDirectives(patch) as unknown[];
  const out = [...cur];
  for (const item of patch) {
    const i = out.findIndex((c) => isMap(c) && c[key] === item[key]);
    if (item.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1);
      continue;
    }
    if (i >= 0) {
      const merged = mergeMap(out[i] as Json, item);
      if (merged === undefined) out.splice(i, 1);
      else out[i] = merged;
    } else out.push(stripDirectives(item));
  }
  return out;
}

function reorder(field: string, list: unknown, order: unknown[]): unknown {
  if (!Array.isArray(list)) return list;
  const key = mergeKeyOf(field, list as unknown[]);
  const id = (x: unknown): unknown => (key && isMap(x) ? x[key] : x);
  const wanted = order.map(id);
  const rank = (x: unknown): number => {
    const r = wanted.indexOf(id(x));
    return r < 0 ? wanted.length : r;
  };
  return [...(list as unknown[])].sort((a, b) => rank(a) - rank(b));
}

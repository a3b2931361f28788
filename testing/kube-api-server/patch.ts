/** Patch semantics the test API server applies: JSON merge patch (RFC 7386) and JSON patch (RFC 6902). */

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy';
  path: string;
  value?: unknown;
  from?: string;
}

export class PatchError extends Error {}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchError(`bad JSON pointer ${path}`);
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, parts: string[]): { parent: Record<string, unknown> | unknown[]; key: string } {
  let cur: unknown = doc;
  for (const p of parts.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') throw new PatchError(`path not found at ${p}`);
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === null || typeof cur !== 'object') throw new PatchError('path not found');
  return { parent: cur as Record<string, unknown>, key: parts[parts.length - 1] ?? '' };
}

function get(doc: unknown, parts: string[]): unknown {
  let cur: unknown = doc;
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

export function jsonPatch(target: unknown, ops: JsonPatchOp[]): unknown {
  if (!Array.isArray(ops)) throw new PatchError('a JSON patch is an array of operations');
  let doc = structuredClone(target);
  for (const op of ops) {
    const parts = pointer(op.path);
    if (op.op === 'test') {
      if (JSON.stringify(get(doc, parts)) !== JSON.stringify(op.value)) throw new PatchError(`test failed at ${op.path}`);
      continue;
    }
    let value = op.value;
    if (op.op === 'move' || op.op === 'copy') {
      const from = pointer(op.from ?? '');
      value = structuredClone(get(doc, from));
      if (op.op === 'move') doc = jsonPatch(doc, [{ op: 'remove', path: op.from ?? '' }]);
    }
    if (parts.length === 0) {
      doc = op.op === 'remove' ? undefined : value;
      continue;
    }
    const { parent, key } = parentOf(doc, parts);
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new PatchError(`bad array index ${key}`);
      if (op.op === 'remove') parent.splice(i, 1);
      else if (op.op === 'replace') parent[i] = value;
      else parent.splice(i, 0, value);
    } else {
      if ((op.op === 'remove' || op.op === 'replace') && !(key in parent)) throw new PatchError(`path ${op.path} not found`);
      if (op.op === 'remove') delete parent[key];
      else parent[key] = value;
    }
  }
  return doc;
}

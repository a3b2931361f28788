/**
 * Unknown fields of a custom resource against its CRD's structural schema, as the real API server finds them:
 * it prunes them (`fieldValidation` Ignore, the default for most clients), warns about them (Warn) or refuses the
 * object (Strict, what kubectl 1.27+ asks for). `x-kubernetes-preserve-unknown-fields` keeps a subtree, a map's
 * `additionalProperties` types its values. Pure: returns the pruned copy and the paths that were pruned.
 */

type Schema = Record<string, unknown>;
const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function pruneUnknownFields(obj: Record<string, unknown>, schema: Schema): { pruned: Record<string, unknown>; unknown: string[] } {
  const unknown: string[] = [];
  const out: Record<string, unknown> = {};
  const props = (isMap(schema.properties) ? schema.properties : {}) as Record<string, Schema>;
  for (const [k, v] of Object.entries(obj)) {
    // The root's identity fields are the API server's, not the schema's.
    if (k === 'apiVersion' || k === 'kind' || k === 'metadata') out[k] = v;
    else if (props[k]) out[k] = prune(v, props[k], k, unknown);
    else if (schema['x-kubernetes-preserve-unknown-fields'] === true) out[k] = v;
    else unknown.push(k);
  }
  return { pruned: out, unknown };
}

function prune(value: unknown, schema: Schema, path: string, unknown: string[]): unknown {
  if (Array.isArray(value)) {
    const items = schema.items;
    return isMap(items) ? value.map((v, i) => prune(v, items, `${path}[${i}]`, unknown)) : value;
  }
  if (!isMap(value)) return value;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const props = isMap(schema.properties) ? (schema.properties as Record<string, Schema>) : undefined;
  const additional = schema.additionalProperties;
  if (!props && additional === undefined && (preserve || schema.type !== 'object')) return value;
  const embedded = schema['x-kubernetes-embedded-resource'] === true;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const p = `${path}.${k}`;
    if (props?.[k]) out[k] = prune(v, props[k], p, unknown);
    else if (embedded && (k === 'apiVersion' || k === 'kind' || k === 'metadata')) out[k] = v;
    else if (isMap(additional)) out[k] = prune(v, additional, p, unknown);
    else if (additional === true || preserve) out[k] = v;
    else unknown.push(p);
  }
  return out;
}

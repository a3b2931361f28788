/**
 * `meta.k8s.io/v1` Table answers (what `kubectl get` asks for with `Accept: application/json;as=Table;…`): a CRD's
 * `additionalPrinterColumns` evaluated with JSONPath (dates shown as ages, like the real server's convertor), the
 * built-ins' own columns, NAME and AGE otherwise. Pure.
 */
import { BUILTIN_COLUMNS, DEFAULT_COLUMNS, type BuiltinColumn } from './builtin-columns.js';
import { humanAge } from './human-age.js';
import { evaluateJsonPath, parseJsonPath } from './jsonpath.js';
import type { ResourceType } from './resource-types.js';
import type { KubeObject } from './store.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

interface Column {
  definition: { name: string; type: string; format: string; description: string; priority: number };
  cell: (o: KubeObject, now: number) => unknown;
}

const NAME: Column = {
  definition: { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
  cell: (o) => o.metadata.name ?? '',
};

function crdColumns(rt: ResourceType): Column[] {
  const cols = rt.printerColumns ?? [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }];
  return cols.map((c) => {
    const steps = parseJsonPath(c.jsonPath);
    return {
      definition: { name: c.name, type: c.type, format: c.format ?? '', description: c.description ?? '', priority: c.priority ?? 0 },
      cell: (o, now) => {
        const value = evaluateJsonPath(steps, o)[0];
        if (value === undefined || value === null) return null;
        if (c.type === 'date') return typeof value === 'string' ? humanAge(value, now) : null;
        if (c.type === 'string') return typeof value === 'object' ? JSON.stringify(value) : String(value as string);
        if (c.type === 'integer' || c.type === 'number') return typeof value === 'number' ? value : null;
        if (c.type === 'boolean') return typeof value === 'boolean' ? value : null;
        return value;
      },
    };
  });
}

function builtinColumns(rt: ResourceType): Column[] {
  const cols: BuiltinColumn[] = BUILTIN_COLUMNS[rt.kind] ?? DEFAULT_COLUMNS;
  return cols.map((c) => ({
    definition: { name: c.name, type: c.type === 'date' ? 'string' : c.type, format: c.type === 'date' ? 'date' : '', description: '', priority: c.priority ?? 0 },
    cell: (o, now) => c.cell(o as Parameters<BuiltinColumn['cell']>[0], now),
  }));
}

export function columnsOf(rt: ResourceType): Column[] {
  return [NAME, ...(rt.custom ? crdColumns(rt) : builtinColumns(rt))];
}

function rowObject(o: KubeObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return o;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

export function asTable(rt: ResourceType, objects: KubeObject[], opts: { include: IncludeObject; resourceVersion: string; now?: number; noHeaders?: boolean }): unknown {
  const now = opts.now ?? Date.now();
  const columns = columnsOf(rt);
  return {
    kind: 'Table', apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: opts.resourceVersion },
    ...(opts.noHeaders ? {} : { columnDefinitions: columns.map((c) => c.definition) }),
    rows: objects.map((o) => {
      const object = rowObject(o, opts.include);
      return { cells: columns.map((c) => c.cell(o, now)), ...(object ? { object } : {}) };
    }),
  };
}

/** Checks a CRD's printer columns up front, so one outside the supported JSONPath subset is refused at create. */
export function checkPrinterColumns(rt: ResourceType): void {
  if (rt.custom) crdColumns(rt);
}

import { parseDocument } from 'yaml';

/**
 * What is wrong with a kubeconfig's text, in words a user can act on; `undefined` when it names a usable
 * current context (cluster with a server, and the user it names, if any). Pure: the caller reads the file.
 *
 * client-node's own loader fails on these with messages about its internals ("Cannot read properties of
 * undefined (reading 'clusters')" for an empty file), or not at all (a current-context that names nothing
 * loads fine and fails later as "no current cluster").
 */
export function kubeconfigProblem(text: string): string | undefined {
  if (text.trim() === '') return 'the file is empty';
  const doc = parseDocument(text);
  const err = doc.errors[0];
  if (err) return `the file is not YAML: ${err.message.split('\n')[0]}`;
  const obj: unknown = doc.toJS();
  if (obj === null || obj === undefined) return 'the file holds no YAML document (only comments?)';
  if (typeof obj !== 'object' || Array.isArray(obj)) return `the file is not a kubeconfig: its top level is ${Array.isArray(obj) ? 'a list' : `a ${typeof obj}`}, not a mapping`;
  const cfg = obj as Record<string, unknown>;
  const clusters = namedList(cfg, 'clusters');
  if (typeof clusters === 'string') return clusters;
  if (clusters.length === 0) return 'it has no clusters';
  const contexts = namedList(cfg, 'contexts');
  if (typeof contexts === 'string') return contexts;
  if (contexts.length === 0) return 'it has no contexts';
  const users = namedList(cfg, 'users');
  if (typeof users === 'string') return users;
  // client-node refuses a file with any malformed entry, in use or not.
  for (const [key, list, inner] of [['clusters', clusters, 'cluster'], ['contexts', contexts, 'context'], ['users', users, undefined]] as const) {
    for (const [i, e] of list.entries()) {
      if (typeof e.name !== 'string' || e.name === '') return `${key}[${i}] has no name`;
      if (inner && (typeof e[inner] !== 'object' || e[inner] === null)) return `${key}[${i}] ("${e.name}") has no ${inner}: section`;
    }
  }
  for (const c of clusters) if (!nonEmpty((c.cluster as { server?: unknown }).server)) return `cluster "${String(c.name)}" has no server`;
  for (const c of contexts) if (!nonEmpty((c.context as { cluster?: unknown }).cluster)) return `context "${String(c.name)}" names no cluster`;
  const current = cfg['current-context'];
  if (typeof current !== 'string' || current === '') return `it has no current-context (contexts: ${names(contexts)})`;
  const ctx = contexts.find((c) => c.name === current);
  if (!ctx) return `its current-context "${current}" is not among its contexts (${names(contexts)})`;
  const body = ctx.context as { cluster: string; user?: unknown };
  const cluster = clusters.find((c) => c.name === body.cluster);
  if (!cluster) return `context "${current}" names cluster "${body.cluster}", which is not among its clusters (${names(clusters)})`;
  if (body.user !== undefined && !users.some((u) => u.name === body.user)) {
    return `context "${current}" names user "${String(body.user)}", which is not among its users (${names(users)})`;
  }
  return undefined;
}

type Entry = Record<string, unknown>;

function namedList(cfg: Record<string, unknown>, key: string): Entry[] | string {
  const v = cfg[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return `its ${key}: is not a list`;
  for (const [i, e] of v.entries()) if (typeof e !== 'object' || e === null || Array.isArray(e)) return `${key}[${i}] is not a mapping`;
  return v as Entry[];
}

function nonEmpty(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

function names(list: readonly Entry[]): string {
  return list.length === 0 ? 'none' : list.map((e) => String(e.name)).join(', ');
}

import { randomUUID } from 'node:crypto';
import type { ObjectMeta } from '../../crds/index.js';

/** In-memory object store with a global resourceVersion and an event history, like etcd under an API server. */

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  /** The custom resources' metadata, all of it optional on the way in (a create may give `generateName` instead of a name). */
  metadata: Partial<ObjectMeta> & { generateName?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  rv: number;
  resource: string;
  namespace: string;
  type: EventType;
  object: KubeObject;
}

export class ObjectStore {
  rv = 1;
  /** Events with rv <= this were dropped: a watch from an older rv gets 410 Gone. */
  compactedThrough = 0;
  readonly history: StoredEvent[] = [];
  private readonly data = new Map<string, Map<string, KubeObject>>();
  private readonly listeners = new Set<(e: StoredEvent) => void>();

  constructor(readonly historyLimit: number) {}

  private table(resource: string): Map<string, KubeObject> {
    let t = this.data.get(resource);
    if (!t) this.data.set(resource, (t = new Map()));
    return t;
  }

  get(resource: string, ns: string, name: string): KubeObject | undefined {
    const o = this.table(resource).get(`${ns}/${name}`);
    return o ? structuredClone(o) : undefined;
  }

  list(resource: string, ns?: string): KubeObject[] {
    return [...this.table(resource).entries()]
      .filter(([k]) => ns === undefined || k.startsWith(`${ns}/`))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => structuredClone(o));
  }

  namespacesOf(resource: string): string[] {
    return [...new Set([...this.table(resource).keys()].map((k) => k.split('/')[0] ?? ''))];
  }

  /** Stores a new object (caller checked it does not exist), assigning uid, rv, generation, timestamps. */
  create(resource: string, ns: string, obj: KubeObject): KubeObject {
    const rv = ++this.rv;
    obj.metadata.uid = randomUUID();
    obj.metadata.resourceVersion = String(rv);
    obj.metadata.generation = 1;
    obj.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (ns) obj.metadata.namespace = ns;
    this.table(resource).set(`${ns}/${obj.metadata.name}`, structuredClone(obj));
    this.emit({ rv, resource, namespace: ns, type: 'ADDED', object: obj });
    return structuredClone(obj);
  }

  update(resource: string, ns: string, obj: KubeObject): KubeObject {
    const rv = ++this.rv;
    obj.metadata.resourceVersion = String(rv);
    this.table(resource).set(`${ns}/${obj.metadata.name}`, structuredClone(obj));
    this.emit({ rv, resource, namespace: ns, type: 'MODIFIED', object: obj });
    return structuredClone(obj);
  }

  remove(resource: string, ns: string, name: string): KubeObject | undefined {
    const t = this.table(resource);
    const obj = t.get(`${ns}/${name}`);
    if (!obj) return undefined;
    t.delete(`${ns}/${name}`);
    const rv = ++this.rv;
    obj.metadata.resourceVersion = String(rv);
    this.emit({ rv, resource, namespace: ns, type: 'DELETED', object: obj });
    return structuredClone(obj);
  }

  dropResource(resource: string): void {
    for (const o of this.list(resource)) this.remove(resource, o.metadata.namespace ?? '', o.metadata.name ?? '');
    this.data.delete(resource);
  }

  /** Forgets all history up to now, so any watch from an earlier resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedThrough = this.rv;
    this.history.length = 0;
  }

  subscribe(fn: (e: StoredEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(e: StoredEvent): void {
    const ev = { ...e, object: structuredClone(e.object) };
    this.history.push(ev);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compactedThrough = dropped.rv;
    }
    for (const l of this.listeners) l(ev);
  }
}

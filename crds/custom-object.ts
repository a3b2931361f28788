import type { Condition } from './common-schemas.js';

/** The object shape shared by every Strait custom resource, typed by its spec and status. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
}

export interface CustomObject<Spec, Status = { conditions?: Condition[]; observedGeneration?: number }> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}

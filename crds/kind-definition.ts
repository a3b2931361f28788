import type { z } from 'zod';

/** One Strait custom resource kind: its zod schemas (the single source of truth) and its CRD metadata. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindDefinition<Spec extends z.ZodType = z.ZodType, Status extends z.ZodType = z.ZodType> {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  listKind: string;
  shortNames: string[];
  scope: 'Cluster' | 'Namespaced';
  categories: string[];
  description: string;
  spec: Spec;
  status: Status;
  printerColumns: PrinterColumn[];
  /** Rules on the whole object (e.g. spec fields that depend on each other), kept next to the schema. */
  specValidations?: { rule: string; message: string }[];
}

export function defineKind<Spec extends z.ZodType, Status extends z.ZodType>(
  d: Omit<KindDefinition<Spec, Status>, 'listKind' | 'singular' | 'categories'> & { categories?: string[] },
): KindDefinition<Spec, Status> {
  return { ...d, singular: d.kind.toLowerCase(), listKind: `${d.kind}List`, categories: d.categories ?? ['strait'] };
}

export const readyColumn: PrinterColumn = {
  name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status',
};
export const syncedColumn: PrinterColumn = {
  name: 'Synced', type: 'string', jsonPath: '.status.conditions[?(@.type=="Synced")].status',
};
export const ageColumn: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

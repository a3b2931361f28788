import { readFileSync, existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { StraitError } from '../../api/index.js';
import { BUILTIN_NAMES, BUILTIN_TOPOLOGIES } from './builtins.js';
import type { Topology, TopologySpec } from './model.js';
import { resolveTopology } from './resolve.js';

const nodeSchema = z.strictObject({
  name: z.string(),
  gateway: z.boolean().optional(),
  pods: z.number().int().min(0).optional(),
  wan: z.boolean().optional(),
});

const clusterSchema = z.strictObject({
  name: z.string(),
  podCidr: z.string().optional(),
  underlayCidr: z.string().optional(),
  nodes: z.array(nodeSchema).optional(),
  gateways: z.number().int().min(0).optional(),
  workers: z.number().int().min(0).optional(),
  podsPerWorker: z.number().int().min(0).optional(),
});

/** The file format (YAML or JSON); unknown keys are rejected so typos do not pass silently. */
export const topologySpecSchema = z.strictObject({
  name: z.string().min(1),
  clusters: z.array(clusterSchema).min(1),
  router: z.boolean().optional(),
  wan: z.strictObject({ cidr: z.string().optional() }).optional(),
  externals: z.array(z.strictObject({ name: z.string() })).optional(),
});

/** Validates parsed file content into a spec (LAB_TOPOLOGY_INVALID with the offending paths). */
export function parseTopologySpec(data: unknown): TopologySpec {
  const r = topologySpecSchema.safeParse(data);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new StraitError('LAB_TOPOLOGY_INVALID', `invalid topology: ${issues.join('; ')}`, { issues });
  }
  return r.data as TopologySpec;
}

/** Parses YAML or JSON text (JSON is YAML) into a resolved topology. */
export function topologyFromText(text: string, source = 'topology'): Topology {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new StraitError('LAB_TOPOLOGY_INVALID', `${source}: not valid YAML/JSON: ${(e as Error).message}`);
  }
  return resolveTopology(parseTopologySpec(data));
}

/** A built-in name (`two-clusters`, `three-clusters`, `egress`) or a path to a YAML/JSON file. */
export function loadTopology(nameOrFile: string): Topology {
  const builtin = BUILTIN_TOPOLOGIES[nameOrFile];
  if (builtin) return resolveTopology(builtin);
  if (!existsSync(nameOrFile)) {
    throw new StraitError('LAB_TOPOLOGY_NOT_FOUND', `no built-in topology or file named "${nameOrFile}"`, {
      builtins: BUILTIN_NAMES,
    });
  }
  return topologyFromText(readFileSync(nameOrFile, 'utf8'), nameOrFile);
}

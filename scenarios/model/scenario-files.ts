import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StraitError } from '../../api/index.js';
import { parseScenario, type Scenario } from './scenario.js';
import { loadTopology, parseTopologySpec } from '../topology/load.js';
import type { Topology } from '../topology/model.js';
import { resolveTopology } from '../topology/resolve.js';

/** Built-in scenarios live in `scenarios/builtin/*.yaml` (found from the source tree or from dist/). */
export function builtinScenarioDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const d of [join(here, '..', 'builtin'), join(here, '..', '..', '..', 'scenarios', 'builtin')]) if (existsSync(d)) return d;
  throw new StraitError('SCENARIO_NOT_FOUND', `built-in scenario directory not found next to ${here}`);
}

export function builtinScenarioNames(): string[] {
  return readdirSync(builtinScenarioDir())
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.replace(/\.yaml$/, ''))
    .sort();
}

/** A built-in name (`gateway-failover`) or a path to a YAML file. */
export function loadScenario(nameOrFile: string): Scenario {
  const builtin = join(builtinScenarioDir(), `${nameOrFile}.yaml`);
  if (/^[a-z0-9-]+$/.test(nameOrFile) && existsSync(builtin)) return parseScenario(readFileSync(builtin, 'utf8'), `${nameOrFile}.yaml`);
  if (existsSync(nameOrFile)) return parseScenario(readFileSync(nameOrFile, 'utf8'), nameOrFile);
  throw new StraitError('SCENARIO_NOT_FOUND', `no built-in scenario or file "${nameOrFile}" (built-ins: ${builtinScenarioNames().join(', ')})`, {
    name: nameOrFile,
    builtins: builtinScenarioNames(),
  });
}

/** The scenario's topology: a built-in topology name / file, or the inline spec. */
export function scenarioTopology(s: Scenario): Topology {
  return typeof s.topology === 'string' ? loadTopology(s.topology) : resolveTopology(parseTopologySpec(s.topology));
}

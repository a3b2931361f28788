import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { StraitError } from '../../api/index.js';

/**
 * Reads a standalone node agent's pool file: JSON or YAML (YAML is a superset, so one parser reads both) with a
 * `pools:` list in the IPPool shape, plus optional `subnets:` and `reserved:`. Validation of the content is the
 * ipam/ engine's job; this only turns unreadable or unparsable files into a clear error.
 */
export async function readPoolConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new StraitError('AGENT_CONFIG_INVALID', `cannot read the pool config file ${file}: ${(e as Error).message}`, { file });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new StraitError('AGENT_CONFIG_INVALID', `the pool config file ${file} is neither JSON nor YAML: ${(e as Error).message}`, { file });
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray((doc as { pools?: unknown }).pools)) {
    throw new StraitError('AGENT_CONFIG_INVALID', `the pool config file ${file} needs a "pools" list, e.g. {"pools":[{"name":"p1","subnet":"10.77.0.0/24","default":true}]}`, { file });
  }
  return doc;
}

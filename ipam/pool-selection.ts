import { StraitError } from '../api/index.js';
import type { AllocationRequest, PoolCandidates, PoolRejection, PoolSource } from './allocation-request.js';
import type { IpFamily } from './ip-address.js';
import { describeSelector, matchesSelector } from './label-selector.js';
import { poolsFromPodAnnotations } from './pool-annotations.js';
import type { CompiledPool } from './pool-validation.js';

const FAMILIES: readonly IpFamily[] = ['ipv4', 'ipv6'];

/** The outcome of selection for one family: pools to try in order, and those skipped with the reason. */
export interface FamilySelection {
  family: IpFamily;
  candidates: CompiledPool[];
  rejected: PoolRejection[];
}

export interface PoolSelection {
  source: PoolSource;
  families: FamilySelection[];
  explanation: string[];
}

/**
 * Picks the pools an interface may use, with Spiderpool's precedence: explicit request → pod annotation →
 * namespace default → netconf `ippools` → cluster default pools. The first source that names any pool decides
 * every family (a lower source is not consulted for the other family: that would mix intents silently).
 * Disabled and affinity-mismatched pools are skipped here; exhaustion is found when allocating.
 * Pure: no I/O, same input → same answer.
 */
export function selectPools(pools: ReadonlyMap<string, CompiledPool>, ifName: string, namespace: string | undefined, req: AllocationRequest): PoolSelection {
  const explanation: string[] = [];
  let source: PoolSource = 'cluster-default';
  let named: PoolCandidates | undefined;
  const levels: [PoolSource, PoolCandidates | undefined][] = [
    ['request', req.pools],
    ['pod-annotation', poolsFromPodAnnotations(req.podAnnotations, ifName)],
    ['namespace-default', req.namespaceDefaults],
    ['netconf', req.netconfPools],
  ];
  for (const [s, c] of levels) {
    if (c && ((c.ipv4?.length ?? 0) > 0 || (c.ipv6?.length ?? 0) > 0)) {
      source = s;
      named = c;
      break;
    }
  }
  if (!named) {
    named = {};
    for (const p of pools.values()) if (p.spec.default) (named[p.family] ??= []).push(p.name);
  }
  explanation.push(`pools from ${source}: ${FAMILIES.filter((f) => named[f]?.length).map((f) => `${f} [${named[f]!.join(', ')}]`).join('; ') || 'none'}`);

  const nsLabels = { ...(req.namespaceLabels ?? {}), ...(namespace ? { 'kubernetes.io/metadata.name': namespace } : {}) };
  const nodeLabels = { ...(req.node.labels ?? {}), 'kubernetes.io/hostname': req.node.name };
  const podLabels = req.podLabels ?? {};
  const families: FamilySelection[] = [];
  for (const family of FAMILIES) {
    const list = named[family];
    if (!list?.length) continue;
    const sel: FamilySelection = { family, candidates: [], rejected: [] };
    for (const name of list) {
      const p = pools.get(name);
      const reject = (reason: PoolRejection['reason'], detail: string): void => {
        sel.rejected.push({ pool: name, family, reason, detail });
      };
      if (!p) reject('not-found', `no pool named "${name}"`);
      else if (p.family !== family) reject('wrong-family', `pool "${name}" is ${p.family}, named as ${family}`);
      else if (p.spec.disable) reject('disabled', `pool "${name}" is disabled`);
      else if (!matchesSelector(p.spec.namespaceAffinity, nsLabels))
        reject('namespace-affinity', `pool "${name}": namespace ${namespace ?? '(none)'} does not match ${describeSelector(p.spec.namespaceAffinity!)}`);
      else if (!matchesSelector(p.spec.nodeAffinity, nodeLabels))
        reject('node-affinity', `pool "${name}": node ${req.node.name} does not match ${describeSelector(p.spec.nodeAffinity!)}`);
      else if (!matchesSelector(p.spec.podAffinity, podLabels))
        reject('pod-affinity', `pool "${name}": pod labels do not match ${describeSelector(p.spec.podAffinity!)}`);
      else sel.candidates.push(p);
    }
    for (const r of sel.rejected) explanation.push(`${family}: skipped ${r.detail}`);
    families.push(sel);
  }
  if (families.length === 0)
    throw new StraitError('NO_POOL_MATCHES', `no IP pool for interface ${ifName}: no pool is named for it and no pool is marked default`, {
      source,
      candidates: [],
    });
  return { source, families, explanation };
}

/**
 * The error when every candidate of a family was rejected: POOL_NOT_FOUND or POOL_EXHAUSTED when all share that
 * reason (the common, actionable cases), NO_POOL_MATCHES otherwise. The message lists each pool and why.
 */
export function noPoolFits(family: IpFamily, source: PoolSource, rejected: readonly PoolRejection[]): StraitError {
  const all = (r: PoolRejection['reason']): boolean => rejected.length > 0 && rejected.every((x) => x.reason === r);
  const code = all('not-found') ? 'POOL_NOT_FOUND' : all('exhausted') ? 'POOL_EXHAUSTED' : 'NO_POOL_MATCHES';
  const list = rejected.map((r) => r.detail).join('; ');
  const head = code === 'POOL_EXHAUSTED' ? `no free ${family} address` : code === 'POOL_NOT_FOUND' ? `unknown ${family} pool` : `no ${family} pool fits`;
  return new StraitError(code, `${head} (pools from ${source}): ${list}`, {
    family,
    source,
    candidates: rejected.map((r) => ({ ...r })),
  });
}

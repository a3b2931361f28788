import type * as k8s from '@kubernetes/client-node';
import { ALL_KINDS, crdAsClientModel, crdManifestOf, CRD_SCHEMA_HASH_LABEL } from '../../crds/index.js';
import { statusOf, type KubeClient } from './kube-client.js';

export interface CrdInstallResult {
  created: string[];
  upgraded: string[];
  unchanged: string[];
}

/**
 * Installs every Strait CRD, or replaces one whose schema hash label differs (an upgrade); identical ones are left
 * alone so re-running `strait join` writes nothing. Waits until each is Established.
 */
export async function installCrds(kube: KubeClient, opts: { timeoutMs?: number } = {}): Promise<CrdInstallResult> {
  const out: CrdInstallResult = { created: [], upgraded: [], unchanged: [] };
  for (const def of ALL_KINDS) {
    const crd = crdManifestOf(def);
    const name = crd.metadata.name;
    const body = crdAsClientModel(crd) as unknown as k8s.V1CustomResourceDefinition;
    let cur: k8s.V1CustomResourceDefinition | undefined;
    try {
      cur = await kube.ext.readCustomResourceDefinition({ name });
    } catch (e) {
      if (statusOf(e) !== 404) await kube.call(`read CRD ${name}`, () => Promise.reject(e));
    }
    if (!cur) {
      await kube.call(`create CRD ${name}`, () => kube.ext.createCustomResourceDefinition({ body }));
      out.created.push(name);
    } else if (cur.metadata?.labels?.[CRD_SCHEMA_HASH_LABEL] !== crd.metadata.labels[CRD_SCHEMA_HASH_LABEL]) {
      body.metadata = { ...body.metadata, resourceVersion: cur.metadata?.resourceVersion };
      await kube.call(`upgrade CRD ${name}`, () => kube.ext.replaceCustomResourceDefinition({ name, body }));
      out.upgraded.push(name);
    } else out.unchanged.push(name);
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (const def of ALL_KINDS) {
    const name = `${def.plural}.${def.group}`;
    for (;;) {
      const cur = await kube.call(`read CRD ${name}`, () => kube.ext.readCustomResourceDefinition({ name }));
      if (cur.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) await kube.call(`establish CRD ${name}`, () => Promise.reject(new Error('not Established in time')));
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return out;
}

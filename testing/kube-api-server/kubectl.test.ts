import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { startTestKubeApiServer, type TestKubeApiServer } from '../index.js';

// Drives the real kubectl binary against the test API server, as a user of the lab would. kubectl is not an npm
// package: Debian 12 ships only kubectl 1.20 (package kubernetes-client), too old for this test (it reads the
// OpenAPI v2 protobuf document, which the test server does not serve); a machine without kubectl >= 1.27 on its
// PATH skips this file with a notice.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MIN_MINOR = 27;

function kubectlVersion(): { minor: number; text: string } | undefined {
  try {
    const out = execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const v = (JSON.parse(out) as { clientVersion: { minor: string; gitVersion: string } }).clientVersion;
    return { minor: parseInt(v.minor, 10), text: v.gitVersion };
  } catch {
    return undefined;
  }
}

const version = kubectlVersion();
const usable = version !== undefined && version.minor >= MIN_MINOR;
if (!usable) {
  // Loud on purpose: a skipped file is easy to miss in a green run.
  console.warn(`\n*** SKIPPED testing/kube-api-server/kubectl.test.ts: ${version ? `kubectl ${version.text} is older than 1.${MIN_MINOR}` : 'no kubectl on PATH'}; kubectl against the test API server is NOT tested on this machine ***\n`);
}

interface Run { code: number; out: string; err: string }

(usable ? describe : describe.skip)(`kubectl ${version?.text ?? '(absent)'} against the test API server`, () => {
  let server: TestKubeApiServer;
  let dir: string;
  let base: string[];

  /** Runs kubectl without blocking the event loop (the server answering it lives in this process). */
  const kubectl = (...args: string[]): Promise<Run> =>
    new Promise((done) => {
      execFile('kubectl', [...base, ...args], { encoding: 'utf8', timeout: 30_000 }, (e, out, err) => {
        done({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err });
      });
    });
  const ok = async (...args: string[]): Promise<string> => {
    const r = await kubectl(...args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.err}${r.out}`);
    return r.out;
  };
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const rows = (out: string): string[][] => out.trim().split('\n').map((l) => l.trim().split(/\s{2,}/));

  beforeAll(async () => {
    server = await startTestKubeApiServer();
    dir = mkdtempSync(join(tmpdir(), 'strait-kubectl-'));
    base = ['--kubeconfig', server.writeKubeconfig(join(dir, 'kubeconfig')), '--cache-dir', join(dir, 'cache')];
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a CRD with validation on (OpenAPI v3 + server-side field validation) and waits for it to be Established', async () => {
    expect(await ok('apply', '-f', join(root, 'crds/manifests/ippools.ipam.strait.io.yaml'))).toContain('customresourcedefinition.apiextensions.k8s.io/ippools.ipam.strait.io created');
    expect(await ok('wait', '--for', 'condition=Established', 'crd/ippools.ipam.strait.io', '--timeout', '20s')).toContain('condition met');
    expect(await ok('apply', '-f', join(root, 'crds/examples/ippool.yaml'))).toContain('ippool.ipam.strait.io/east-frontend created');
    // Unknown fields are refused (kubectl asks for fieldValidation=Strict), and nothing is created.
    const bad = await kubectl('apply', '-f', file('bad.yaml', 'apiVersion: ipam.strait.io/v1alpha1\nkind: IPPool\nmetadata: {name: bad}\nspec: {cidr: 10.9.0.0/24, bogus: 1}\n'));
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain('unknown field "spec.bogus"');
    expect(server.get('ipam.strait.io', 'ippools', 'bad')).toBeUndefined();
  });

  it('get shows the CRD printer columns (a Table answer), including status columns and -o wide ones', async () => {
    await ok('patch', 'ippool', 'east-frontend', '--subresource', 'status', '--type', 'merge', '-p',
      JSON.stringify({ status: { allocatedIPs: 3, blocks: 2, conditions: [{ type: 'Ready', status: 'True', reason: 'Synced' }, { type: 'Synced', status: 'False', reason: 'BrokerDown' }] } }));
    const table = rows(await ok('get', 'ippools'));
    expect(table[0]).toEqual(['NAME', 'CIDR', 'BLOCK', 'PURPOSE', 'ALLOCATED', 'BLOCKS', 'READY', 'SYNCED', 'AGE']);
    expect(table[1]?.slice(0, 8)).toEqual(['east-frontend', '10.128.4.0/24', '26', 'pods', '3', '2', 'True', 'False']);
    expect(table[1]?.[8]).toMatch(/^\d+s$/);
    expect(rows(await ok('get', 'ippools', '-o', 'wide'))[0]).toContain('DEFAULT');
  });

  it('get -o yaml and describe show the stored object', async () => {
    const obj = parseYaml(await ok('get', 'ippool', 'east-frontend', '-o', 'yaml')) as { spec: { cidr: string; default: boolean }; metadata: { annotations: Record<string, string> } };
    expect(obj.spec.cidr).toBe('10.128.4.0/24');
    expect(obj.spec.default).toBe(false); // the CRD schema's default, applied by the server
    expect(obj.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toContain('east-frontend');
    const text = await ok('describe', 'ippool', 'east-frontend');
    expect(text).toMatch(/^Name:\s+east-frontend$/m);
    expect(text).toMatch(/^\s+Cidr:\s+10\.128\.4\.0\/24$/m);
    expect(text).toMatch(/^Events:\s+<none>$/m);
  });

  it('apply --server-side: applies, conflicts with another manager, and --force-conflicts takes the field', async () => {
    const changed = file('ssa.yaml', 'apiVersion: ipam.strait.io/v1alpha1\nkind: IPPool\nmetadata: {name: east-frontend}\nspec: {cidr: 10.128.4.0/24, blockSize: 27}\n');
    expect(await ok('apply', '--server-side', '-f', changed)).toContain('serverside-applied');
    expect(server.get('ipam.strait.io', 'ippools', 'east-frontend')?.spec).toMatchObject({ blockSize: 27 });
    const other = file('other.yaml', 'apiVersion: ipam.strait.io/v1alpha1\nkind: IPPool\nmetadata: {name: east-frontend}\nspec: {cidr: 10.128.4.0/24, blockSize: 28}\n');
    const refused = await kubectl('apply', '--server-side', '--field-manager', 'other', '-f', other);
    expect(refused.code).not.toBe(0);
    expect(refused.err).toContain('conflict with "kubectl"');
    expect(server.get('ipam.strait.io', 'ippools', 'east-frontend')?.spec).toMatchObject({ blockSize: 27 });
    await ok('apply', '--server-side', '--field-manager', 'other', '--force-conflicts', '-f', other);
    expect(server.get('ipam.strait.io', 'ippools', 'east-frontend')?.spec).toMatchObject({ blockSize: 28 });
  });

  it('label, then get -w sees an update made while it watches', async () => {
    expect(await ok('label', 'ippool', 'east-frontend', 'team=net')).toContain('labeled');
    expect((await ok('get', 'ippools', '-l', 'team=net', '-o', 'name')).trim()).toBe('ippool.ipam.strait.io/east-frontend');
    const watch = spawn('kubectl', [...base, 'get', 'ippools', '-w'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    watch.stdout.on('data', (c: Buffer) => { seen += c.toString(); });
    try {
      await until(() => seen.includes('east-frontend'));
      await ok('patch', 'ippool', 'east-frontend', '--type', 'json', '-p', '[{"op":"replace","path":"/spec/blockSize","value":29}]');
      await until(() => rows(seen).some((r) => r[0] === 'east-frontend' && r[2] === '29'));
      // One header, then one row per event.
      expect(rows(seen).filter((r) => r[0] === 'NAME')).toHaveLength(1);
    } finally {
      watch.kill();
    }
  });

  it('delete --wait returns only once the object is gone (it waits out a finalizer)', async () => {
    await ok('patch', 'ippool', 'east-frontend', '--type', 'merge', '-p', '{"metadata":{"finalizers":["strait.io/test"]}}');
    let finished = false;
    const deleting = kubectl('delete', 'ippool', 'east-frontend', '--wait', '--timeout', '25s').then((r) => { finished = true; return r; });
    await until(() => server.get('ipam.strait.io', 'ippools', 'east-frontend')?.metadata.deletionTimestamp !== undefined);
    await new Promise((r) => setTimeout(r, 500));
    expect(finished).toBe(false);
    await ok('patch', 'ippool', 'east-frontend', '--type', 'json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]');
    const r = await deleting;
    expect(r.code).toBe(0);
    expect(r.out).toContain('ippool.ipam.strait.io "east-frontend" deleted');
    expect(server.get('ipam.strait.io', 'ippools', 'east-frontend')).toBeUndefined();
    expect((await kubectl('get', 'ippools')).err).toContain('No resources found');
  });

  it('typed create commands (protobuf bodies): namespace, configmap, secret, serviceaccount', async () => {
    await ok('create', 'namespace', 'frontend');
    expect(server.get('', 'namespaces', 'frontend')?.metadata.labels).toEqual({ 'kubernetes.io/metadata.name': 'frontend' });
    await ok('create', 'configmap', 'c1', '-n', 'frontend', '--from-literal', 'a=b');
    await ok('create', 'secret', 'generic', 's1', '-n', 'frontend', '--from-literal', 'token=abc');
    await ok('create', 'serviceaccount', 'robot', '-n', 'frontend');
    expect(server.get('', 'configmaps', 'c1', 'frontend')?.data).toEqual({ a: 'b' });
    expect(server.get('', 'secrets', 's1', 'frontend')).toMatchObject({ type: 'Opaque', data: { token: Buffer.from('abc').toString('base64') } });
    expect(rows(await ok('get', 'secrets', '-n', 'frontend'))[1]?.slice(0, 3)).toEqual(['s1', 'Opaque', '1']);
    expect(server.get('', 'serviceaccounts', 'robot', 'frontend')).toBeDefined();
    // A kind it cannot decode is refused by name, and nothing is created.
    const refused = await kubectl('create', 'deployment', 'x', '-n', 'frontend', '--image', 'i');
    expect(refused.err).toContain('decodes protobuf only for');
    expect(server.list('apps', 'deployments', 'frontend')).toEqual([]);
    expect(await ok('delete', 'namespace', 'frontend', '--wait')).toContain('deleted');
    expect(server.get('', 'secrets', 's1', 'frontend')).toBeUndefined();
  });

  it('built-ins: client-side apply computes a strategic merge patch the server applies; pods show READY/STATUS/IP', async () => {
    const deployment = (image: string, env: string): string => [
      'apiVersion: apps/v1', 'kind: Deployment', 'metadata: {name: web, namespace: default}',
      'spec:', '  selector: {matchLabels: {app: web}}', '  template:', '    metadata: {labels: {app: web}}', '    spec:', '      containers:',
      `      - {name: a, image: "${image}", env: [${env}]}`, '      - {name: b, image: busybox}', '',
    ].join('\n');
    await ok('apply', '-f', file('d1.yaml', deployment('nginx:1', '{name: X, value: "1"}, {name: Y, value: "2"}')));
    expect(await ok('apply', '-f', file('d2.yaml', deployment('nginx:2', '{name: X, value: "1"}')))).toContain('deployment.apps/web configured');
    const d = server.get('apps', 'deployments', 'web', 'default') as unknown as { spec: { template: { spec: { containers: unknown[] } } } };
    expect(d.spec.template.spec.containers).toEqual([{ name: 'a', image: 'nginx:2', env: [{ name: 'X', value: '1' }] }, { name: 'b', image: 'busybox' }]);
    expect(rows(await ok('get', 'deploy', 'web'))[0]).toEqual(['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE']);

    await ok('apply', '-f', file('pod.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: default, labels: {app: web}}\nspec: {nodeName: n1, containers: [{name: c, image: i}]}\n'));
    await ok('patch', 'pod', 'p1', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"phase":"Running","podIP":"10.128.4.11","containerStatuses":[{"name":"c","ready":true,"restartCount":1}]}}');
    const pods = rows(await ok('get', 'pods', '-o', 'wide', '--field-selector', 'spec.nodeName=n1', '-l', 'app=web'));
    expect(pods[0]).toEqual(['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES']);
    expect(pods[1]?.slice(0, 4)).toEqual(['p1', '1/1', 'Running', '1']);
    expect(pods[1]?.slice(5, 7)).toEqual(['10.128.4.11', 'n1']);
    expect(await ok('delete', 'deploy', 'web', '--wait')).toContain('deleted');
  });
});

async function until(fn: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStraitError } from '../../api/index.js';
import { loadKubeConfig } from './kube-client.js';
import { kubeconfigProblem } from './kubeconfig-problem.js';

const GOOD = `apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster: { server: https://127.0.0.1:6443 }
users:
- name: admin
  user: { token: abc }
contexts:
- name: ctx
  context: { cluster: c1, user: admin }
current-context: ctx
`;

describe('kubeconfigProblem says what is wrong with the file', () => {
  it.each([
    ['empty', '', 'the file is empty'],
    ['blank', '  \n\n', 'the file is empty'],
    ['comments only', '# nothing here\n', 'the file holds no YAML document'],
    ['not YAML', 'clusters: [\n  - {name: a\n', 'the file is not YAML'],
    ['a list', '- a\n- b\n', 'its top level is a list'],
    ['a scalar', 'hello\n', 'its top level is a string'],
    ['no clusters', 'apiVersion: v1\nkind: Config\n', 'it has no clusters'],
    ['clusters not a list', 'clusters: {a: 1}\n', 'its clusters: is not a list'],
    ['no contexts', GOOD.replace(/contexts:[\s\S]*?current-context/, 'current-context'), 'it has no contexts'],
    ['no current context', GOOD.replace('current-context: ctx\n', ''), 'it has no current-context (contexts: ctx)'],
    ['unknown current context', GOOD.replace('current-context: ctx', 'current-context: prod'), 'current-context "prod" is not among its contexts (ctx)'],
    ['missing cluster', GOOD.replace('cluster: c1, user', 'cluster: c9, user'), 'context "ctx" names cluster "c9", which is not among its clusters (c1)'],
    ['no server', GOOD.replace('cluster: { server: https://127.0.0.1:6443 }', 'cluster: { insecure-skip-tls-verify: true }'), 'cluster "c1" has no server'],
    ['missing user', GOOD.replace('user: admin }', 'user: root }'), 'context "ctx" names user "root", which is not among its users (admin)'],
    ['nameless entry', GOOD.replace('- name: admin\n  user:', '- user:'), 'users[0] has no name'],
  ])('%s', (_name, text, expected) => {
    expect(kubeconfigProblem(text)).toContain(expected);
  });

  it('accepts a usable kubeconfig, also one whose context has no user', () => {
    expect(kubeconfigProblem(GOOD)).toBeUndefined();
    expect(kubeconfigProblem(GOOD.replace(', user: admin', ''))).toBeUndefined();
  });
});

describe('loadKubeConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-kubeconfig-'));
  const write = (name: string, text: string): string => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['/dev/null', 'kubeconfig /dev/null: the file is empty'],
    [join(dir, 'missing.yaml'), `cannot read kubeconfig ${join(dir, 'missing.yaml')}: no such file`],
    [dir, `cannot read kubeconfig ${dir}: it is a directory`],
  ])('%s → KUBECONFIG_INVALID saying so', (file, message) => {
    const err = catchError(() => loadKubeConfig(file));
    expect(isStraitError(err, 'KUBECONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toBe(message);
    expect((err as Error).message).not.toMatch(/Cannot read properties/);
  });

  it('names the missing user of the current context', () => {
    const f = write('nouser.yaml', GOOD.replace('user: admin }', 'user: root }'));
    expect((catchError(() => loadKubeConfig(f)) as Error).message).toBe(`kubeconfig ${f}: context "ctx" names user "root", which is not among its users (admin)`);
  });

  it('loads a good file with its current cluster', () => {
    const kc = loadKubeConfig(write('good.yaml', GOOD));
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}


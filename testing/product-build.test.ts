import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = process.cwd();
const exec = promisify(execFile);

async function check(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await exec(process.execPath, ['scripts/check-build-files.mjs', ...args], { cwd: root });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, out: `${x.stdout ?? ''}${x.stderr ?? ''}` };
  }
}

describe('the product build holds no test-only code (scripts/check-build-files.mjs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-build-check-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('tsconfig.build.json: no testing/, conformance suite, e2e suite or bench', async () => {
    const r = await check();
    expect(r.out).toContain('no test-only code');
    expect(r.code).toBe(0);
  }, 120_000);

  it('catches test-only files pulled in through imports (the old build config, which excluded only tests and testing/)', async () => {
    const old = join(dir, 'tsconfig.old-build.json');
    writeFileSync(old, JSON.stringify({
      extends: join(root, 'tsconfig.json'),
      compilerOptions: { noEmit: false, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] },
      exclude: [join(root, 'node_modules'), join(root, 'dist'), join(root, '**/*.test.ts'), join(root, 'testing')],
    }));
    const r = await check('--project', old);
    expect(r.code).toBe(1);
    // The test Kubernetes API server came in through a bench that imports testing/.
    expect(r.out).toContain('testing/kube-api-server/server.ts: test-only file in the build');
    expect(r.out).toContain('tunnel/conformance-suite.ts: test-only file in the build');
  }, 120_000);
});

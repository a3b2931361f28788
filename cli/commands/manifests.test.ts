import { describe, it, expect, jest } from '@jest/globals';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as k8s from '@kubernetes/client-node';
import type { Command } from '@commander-js/extra-typings';
import { parseAllDocuments } from 'yaml';
import { isStraitError } from '../../api/index.js';
import { IMAGE_PATHS, defaultInstallOptions, installObjects } from '../../deploy/index.js';
import { buildProgram } from '../program.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string): string => readFileSync(`${repo}${p}`, 'utf8');
const dockerfile = read('Dockerfile');
const pkg = JSON.parse(read('package.json')) as { version: string; scripts: Record<string, string> };
/** Dockerfile instructions with their continuation lines joined. */
const instructions = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

async function runCli(args: string[]): Promise<{ out: string; err: unknown }> {
  let out = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'strait', ...args]);
    return { out, err: undefined };
  } catch (e) {
    return { out, err: e };
  } finally {
    spy.mockRestore();
  }
}

describe('strait manifests', () => {
  it('prints deploy/strait.yaml (the same objects) without flags, and applies the flags', async () => {
    const { out, err } = await runCli(['manifests']);
    expect(err).toBeUndefined();
    const docs = (t: string): unknown[] => parseAllDocuments(t).map((d) => d.toJS() as unknown).filter(Boolean);
    expect(docs(out)).toEqual(docs(read('deploy/strait.yaml')));
    const custom = await runCli(['manifests', '--image', 'reg.example/strait:dev', '--gateway-candidate', 'gw1=10.0.0.1@100', '--gateway-arg=--wan-dev=eth1', '--broker', 'https://b.example']);
    expect(custom.out).toContain('image: reg.example/strait:dev');
    expect(custom.out).toContain('- gw1=10.0.0.1@100');
    expect(custom.out).toContain('- --wan-dev=eth1');
    expect(custom.out).toContain('value: https://b.example');
  });

  it('refuses bad flags with a clear error and prints nothing', async () => {
    const r = await runCli(['manifests', '--lease-redis', 'not a url']);
    expect(isStraitError(r.err, 'INVALID_ARGUMENT')).toBe(true);
    expect((r.err as Error).message).toMatch(/--lease-redis must be a redis:\/\/ or unix:\/\/ URL/);
    expect(r.out).toBe('');
  });
});

describe('the Dockerfile and the manifests agree (no Docker engine here, so this is what CI can check)', () => {
  const program = buildProgram();
  const containers = (installObjects(defaultInstallOptions(pkg.version)) as { kind: string; spec?: { template?: { spec?: k8s.V1PodSpec } } }[])
    .flatMap((o) => [...(o.spec?.template?.spec?.initContainers ?? []), ...(o.spec?.template?.spec?.containers ?? [])]);

  it('copies only files that exist, and builds with the scripts package.json has', () => {
    const copies = instructions.filter((l) => /^COPY /i.test(l) && !/--from=/.test(l));
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      const sources = c.split(/\s+/).slice(1, -1);
      for (const s of sources) expect([s, existsSync(`${repo}${s}`)]).toEqual([s, true]);
    }
    // The build stage's outputs: node_modules (npm ci), dist (npm run build) and package.json.
    expect(dockerfile).toContain('RUN npm ci');
    expect(pkg.scripts.build).toMatch(/tsc -p tsconfig\.build\.json/);
    for (const c of instructions.filter((l) => /^COPY --from=build /.test(l))) expect(c).toMatch(/\/src\/(package\.json|node_modules|dist) /);
    // install-cni finds the plugin next to package.json (repoRoot()): both must be in the image's home.
    expect(dockerfile).toMatch(new RegExp(`WORKDIR ${IMAGE_PATHS.home}\\n`));
    expect(dockerfile).toContain('COPY --from=build /src/package.json ./package.json');
    expect(dockerfile).toContain('COPY bin ./bin');
  });

  it('installs only packages the project\'s system package list knows (scripts/system-packages.sh)', () => {
    const known = new Set((/STRAIT_DEBIAN_PACKAGES=\(([^)]*)\)/.exec(read('scripts/system-packages.sh'))?.[1] ?? '').split(/\s+/).filter(Boolean));
    const apt = instructions.find((l) => l.includes('apt-get install'))!;
    const packages = apt.split('--no-install-recommends')[1]!.split('&&')[0]!.split(/\s+/).filter(Boolean);
    expect(packages.length).toBeGreaterThan(5);
    for (const p of packages) expect([p, known.has(p)]).toEqual([p, true]);
    // What the agents exec most: ip, nft, wg, wireguard-go, sysctl (procps), nc for the CNI shim.
    expect(packages).toEqual(expect.arrayContaining(['iproute2', 'nftables', 'wireguard-tools', 'wireguard-go', 'procps', 'netcat-openbsd']));
  });

  it('the entrypoint every container runs is in the image and starts the CLI', () => {
    expect(new Set(containers.map((c) => c.command?.[0]))).toEqual(new Set([IMAGE_PATHS.entrypoint]));
    expect(dockerfile).toContain(`ln -s ${IMAGE_PATHS.home}/bin/strait /usr/local/bin/${IMAGE_PATHS.entrypoint}`);
    expect(dockerfile).toContain(`ENTRYPOINT ["/usr/local/bin/${IMAGE_PATHS.entrypoint}"]`);
    accessSync(`${repo}bin/strait`, constants.X_OK);
    accessSync(`${repo}bin/strait-ipam`, constants.X_OK);
    expect(read('bin/strait')).toContain("import '../dist/cli/main.js'");
    expect(existsSync(`${repo}cli/main.ts`)).toBe(true);
  });

  it('every container runs a strait command with flags that command has', () => {
    const byName = new Map((program.commands as Command[]).map((c) => [c.name(), c]));
    const used = new Set<string>();
    for (const c of containers) {
      const [sub, ...rest] = c.args ?? [];
      const cmd = byName.get(sub ?? '');
      expect([c.name, sub, cmd !== undefined]).toEqual([c.name, sub, true]);
      used.add(sub!);
      const longs = new Set(cmd!.options.map((o) => o.long));
      for (const a of rest.filter((x) => x.startsWith('--'))) expect([sub, a, longs.has(a.split('=')[0]!)]).toEqual([sub, a, true]);
    }
    expect([...used].sort()).toEqual(['gateway', 'install-cni', 'member-agent', 'node-agent', 'node-steer']);
  });
});

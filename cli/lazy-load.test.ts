import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../host/index.js';

// `bin/strait` used to import every room (and the Kubernetes client's ~800 modules) before it parsed its argv: 1.9 s
// of CPU at load 20 and 11 s wall for `--help`, paid by every test, lab and agent that runs the CLI. The command tree
// is now a registry whose actions import their room on first use; this runs the built CLI with a module-load hook
// and checks what each start actually loaded.
const MAIN = new URL('../dist/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'strait-lazy-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A loader hook that appends every module URL it loads to $STRAIT_LOAD_LOG. */
const HOOKS = "import { appendFileSync } from 'node:fs'; export async function load(url, context, next) { appendFileSync(process.env.STRAIT_LOAD_LOG, url + '\\n'); return next(url, context); }";
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});`;

interface Loaded {
  code: number;
  first: string;
  /** Strait's top-level folders a module was loaded from (cli, gateway, …). */
  rooms: string[];
  /** npm packages loaded. */
  packages: string[];
}

let n = 0;
async function strait(args: string[]): Promise<Loaded> {
  const log = join(dir, `load-${++n}.log`);
  const r = await run([process.execPath, '--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, MAIN, ...args], {
    allowFailure: true,
    timeoutMs: 60_000,
    env: { ...process.env, STRAIT_LOAD_LOG: log, STRAIT_LOG_LEVEL: 'error' },
  });
  const urls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const dist = new URL('../dist/', import.meta.url).href;
  const rooms = new Set<string>();
  const packages = new Set<string>();
  for (const u of urls) {
    if (u.startsWith(dist)) rooms.add(u.slice(dist.length).split('/')[0]!);
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
    if (m) packages.add(m[1]!);
  }
  return { code: r.code ?? -1, first: r.stderr.split('\n')[0] ?? '', rooms: [...rooms].sort(), packages: [...packages].sort() };
}

describe('the CLI loads only the command it runs', () => {
  it.each([[['--help']], [['-V']], [['gateway', '--help']], [['node-agent', '--help']], [['broker', '--help']], [['lab', 'up', '--help']]])('%j loads the registry and no room but defaults/', async (args) => {
    const r = await strait(args);
    expect(r.code).toBe(0);
    // defaults/ is constants only (no imports): what the help shows, owned where the rooms apply it from.
    expect(r.rooms).toEqual(['cli', 'defaults']);
    expect(r.packages).toEqual(['@commander-js/extra-typings']);
  });

  it('a gateway start loads the gateway room, not the member agent or the Kubernetes client (no --kubeconfig)', async () => {
    const r = await strait(['gateway', '--cluster', 'c1', '--name', 'g9', '--lease-redis', join(dir, 'no-redis.sock'), '--candidate', 'g1=127.0.0.1@100', '--run-id', 'lzload']);
    // The error behaviour is the eager tree's (cli/daemon-start-failure.test.ts has the full case).
    expect([r.code, r.first]).toEqual([1, 'error GATEWAY_INVALID_CONFIG: --name g9 is not among the --candidate entries']);
    expect(r.rooms).toContain('gateway');
    expect(r.rooms).not.toContain('member-agent');
    expect(r.rooms).not.toContain('scenarios');
    expect(r.packages).not.toContain('@kubernetes/client-node');
  });

  it('a broker start loads the broker room, not the lab or the member agent; a bad flag is still one catalog line', async () => {
    const r = await strait(['broker', '--owner-grace', 'soon', '--state-dir', join(dir, 'broker')]);
    expect([r.code, r.first]).toEqual([1, 'error INVALID_ARGUMENT: --owner-grace wants seconds, got "soon"']);
    expect(r.rooms).not.toContain('scenarios');
    expect(r.rooms).not.toContain('member-agent');
  });
});

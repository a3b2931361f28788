import { describe, expect, it } from '@jest/globals';
import { ESLint, type Linter } from 'eslint';
import tseslint from 'typescript-eslint';

// The very rule blocks `npm run lint` applies (eslint.config.js exports them for this test; a variable
// specifier because the config is plain JavaScript without types).
const CONFIG = '../eslint.config.js';
const { loggingRules, productImports, productRoomsWithoutLab } = (await import(CONFIG)) as { loggingRules: Linter.Config; productImports: Linter.Config; productRoomsWithoutLab: Linter.Config };

/** Lints `code` as if it were the file `path`, with only the house rules under test (no type information needed). */
async function lint(path: string, code: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: process.cwd(),
    overrideConfigFile: true,
    overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, productImports, productRoomsWithoutLab, loggingRules],
  });
  const [result] = await eslint.lintText(code, { filePath: path });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('house lint rules', () => {
  it.each([
    ['gateway/agent-main.ts', "import { describeRoot } from '../testing/index.js';\n"],
    ['member-agent/cluster/join.ts', "import { startTestKubeApiServer } from '../../testing/index.js';\n"],
    ['tunnel/registry.ts', "import { seededRandom } from '../testing/seeded-random.js';\n"],
    ['cli/commands/lab.ts', "import { it } from '@jest/globals';\n"],
    ['host/exec.ts', "import type { TestRedis } from '../testing/index.js';\n"],
  ])('a product file (%s) importing the test face or Jest fails', async (path, code) => {
    const msgs = await lint(path, code);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatch(/^no-restricted-imports: .*product code must not import/);
  });

  it.each([
    ['tunnel/registry.test.ts'],
    ['tunnel/conformance-suite.ts'],
    ['gateway/lease-store.conformance.ts'],
    ['scenarios/lab-e2e-suite.ts'],
    ['member-agent/cluster/sync.bench.ts'],
    ['tunnel/bench-tunnels.ts'],
    ['testing/root.ts'],
  ])('test-only files (%s) may import them', async (path) => {
    expect(await lint(path, "import { it } from '@jest/globals';\nimport { describeRoot } from '../testing/index.js';\n")).toEqual([]);
  });

  // Issue #11: gateway/egress-lab.ts and tunnel/two-gateway-topology.ts, labs only tests used, imported the scenarios
  // lab from inside product rooms; they live in scenarios/topology/ now.
  it.each([
    ['gateway/egress-lab.ts', "import { labUp } from '../scenarios/index.js';\n"],
    ['tunnel/two-gateway-topology.ts', "import { TWO_GATEWAYS_NET } from '../scenarios/index.js';\n"],
    ['member-agent/node-agent/agent.ts', "import { cniPod } from '../../scenarios/topology/hand-built.js';\n"],
    ['broker/app.ts', "export { labUp } from '../scenarios/index.js';\n"],
    ['host/exec.ts', "import type { LabStepEvent } from '../scenarios/index.js';\n"],
  ])('a product room\'s file (%s) importing the lab fails', async (path, code) => {
    const msgs = await lint(path, code);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatch(/^no-restricted-imports: .*product rooms must not import scenarios/);
  });

  it.each([
    ['gateway/egress/egress-failover.root.test.ts'],
    ['tunnel/bench-tunnels.ts'],
    ['member-agent/node-agent/cni-bench.ts'],
    ['cli/commands/lab.ts'],
    ['scenarios/runner/gateway-backend.ts'],
    ['testing/root.ts'],
  ])('tests, benches, the CLI and the lab itself (%s) may import the lab', async (path) => {
    expect(await lint(path, "import { labUp } from '../scenarios/index.js';\n")).toEqual([]);
  });

  it('the product rooms still may not import the test face or Jest under the lab rule', async () => {
    const msgs = await lint('gateway/agent-main.ts', "import { it } from '@jest/globals';\nimport { describeRoot } from '../testing/index.js';\n");
    expect(msgs).toHaveLength(2);
  });

  it('a folder merely named like testing is not confused with it', async () => {
    expect(await lint('gateway/agent-main.ts', "import { x } from './attesting/index.js';\n")).toEqual([]);
  });

  it.each([
    ['log.warn({ err: String(e) }, "x");', 'not String(e)'],
    ['log.warn({ err: e.message }, "x");', 'not e.message'],
    ['this.o.log.debug({ kind, err: (e as Error).message }, "x");', 'not e.message'],
    ['log.warn({ err: `${e}` }, "x");', 'not a string'],
    ['interface Log { warn(o: object): void }', 'one logger type'],
    ['type Logger = { info(o: object): void };', 'one logger type'],
  ])('logging: %s fails', async (code, why) => {
    const msgs = await lint('gateway/agent-main.ts', `declare const e: Error; declare const log: any; declare const kind: string;\n${code}\n`);
    expect(msgs.join('\n')).toContain(why);
  });

  it('logging: the error object passes', async () => {
    expect(await lint('gateway/agent-main.ts', 'declare const e: Error; declare const log: any;\nlog.warn({ err: e }, "x");\n')).toEqual([]);
  });
});

// House rule: the product build (tsconfig.build.json → dist/) holds no test-only file. tsconfig's `exclude`
// only keeps a file from being a root: an import from product code pulls it back in, as the test face
// testing/ (the test Kubernetes API server included) once came in through a bench. This lists what tsc would
// compile and fails on any test-only file, and on any file that imports Jest.
//
//   node scripts/check-build-files.mjs [--project tsconfig.build.json] [--benches]
// --benches: the bench build (tsconfig.bench.json), where bench files belong but the rest does not (benches run
// under plain node, where importing @jest/globals throws).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const { values } = parseArgs({ options: { project: { type: 'string', default: 'tsconfig.build.json' }, benches: { type: 'boolean', default: false } } });

/** Test-only by name (the same list as TEST_ONLY_FILES in eslint.config.js). */
const BENCH = /bench[^/]*\.ts$/;
const TEST_ONLY = [/^testing\//, /(^|\/)testing\.ts$/, /\.test\.ts$/, /\.conformance\.ts$/, /(^|\/)conformance-suite\.ts$/, /(^|[\/-])e2e-suite\.ts$/, ...(values.benches ? [] : [BENCH])];
/** Known exceptions, each with the reason it still ships (none today). */
const SHIPPED_ANYWAY = new Set(/** @type {string[]} */ ([]));

const tsc = resolve(root, 'node_modules', 'typescript', 'bin', 'tsc');
const out = execFileSync(process.execPath, [tsc, '-p', values.project, '--listFilesOnly'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
const files = out
  .split('\n')
  .filter((f) => f.trim() && !f.includes('/node_modules/'))
  .map((f) => relative(root, f.trim()))
  .filter((f) => !f.startsWith('..'));

const bad = [];
for (const f of files) {
  if (TEST_ONLY.some((re) => re.test(f)) && !SHIPPED_ANYWAY.has(f)) bad.push(`${f}: test-only file in the build`);
  else if (/from\s+['"]@jest\/globals['"]/.test(readFileSync(resolve(root, f), 'utf8'))) bad.push(`${f}: imports @jest/globals`);
}
if (bad.length) {
  console.error(`${values.project}: test-only code in the build (find the product import that pulls it in):\n${bad.join('\n')}`);
  process.exit(1);
}
console.log(`build: ${files.length} files in ${values.project}, no test-only code`);

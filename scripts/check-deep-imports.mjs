// House rule: a top-level folder is reached only through its index.ts. Fails on `../other/deep.js` imports.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const rooms = ['api', 'cli', 'defaults', 'host', 'testing', 'ipam', 'broker', 'member-agent', 'gateway', 'tunnel', 'crds', 'scenarios', 'deploy'];
const bad = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) check(p);
  }
}
function check(file) {
  const from = relative(root, file).split(sep)[0];
  const src = readFileSync(file, 'utf8');
  for (const m of src.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = relative(root, resolve(dirname(file), m[1])).split(sep);
    const room = target[0];
    if (room === from || !rooms.includes(room)) continue;
    const rest = target.slice(1).join('/');
    // testing/ is the test face: it re-exports the test doubles and conformance suites that live beside their
    // interfaces, and the rooms' own test faces (<room>/testing.ts), so the product faces can leave them out.
    if (from === 'testing' && (/(^|[/.-])(fake|conformance)([-.]|$)/.test(rest) || rest === 'testing.js')) continue;
    // Benchmarks (built only by tsconfig.bench.json) may use another room's benchmark code, which no face exports.
    if (/bench[^/]*\.ts$/.test(file) && /bench[^/]*\.js$/.test(rest)) continue;
    if (rest !== 'index.js' && rest !== 'index.ts' && rest !== '') bad.push(`${relative(root, file)}: deep import ${m[1]}`);
  }
}
for (const r of rooms) walk(join(root, r));
if (bad.length) {
  console.error(`Deep imports across folders (import the folder's index.js instead):\n${bad.join('\n')}`);
  process.exit(1);
}
console.log('imports: no deep imports across folders');

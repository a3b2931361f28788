// `npm run bench:ipam` entry (runs from dist/ after the build).
import { runCniBench } from './cni-bench.js';

const arg = process.argv.indexOf('--iterations');
const iterations = arg > 0 ? Number.parseInt(process.argv[arg + 1] ?? '', 10) : undefined;
await runCniBench({ ...(iterations ? { iterations } : {}), doc: !process.argv.includes('--no-doc'), command: `npm run bench:ipam${iterations ? ` -- --iterations ${iterations}` : ''}` });

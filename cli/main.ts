import { buildProgram } from './program.js';
import { reportError } from './report-error.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  process.exitCode = reportError(e, process.argv.includes('--json') || process.argv.includes('-o=json'));
}

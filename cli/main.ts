import { buildProgram } from './program.js';
import { reportError } from './report-error.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  process.exitCode = reportError(e, process.argv.includes('--json') || process.argv.includes('-o=json'));
  // A daemon whose start failed has already stopped what it started; a handle some library still holds must not keep
  // a failed command running (unref: an idle process exits at once as before).
  setTimeout(() => process.exit(), 3000).unref();
}

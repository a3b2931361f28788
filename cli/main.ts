import { buildProgram } from './program.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  // Loaded only on a failure: it needs the error catalog (api/), which a command that succeeds may never load.
  const { reportError } = await import('./report-error.js');
  process.exitCode = reportError(e, process.argv.includes('--json') || process.argv.includes('-o=json'));
  // A daemon whose start failed has already stopped what it started; a handle some library still holds must not keep
  // a failed command running (unref: an idle process exits at once as before).
  setTimeout(() => process.exit(), 3000).unref();
}

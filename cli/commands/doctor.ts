import type { Command } from '@commander-js/extra-typings';

export function registerDoctorCommands(program: Command): void {
  program
    .command('doctor')
    .description('Check kernel features and packages; show which implementation each tunnel type will use and how to fix what is missing')
    .option('--json', 'print the report as JSON')
    .action(async (opts) => {
      const [{ detectCapabilities, TUNNEL_TYPES }, { formatDoctorReport }] = await Promise.all([import('../../tunnel/index.js'), import('./doctor-report.js')]);
      const caps = await detectCapabilities();
      if (opts.json) process.stdout.write(`${JSON.stringify(caps, null, 2)}\n`);
      else process.stdout.write(`${formatDoctorReport(caps)}\n`);
      const missing = TUNNEL_TYPES.filter((t) => !caps.implementations[t].available);
      if (missing.length > 0) process.exitCode = 1;
    });
}

import type { Command } from '@commander-js/extra-typings';
import { packageVersion } from '../package-version.js';

export function registerVersionCommand(program: Command): void {
  program.version(packageVersion(), '-V, --version');
}

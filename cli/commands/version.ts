import type { Command } from '@commander-js/extra-typings';
import { readFileSync } from 'node:fs';

export function registerVersionCommand(program: Command): void {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  program.version(pkg.version, '-V, --version');
}

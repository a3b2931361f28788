import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from the sources under jest and from dist/ otherwise). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'bin', 'strait-ipam'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the Strait repository root');
    dir = up;
  }
  return dir;
}

import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { straitMainPath } from './agent-argv.js';

describe('straitMainPath', () => {
  // The argv builders live two folders below the repository root (gateway/agents/): the path must still land on the
  // repository's dist/cli/main.js, not on gateway/dist/….
  it('names dist/cli/main.js at the repository root', () => {
    const main = straitMainPath();
    expect(main.endsWith(join('dist', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(join(dirname(dirname(dirname(main))), 'package.json'))).toBe(true);
  });
});

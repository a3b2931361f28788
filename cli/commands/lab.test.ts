import { describe, expect, it } from '@jest/globals';
import { isStraitError } from '../../api/index.js';
import { Command } from '@commander-js/extra-typings';
import { downTarget } from './lab-down-target.js';
import { registerLabCommands } from './lab.js';

// `strait lab down RUNID` is how docs/scenarios.md and the runner's own messages write it; it used to stop at
// commander's "too many arguments for 'down'".
describe('strait lab down', () => {
  it('takes the run id as an argument, as --run-id, or --all', () => {
    expect(downTarget('ab12', {})).toEqual({ runId: 'ab12' });
    expect(downTarget(undefined, { runId: 'ab12' })).toEqual({ runId: 'ab12' });
    expect(downTarget('ab12', { runId: 'ab12' })).toEqual({ runId: 'ab12' });
    expect(downTarget(undefined, { all: true })).toBe('all');
  });

  it('refuses nothing, two different ids, or an id with --all', () => {
    for (const [p, o] of [[undefined, {}], ['ab12', { runId: 'cd34' }], ['ab12', { all: true }], [undefined, { runId: 'ab12', all: true }]] as const) {
      let err: unknown;
      try {
        downTarget(p, o);
      } catch (e) {
        err = e;
      }
      expect(isStraitError(err) && err.code).toBe('INVALID_ARGUMENT');
    }
  });

  it('parses `lab down RUNID` and goes looking for that run (none here: LAB_NOT_FOUND, nothing removed)', async () => {
    const program = new Command('strait').exitOverride();
    registerLabCommands(program);
    const exitOverride = (c: Command): void => {
      c.exitOverride();
      c.commands.forEach((s) => exitOverride(s as unknown as Command));
    };
    exitOverride(program);
    // A run id no lab uses: the command reaches labDown, which finds nothing and says so.
    const err = await program.parseAsync(['lab', 'down', 'zq9x8w'], { from: 'user' }).then(() => null, (e: unknown) => e);
    expect(isStraitError(err) ? err.code : String(err)).toBe('LAB_NOT_FOUND');
  });
});

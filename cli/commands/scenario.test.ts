import { describe, expect, it } from '@jest/globals';
import { Command } from '@commander-js/extra-typings';
import { isStraitError } from '../../api/index.js';
import { registerScenarioCommands } from './scenario.js';

async function refusal(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerScenarioCommands(program);
  try {
    await program.parseAsync(['node', 'strait', 'scenario', 'run', ...args]);
  } catch (e) {
    if (isStraitError(e, 'INVALID_ARGUMENT')) return e.message;
    throw e;
  }
  throw new Error('accepted');
}

// Refused before anything starts (no lab, no stress-ng, no root needed to see the refusal).
describe('strait scenario run: steady options', () => {
  it('refuses --duration for a failover scenario and --trials/--only for a steady one', async () => {
    await expect(refusal(['gateway-failover', '--duration', '5'])).resolves.toMatch(/--duration applies to steady scenarios only/);
    await expect(refusal(['steady', '--trials', '2'])).resolves.toMatch(/steady scenario .* --trials and --only do not apply/);
    await expect(refusal(['steady', '--only', 'partition'])).resolves.toMatch(/--trials and --only do not apply/);
  });

  it('refuses a duration that is not whole seconds in range', async () => {
    for (const d of ['0', '1.5', 'ten', '86401']) await expect(refusal(['steady', '--duration', d])).resolves.toMatch(/--duration must be whole seconds 1\.\.86400/);
  });
});

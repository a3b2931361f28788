import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { armCommand } from './armed-command.js';

describe('armCommand', () => {
  it('stamps the fault only once the target program runs, and the input reaches it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strait-armed-'));
    // The prefix stands in for `ip netns exec NS chrt …`: slow to start (as the fork into a namespace is on a loaded
    // host), then it execs the target. A stamp taken before the command would come before `started`.
    const prefix = ['sh', '-c', `sleep 0.3; date +%s%3N > ${dir}/started; exec "$0" "$@"`];
    const cmd = await armCommand(prefix, ['sh', '-c', `cat > ${dir}/input`]);
    const { at, doneAt } = await cmd.fire('link set dev eth0 down\n');
    const started = Number(readFileSync(join(dir, 'started'), 'utf8'));
    expect(started).toBeGreaterThan(0);
    expect(at).toBeGreaterThanOrEqual(started);
    expect(doneAt).toBeGreaterThanOrEqual(at);
    expect(readFileSync(join(dir, 'input'), 'utf8')).toBe('link set dev eth0 down\n');
  });

  it('a command that fails when fired rejects with what it said', async () => {
    const cmd = await armCommand([], ['sh', '-c', 'cat > /dev/null; echo "no such device" >&2; exit 3']);
    await expect(cmd.fire('x\n')).rejects.toThrow(/exit 3.*no such device/s);
  });

  it('a command that dies before it is armed rejects with its exit and output', async () => {
    await expect(armCommand(['sh', '-c', 'echo "netns gone" >&2; exit 1'], ['ip', '-batch', '-'])).rejects.toThrow(/exited before it was armed.*netns gone/s);
  });

  it('abort kills an armed command that is not fired', async () => {
    const cmd = await armCommand([], ['cat']);
    cmd.abort();
    await expect(cmd.fire('')).rejects.toThrow(/failed/);
  });
});

import { describe, expect, it } from '@jest/globals';
import { ExecError, execWith } from './exec.js';

class RoomError extends Error {}

describe('execWith', () => {
  const exec = execWith((e, o) => new RoomError(`room: ${e.result.code} input=${String(o.input)}`), { timeoutMs: 5000 });

  it('runs the command and returns its output', async () => {
    await expect(exec(['sh', '-c', 'cat'], { input: 'hi' })).resolves.toEqual({ code: 0, stdout: 'hi', stderr: '' });
  });

  it("turns a failure into the room's error, with the options it ran with", async () => {
    const err = await exec(['sh', '-c', 'cat >/dev/null; exit 3'], { input: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RoomError);
    expect((err as Error).message).toBe('room: 3 input=x');
  });

  it('leaves a failure alone when allowed, and an undefined option keeps the default', async () => {
    await expect(exec(['sh', '-c', 'exit 4'], { allowFailure: true, timeoutMs: undefined })).resolves.toMatchObject({ code: 4 });
    const slow = execWith((e) => e, { timeoutMs: 50 });
    await expect(slow(['sleep', '5'], { timeoutMs: undefined })).rejects.toBeInstanceOf(ExecError);
  });
});

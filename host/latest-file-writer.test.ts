import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LatestFileWriter } from './latest-file-writer.js';

describe('LatestFileWriter', () => {
  const dirs: string[] = [];
  const dir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'strait-lfw-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('leaves the newest text in place, and no temporary file, once flushed', async () => {
    const d = dir();
    const w = new LatestFileWriter(join(d, 'status.json'));
    for (let i = 0; i < 50; i++) w.write(`{"n":${i}}\n`);
    await w.flush();
    expect(readFileSync(join(d, 'status.json'), 'utf8')).toBe('{"n":49}\n');
    expect(readdirSync(d)).toEqual(['status.json']);
  });

  it('write returns at once; flush resolves once the text is in place', async () => {
    const d = dir();
    const w = new LatestFileWriter(join(d, 's'));
    w.write('first');
    await w.flush();
    expect(readFileSync(join(d, 's'), 'utf8')).toBe('first');
    await w.flush(); // nothing pending: resolves at once
  });

  it('coalesces: texts written while one write is in flight collapse into the newest', async () => {
    const d = dir();
    const seen: string[] = [];
    const w = new LatestFileWriter(join(d, 's'));
    w.write('a');
    w.write('b');
    w.write('c');
    // Watch the file between writes: only the first and the last text can ever be seen.
    while (seen.length === 0 || seen[seen.length - 1] !== 'c') {
      await new Promise((r) => setImmediate(r));
      try {
        const t = readFileSync(join(d, 's'), 'utf8');
        if (seen[seen.length - 1] !== t) seen.push(t);
      } catch {
        // not there yet
      }
    }
    await w.flush();
    expect(seen.every((t) => t === 'a' || t === 'c')).toBe(true);
  });

  it('reports a failed write and carries on with the next one', async () => {
    const d = dir();
    const errors: unknown[] = [];
    const bad = new LatestFileWriter(join(d, 'missing-dir', 's'), (e) => errors.push(e));
    bad.write('x');
    await bad.flush();
    expect(errors).toHaveLength(1);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ENOENT');
    bad.write('y');
    await bad.flush();
    expect(errors).toHaveLength(2);
  });
});

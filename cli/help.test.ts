import { describe, expect, it } from '@jest/globals';
import type { Command } from '@commander-js/extra-typings';
import { hostname } from 'node:os';
import { packageVersion } from './package-version.js';
import { buildProgram } from './program.js';

/** Every command path of the tree, depth first, with the help text `strait <path> --help` prints. */
function helpOf(c: Command, path: string[] = []): [string, string][] {
  // 80 columns, as in a pipe: a terminal's own width would wrap the text differently.
  c.configureOutput({ getOutHelpWidth: () => 80 });
  const text = c
    .helpInformation()
    // Machine- and release-dependent defaults (node-agent --node-name, manifests --image) would make the snapshot local.
    .replaceAll(`"${hostname()}"`, '"<hostname>"')
    .replaceAll(`:${packageVersion()}"`, ':<version>"');
  return [[['strait', ...path].join(' '), text], ...(c.commands as Command[]).flatMap((s) => helpOf(s, [...path, s.name()]))];
}

// The command tree is a light registry and each action imports its room on first use (so `--help` and every start
// load only what they run). The help text is the registry's contract: the snapshot was taken from the eager tree
// (every room imported up front) before the change, so any command, option, default or description lost or changed
// on the way fails here.
describe('strait help', () => {
  const all = helpOf(buildProgram() as unknown as Command);

  it('lists the same commands with the same help text', () => {
    expect(all.map(([p]) => p)).toMatchSnapshot('command paths');
    for (const [path, text] of all) expect(text).toMatchSnapshot(path);
  });
});

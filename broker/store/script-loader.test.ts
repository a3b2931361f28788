import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { BrokerKeys } from './keys.js';
import { BROKER_LUA_DIR, parseKeysHeader, parseKeysSections, type KeysLine } from './script-loader.js';

const header = (...lines: string[]): string => `--[[\n  test: a script.\n${lines.join('\n')}\n]]\nreturn 1`;

/** The KEYS groups the broker's includes define (their headers' `KEYS <group>:` sections). */
function includeGroups(): Map<string, KeysLine[]> {
  const groups = new Map<string, KeysLine[]>();
  for (const f of readdirSync(new URL('includes/', BROKER_LUA_DIR))) {
    for (const [g, lines] of parseKeysSections(readFileSync(new URL(`includes/${f}`, BROKER_LUA_DIR), 'utf8'))) if (g !== '') groups.set(g, lines);
  }
  return groups;
}

describe('KEYS headers', () => {
  it('name the keys in order, with prefixes and the rest', () => {
    const k = parseKeysHeader(header('  KEYS:', '    rev                  KEY.rev', '    poolOf*              a prefix', '    ...guards            more', '  ARGV: x'));
    expect(k).toEqual({ names: ['rev', 'poolOf'], prefixes: new Set(['poolOf']), rest: 'guards' });
  });

  it('expand a group in place, nested groups too, and a key two groups share once', () => {
    const groups = parseKeysSections(header(
      '  KEYS inner: what a helper touches',
      '    heldOf*              a prefix',
      '    queue                KEY.q',
      '  KEYS outer: what its caller touches',
      '    rev                  KEY.rev',
      '    @inner',
      '  KEYS other:',
      '    rev                  KEY.rev',
      '    list                 KEY.list',
    ));
    const k = parseKeysHeader(header('  KEYS:', '    first                KEY.first', '    @outer               the outer group', '    @other', '    idem                 KEY.idem'), groups);
    expect(k).toEqual({ names: ['first', 'rev', 'heldOf', 'queue', 'list', 'idem'], prefixes: new Set(['heldOf']), rest: undefined });
  });

  it('refuse a key named twice, an unknown group, a group that names itself, and a key that is a prefix in one place only', () => {
    expect(() => parseKeysHeader(header('  KEYS:', '    rev', '    rev'))).toThrow('KEYS names rev twice');
    expect(() => parseKeysHeader(header('  KEYS:', '    @nowhere'))).toThrow('no KEYS group nowhere in its includes');
    const loop = parseKeysSections(header('  KEYS a:', '    x', '    @a'));
    expect(() => parseKeysHeader(header('  KEYS:', '    @a'), loop)).toThrow('the KEYS group a names itself');
    const mixed = parseKeysSections(header('  KEYS a:', '    x*'));
    expect(() => parseKeysHeader(header('  KEYS:', '    x', '    @a'), mixed)).toThrow('KEYS names x as a prefix and as a key');
    expect(() => parseKeysSections(header('  KEYS a:', '    x', '  KEYS a:', '    y'))).toThrow('the KEYS group a is defined twice');
  });

  // The Lua includes name the keys their functions touch once, as groups; BrokerKeys names the same groups for the
  // callers. A key added on one side only would be passed and not declared (orderKeys throws), or declared and
  // never passed.
  it.each([
    ['holderRelease', (k: BrokerKeys) => k.holderRelease()],
    ['holderIndex', (k: BrokerKeys) => k.holderIndex()],
    ['blockRelease', (k: BrokerKeys) => k.blockRelease()],
    ['addressRelease', (k: BrokerKeys) => k.addressRelease()],
  ])('the includes\' group %s is BrokerKeys\' group of that name', (group, of) => {
    const k = parseKeysHeader(header('  KEYS:', `    @${group}`), includeGroups());
    expect([...(k?.names ?? [])].sort()).toEqual(Object.keys(of(new BrokerKeys('t'))).sort());
  });
});

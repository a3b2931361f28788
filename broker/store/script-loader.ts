import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** One Lua script as Redis runs it: its includes expanded, its KEYS from its header. */
export interface LuaScript {
  name: string;
  /** How many KEYS the script takes; undefined when the caller passes extra keys after the named ones (`...name`). */
  numberOfKeys: number | undefined;
  lua: string;
  /** The header's KEYS in order (K.<name> in the script); empty for a script written with `keys: N`. */
  keyNames?: readonly string[];
  /** Named keys that are a prefix: the script appends to them a part it reads from Redis (e.g. a pool name). */
  prefixKeys?: ReadonlySet<string>;
  /** The name of the extra keys the caller may pass after the named ones (`...name` in the header). */
  restKeys?: string | undefined;
}

/** The broker's scripts: `lua/` beside this module (the build copies it into dist/ next to the .js). */
export const BROKER_LUA_DIR = new URL('./lua/', import.meta.url);

/** One line of a KEYS section: a key (`name`, `name*` for a prefix), the keys of a group (`@group`), or the rest (`...name`). */
export type KeysLine = { key: string; prefix: boolean } | { group: string } | { rest: string };

/**
 * The KEYS sections of a header: the script's own (`KEYS:`, under the name '') and the key groups a header names
 * (`KEYS <group>: …`, written in the include whose functions touch those keys):
 *
 *     KEYS:
 *       rev            KEY.rev
 *       poolBlocksOf*  KEY.poolBlocks('') — a prefix: the script appends the pool of the block it releases
 *       @holderRelease the keys of that group, in its order
 *       ...guards      any number of keys after the named ones
 *
 * one name per line, in the order the caller passes them. A `*` marks a prefix key.
 */
export function parseKeysSections(text: string): Map<string, KeysLine[]> {
  const header = /^--\[\[([\s\S]*?)\]\]/.exec(text)?.[1] ?? '';
  const out = new Map<string, KeysLine[]>();
  let section: KeysLine[] | undefined;
  for (const line of header.split('\n')) {
    const head = /^\s*KEYS(?: ([A-Za-z][A-Za-z0-9]*))?:/.exec(line);
    if (head) {
      const name = head[1] ?? '';
      if (out.has(name)) throw new Error(name ? `the KEYS group ${name} is defined twice` : 'two KEYS sections');
      out.set(name, (section = []));
      continue;
    }
    const m = section && /^ {4}(\.\.\.|@)?([A-Za-z][A-Za-z0-9]*)(\*)?(\s|$)/.exec(line);
    if (!section || !m) {
      section = undefined;
      continue;
    }
    section.push(m[1] === '...' ? { rest: m[2]! } : m[1] === '@' ? { group: m[2]! } : { key: m[2]!, prefix: m[3] !== undefined });
    if (m[1] === '...') section = undefined;
  }
  return out;
}

/**
 * The script's KEYS (its `KEYS:` section, the groups it names expanded from `groups`), or undefined without one. A
 * key named twice in one section is a mistake; a key that two groups share (the release groups both name `rev`) is
 * one key, at its first place.
 */
export function parseKeysHeader(text: string, groups: ReadonlyMap<string, readonly KeysLine[]> = new Map()): { names: string[]; prefixes: Set<string>; rest: string | undefined } | undefined {
  const own = parseKeysSections(text).get('');
  if (!own) return undefined;
  const names: string[] = [];
  const prefixes = new Set<string>();
  let rest: string | undefined;
  const add = (lines: readonly KeysLine[], via: readonly string[]): void => {
    const here = new Set<string>();
    for (const l of lines) {
      if ('rest' in l) {
        rest = l.rest;
      } else if ('group' in l) {
        const g = groups.get(l.group);
        if (!g) throw new Error(`no KEYS group ${l.group} in its includes`);
        if (via.includes(l.group)) throw new Error(`the KEYS group ${l.group} names itself`);
        add(g, [...via, l.group]);
      } else {
        if (here.has(l.key)) throw new Error(`KEYS names ${l.key} twice`);
        here.add(l.key);
        if (names.includes(l.key)) {
          if (prefixes.has(l.key) !== l.prefix) throw new Error(`KEYS names ${l.key} as a prefix and as a key`);
          continue;
        }
        names.push(l.key);
        if (l.prefix) prefixes.add(l.key);
      }
    }
  };
  add(own, []);
  if (names.length === 0) throw new Error('the KEYS section names no key');
  return { names, prefixes, rest };
}

/**
 * Reads `<dir>/<name>.lua`, expanding `--@include <name>` lines with `<dir>/includes/<name>.lua` (each at most once).
 * The header either has a KEYS section (see parseKeysSections; its `@group`s come from the headers of the includes
 * it expands): the script then starts with `local K = {<name> = KEYS[1], …}`, so its code and its includes use
 * `K.<name>` for the keys the header names; or it says `keys: N`, the number of KEYS the script reads itself.
 */
export function readLuaScript(dir: URL, name: string): LuaScript {
  const seen = new Set<string>();
  const groups = new Map<string, KeysLine[]>();
  const expand = (text: string): string =>
    text.replace(/^--@include ([a-z0-9-]+)[ \t]*$/gm, (_, inc: string) => {
      if (seen.has(inc)) return '';
      seen.add(inc);
      const body = readFileSync(new URL(`includes/${inc}.lua`, dir), 'utf8');
      for (const [g, lines] of parseKeysSections(body)) if (g !== '') groups.set(g, lines);
      return expand(body);
    });
  const text = readFileSync(new URL(`${name}.lua`, dir), 'utf8');
  let keys: ReturnType<typeof parseKeysHeader>;
  let lua: string;
  try {
    lua = expand(text);
    keys = parseKeysHeader(text, groups);
  } catch (e) {
    throw new Error(`${name}.lua: ${(e as Error).message}`, { cause: e });
  }
  if (keys) {
    const bind = `local K = {${keys.names.map((k, i) => `${k} = KEYS[${i + 1}]`).join(', ')}}\n`;
    return { name, numberOfKeys: keys.rest ? undefined : keys.names.length, lua: bind + lua, keyNames: keys.names, prefixKeys: keys.prefixes, restKeys: keys.rest };
  }
  const n = /^\s*keys: (\d+)/m.exec(text);
  if (!n) throw new Error(`${name}.lua: the header has no KEYS section and no "keys: N"`);
  return { name, numberOfKeys: Number(n[1]), lua };
}

/**
 * The KEYS of one call in the order the script's header names them, from the caller's keys by name: a key the
 * header names and the caller leaves out, or one the caller passes that the header does not name, is a bug.
 */
export function orderKeys(s: LuaScript, keys: Readonly<Record<string, string>>, rest: readonly string[] = []): string[] {
  const names = s.keyNames ?? [];
  const out = names.map((n) => {
    const k = keys[n];
    if (k === undefined) throw new Error(`${s.name}.lua: the call passes no key ${n}`);
    return k;
  });
  if (Object.keys(keys).length !== names.length) throw new Error(`${s.name}.lua: the call passes keys the header does not name: ${Object.keys(keys).filter((k) => !names.includes(k)).join(', ')}`);
  if (rest.length > 0 && !s.restKeys) throw new Error(`${s.name}.lua takes no keys after its named ones`);
  return rest.length > 0 ? [...out, ...rest] : out;
}

export type ScriptCall = (...keysThenArgs: (string | number)[]) => Promise<unknown>;

/**
 * Registers scripts on a connection with ioredis `defineCommand` (EVALSHA, loading the script again only after a
 * NOSCRIPT, e.g. when Redis restarted) and returns one function per script taking its KEYS, then its ARGV. A
 * script with a varying number of KEYS (numberOfKeys undefined) takes that number first.
 */
export function defineScripts<N extends string>(redis: Redis, namespace: string, scripts: Record<N, LuaScript>): Record<N, ScriptCall> {
  const out = {} as Record<N, ScriptCall>;
  const r = redis as unknown as Record<string, ScriptCall>;
  for (const [name, s] of Object.entries(scripts) as [N, LuaScript][]) {
    const cmd = `${namespace}_${name.replace(/-/g, '_')}`;
    redis.defineCommand(cmd, s.numberOfKeys === undefined ? { lua: s.lua } : { numberOfKeys: s.numberOfKeys, lua: s.lua });
    out[name] = (...a) => (r[cmd] as ScriptCall).call(redis, ...a);
  }
  return out;
}

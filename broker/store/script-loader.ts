import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** One Lua script as Redis runs it: its includes expanded, its KEYS count from its header. */
export interface LuaScript {
  name: string;
  numberOfKeys: number;
  lua: string;
}

/** The broker's scripts: `lua/` beside this module (the build copies it into dist/ next to the .js). */
export const BROKER_LUA_DIR = new URL('./lua/', import.meta.url);

/**
 * Reads `<dir>/<name>.lua`, expanding `--@include <name>` lines with `<dir>/includes/<name>.lua` (each at most once).
 * The header must say `keys: N`: the number of KEYS the script takes.
 */
export function readLuaScript(dir: URL, name: string): LuaScript {
  const seen = new Set<string>();
  const expand = (text: string): string =>
    text.replace(/^--@include ([a-z0-9-]+)[ \t]*$/gm, (_, inc: string) => {
      if (seen.has(inc)) return '';
      seen.add(inc);
      return expand(readFileSync(new URL(`includes/${inc}.lua`, dir), 'utf8'));
    });
  const text = readFileSync(new URL(`${name}.lua`, dir), 'utf8');
  const keys = /^\s*keys: (\d+)/m.exec(text);
  if (!keys) throw new Error(`${name}.lua: the header names no "keys: N"`);
  return { name, numberOfKeys: Number(keys[1]), lua: expand(text) };
}

export type ScriptCall = (...keysThenArgs: (string | number)[]) => Promise<unknown>;

/**
 * Registers scripts on a connection with ioredis `defineCommand` (EVALSHA, loading the script again only after a
 * NOSCRIPT, e.g. when Redis restarted) and returns one function per script taking its KEYS, then its ARGV.
 */
export function defineScripts<N extends string>(redis: Redis, namespace: string, scripts: Record<N, LuaScript>): Record<N, ScriptCall> {
  const out = {} as Record<N, ScriptCall>;
  const r = redis as unknown as Record<string, ScriptCall>;
  for (const [name, s] of Object.entries(scripts) as [N, LuaScript][]) {
    const cmd = `${namespace}_${name.replace(/-/g, '_')}`;
    redis.defineCommand(cmd, { numberOfKeys: s.numberOfKeys, lua: s.lua });
    out[name] = (...a) => (r[cmd] as ScriptCall).call(redis, ...a);
  }
  return out;
}

import { StraitError } from '../api/index.js';

/** RFC 8259 whitespace (space, tab, LF, CR), then an object or an array: the only bodies the API takes (as @koa/bodyparser's jsonStrict). */
function strictJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b || c === 0x5b;
  }
  return false;
}
/** A `"__proto__":` key, also spelled with \u escapes (the pattern of @hapi/bourne, which the body parser uses). */
const SUSPECT_PROTO = /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:/;

const malformed = (): StraitError => new StraitError('MALFORMED_JSON', 'the request body is not valid JSON (an object is expected)');

/**
 * A request body as the API reads it, with what @koa/bodyparser (jsonStrict, utf-8) would answer: an empty body is
 * `{}`; a leading byte-order mark is dropped; anything but an object or an array, invalid JSON, and an object with
 * an own `__proto__` key anywhere (prototype poisoning) are MALFORMED_JSON. Pure: the caller reads the bytes.
 */
export function parseJsonBody(bytes: Buffer): unknown {
  if (bytes.length === 0) return {};
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) return {};
  if (!strictJson(text)) throw malformed();
  let out: unknown;
  try {
    out = JSON.parse(text);
  } catch {
    throw malformed();
  }
  if (SUSPECT_PROTO.test(text) && holdsProtoKey(out)) throw malformed();
  return out;
}

/** True when some object in `v` has an own `__proto__` property (JSON.parse makes it an own key, not the prototype). */
function holdsProtoKey(v: unknown): boolean {
  let next: unknown[] = [v];
  while (next.length > 0) {
    const nodes = next;
    next = [];
    for (const node of nodes) {
      if (!node || typeof node !== 'object') continue;
      if (Object.prototype.hasOwnProperty.call(node, '__proto__')) return true;
      for (const value of Object.values(node)) if (value && typeof value === 'object') next.push(value);
    }
  }
  return false;
}

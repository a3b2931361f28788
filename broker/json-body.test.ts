import { describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { isStraitError } from '../api/index.js';
import { parseJsonBody } from './json-body.js';

// What the broker answered before it read whole bodies itself: @koa/bodyparser's JSON parser (co-body, strict,
// utf-8), run on the same bytes. Every case must come out the same: the same value, or a refusal (MALFORMED_JSON).
const coBody = createRequire(import.meta.url)('co-body') as { json(req: unknown, opts: object): Promise<{ parsed: unknown }> };
async function viaBodyParser(bytes: Buffer): Promise<unknown> {
  const req = Object.assign(Readable.from([bytes]), { headers: { 'content-length': String(bytes.length) } });
  try {
    return (await coBody.json(req, { strict: true, encoding: 'utf-8', returnRawBody: true, limit: 1 << 20 })).parsed;
  } catch {
    return 'refused';
  }
}
function viaParseJsonBody(bytes: Buffer): unknown {
  try {
    return parseJsonBody(bytes);
  } catch (e) {
    if (isStraitError(e) && e.code === 'MALFORMED_JSON') return 'refused';
    throw e;
  }
}

const CASES: [string, Buffer][] = [
  ['an object', Buffer.from('{"cluster":"east","node":"n1"}')],
  ['an array', Buffer.from(' [1,2]')],
  ['empty', Buffer.alloc(0)],
  ['whitespace only', Buffer.from(' \n ')],
  ['a byte-order mark before an object', Buffer.from('\ufeff{"a":1}')],
  ['a byte-order mark alone', Buffer.from('\ufeff')],
  ['a string', Buffer.from('"x"')],
  ['a number', Buffer.from('1')],
  ['null', Buffer.from('null')],
  ['truncated', Buffer.from('{"name":')],
  ['trailing garbage', Buffer.from('{"a":1}x')],
  ['a __proto__ key', Buffer.from('{"a":{"__proto__":{"admin":true}}}')],
  ['an escaped __proto__ key', Buffer.from('{"\\u005f_proto__":{"admin":true}}')],
  ['__proto__ as a value', Buffer.from('{"a":"__proto__"}')],
  ['a constructor key', Buffer.from('{"constructor":{"prototype":{}}}')],
  ['invalid UTF-8 inside a string', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])],
  ['multi-byte text', Buffer.from('{"d":"nœud-é"}')],
  ['a leading tab and CR', Buffer.from('\t\r{"a":[]}')],
  ['a leading form feed', Buffer.from('\f{"a":1}')],
];

describe('parseJsonBody reads a body as @koa/bodyparser did', () => {
  it.each(CASES)('%s', async (_name, bytes) => {
    expect(viaParseJsonBody(bytes)).toEqual(await viaBodyParser(bytes));
  });
});

import { isStraitError } from '../api/index.js';

/** 'ok' when the promise resolves, the catalogued code when it rejects with a StraitError; anything else rethrows. */
export async function outcomeCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isStraitError(e)) return e.code;
    throw e;
  }
}

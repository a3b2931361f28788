/**
 * The JSONPath subset CRD printer columns use (`additionalPrinterColumns[].jsonPath`): `.a.b`, `['a.b']`, `[0]`,
 * `[*]` and filters `[?(@.type=="Ready")]` (==, !=, or a bare `@.field` for existence). Pure; a path outside the
 * subset is an error, so a CRD with one is refused rather than shown wrong.
 */

type Step =
  | { kind: 'field'; name: string }
  | { kind: 'index'; index: number }
  | { kind: 'all' }
  | { kind: 'filter'; path: string[]; op?: '==' | '!='; value?: unknown };

export class JsonPathError extends Error {}

export function parseJsonPath(expr: string): Step[] {
  let s = expr.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  if (s.startsWith('$')) s = s.slice(1);
  const steps: Step[] = [];
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (ch === '.') {
      const m = /^\.([A-Za-z0-9_\-$]+)/.exec(s.slice(i));
      if (!m) throw new JsonPathError(`unsupported JSONPath ${expr} at ${i}`);
      steps.push({ kind: 'field', name: m[1] ?? '' });
      i += m[0].length;
    } else if (ch === '[') {
      const end = closingBracket(s, i);
      const inner = s.slice(i + 1, end).trim();
      i = end + 1;
      let m: RegExpExecArray | null;
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if ((m = /^'([^']*)'$|^"([^"]*)"$/.exec(inner))) steps.push({ kind: 'field', name: m[1] ?? m[2] ?? '' });
      else if ((m = /^\?\(\s*@((?:\.[A-Za-z0-9_\-$]+)+)\s*(?:(==|!=)\s*(.+?))?\s*\)$/.exec(inner))) {
        const path = (m[1] ?? '').slice(1).split('.');
        steps.push(m[2] ? { kind: 'filter', path, op: m[2] as '==' | '!=', value: literal(m[3] ?? '', expr) } : { kind: 'filter', path });
      } else throw new JsonPathError(`unsupported JSONPath ${expr}: [${inner}]`);
    } else throw new JsonPathError(`unsupported JSONPath ${expr} at ${i}`);
  }
  return steps;
}

function closingBracket(s: string, open: number): number {
  let quote: string | undefined;
  let depth = 0;
  for (let j = open; j < s.length; j++) {
    const c = s[j];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') {
      depth--;
      if (depth === 0 && c === ']') return j;
    }
  }
  throw new JsonPathError(`unclosed [ in JSONPath ${s}`);
}

function literal(text: string, expr: string): unknown {
  const t = text.trim();
  const q = /^'([^']*)'$|^"([^"]*)"$/.exec(t);
  if (q) return q[1] ?? q[2] ?? '';
  if (t === 'true' || t === 'false') return t === 'true';
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  throw new JsonPathError(`unsupported literal ${t} in JSONPath ${expr}`);
}

function at(v: unknown, path: string[]): unknown {
  let cur = v;
  for (const p of path) cur = cur !== null && typeof cur === 'object' && !Array.isArray(cur) ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

/** Every value the path selects in `doc` (missing fields select nothing). */
export function evaluateJsonPath(steps: Step[], doc: unknown): unknown[] {
  let cur: unknown[] = [doc];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (step.kind === 'field') {
        if (v !== null && typeof v === 'object' && !Array.isArray(v) && step.name in v) next.push((v as Record<string, unknown>)[step.name]);
      } else if (step.kind === 'index') {
        if (Array.isArray(v)) {
          const item: unknown = v[step.index < 0 ? v.length + step.index : step.index];
          if (item !== undefined) next.push(item);
        }
      } else if (step.kind === 'all') {
        if (Array.isArray(v)) next.push(...(v as unknown[]));
        else if (v !== null && typeof v === 'object') next.push(...Object.values(v));
      } else if (Array.isArray(v)) {
        for (const item of v as unknown[]) {
          const x = at(item, step.path);
          if (step.op === undefined ? x !== undefined : step.op === '==' ? x === step.value : x !== undefined && x !== step.value) next.push(item);
        }
      }
    }
    cur = next;
  }
  return cur;
}

/** Label and field selectors as the Kubernetes API server parses them (the subset controllers use). */

type Requirement = (labels: Record<string, string>) => boolean;

export function parseLabelSelector(s: string | null | undefined): (labels: Record<string, string> | undefined) => boolean {
  if (!s) return () => true;
  const reqs: Requirement[] = [];
  // Split on commas that are not inside a set "(a,b)".
  const terms: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(cur);
      cur = '';
    } else cur += ch;
  }
  terms.push(cur);
  for (const raw of terms) {
    const t = raw.trim();
    if (!t) continue;
    let m: RegExpMatchArray | null;
    if ((m = t.match(/^(\S+)\s+(in|notin)\s+\((.*)\)$/))) {
      const [, key = '', op, list = ''] = m;
      const vals = list.split(',').map((v) => v.trim());
      reqs.push(op === 'in' ? (l) => key in l && vals.includes(l[key] ?? '') : (l) => !(key in l) || !vals.includes(l[key] ?? ''));
    } else if ((m = t.match(/^(\S+?)\s*(!=|==|=)\s*(\S*)$/))) {
      const [, key = '', op, val = ''] = m;
      reqs.push(op === '!=' ? (l) => l[key] !== val : (l) => l[key] === val);
    } else if (t.startsWith('!')) {
      const key = t.slice(1).trim();
      reqs.push((l) => !(key in l));
    } else {
      reqs.push((l) => t in l);
    }
  }
  return (labels) => reqs.every((r) => r(labels ?? {}));
}

export function parseFieldSelector(s: string | null | undefined): (obj: Record<string, unknown>) => boolean {
  if (!s) return () => true;
  const reqs = s.split(',').filter(Boolean).map((t) => {
    const m = t.match(/^([^=!]+?)\s*(!=|==|=)\s*(.*)$/);
    if (!m) throw new Error(`bad field selector ${t}`);
    const [, path = '', op, val] = m;
    const parts = path.trim().split('.');
    return (o: Record<string, unknown>): boolean => {
      let cur: unknown = o;
      for (const p of parts) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined;
      const v = cur === undefined || cur === null ? '' : String(cur as string);
      return op === '!=' ? v !== val : v === val;
    };
  });
  return (o) => reqs.every((r) => r(o));
}

import type { LabelSelector } from './model.js';

/** Kubernetes label selector matching: every matchLabels entry and every expression must hold. */
export function matchesSelector(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const ex of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, ex.key);
    const value = labels[ex.key];
    switch (ex.operator) {
      case 'In':
        if (!has || !(ex.values ?? []).includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && (ex.values ?? []).includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

export function describeSelector(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const ex of selector.matchExpressions ?? []) {
    if (ex.operator === 'Exists') parts.push(ex.key);
    else if (ex.operator === 'DoesNotExist') parts.push(`!${ex.key}`);
    else parts.push(`${ex.key} ${ex.operator === 'In' ? 'in' : 'notin'} (${(ex.values ?? []).join(',')})`);
  }
  return parts.join(',') || '(everything)';
}

/** The comment at the top of the printed/generated manifests: how they were made and what to do next. */
export function manifestsHeader(how: string): string {
  return [
    `# Strait install manifests. ${how}`,
    '# Apply: kubectl apply --server-side -f <this file>; then `strait join` (docs/install.md). The node and gateway',
    '# agents start once the Secret strait-system/strait-cluster-credentials written by `strait join` exists.',
    '',
  ].join('\n');
}

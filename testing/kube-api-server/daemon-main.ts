// The test Kubernetes API server as a process of its own, for the lab (`strait lab up --kube` starts one per
// cluster). It is still the TEST server (testing/kube-api-server, not a product component); `npm run build` builds it
// beside the product (tsconfig.lab-kube.json) because the lab, which ships, runs it.
//
//   node dist/testing/kube-api-server/daemon-main.js --dir DIR --identities FILE [--port N] [--server-url URL]
//
// FILE is JSON: [{"file":"node-agent","user":"system:serviceaccount:…","rules":[KubeAccess…] | "all"}]. Each identity
// gets a fresh random bearer token and DIR/<file>.kubeconfig; the server answers 403 (as RBAC would) to a request
// its rules do not grant. Once it listens it writes DIR/api.pid and DIR/api.url (the pid file last: waiters poll it).
// SIGTERM/SIGINT end it.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { usersFor, type LabKubeIdentity } from './rbac-users.js';
import { TestKubeApiServer } from './server.js';

function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { dir: { type: 'string' }, identities: { type: 'string' }, port: { type: 'string', default: '0' }, 'history-limit': { type: 'string', default: '20000' } } });
  if (!values.dir || !values.identities) throw new Error('usage: daemon-main --dir DIR --identities FILE [--port N]');
  const dir = values.dir;
  const identities = JSON.parse(readFileSync(values.identities, 'utf8')) as LabKubeIdentity[];
  // Every refusal is logged: a component whose declared access misses a call shows up here (and gets the 403).
  const { users, tokens, anonymous } = usersFor(identities, (user, why) => process.stderr.write(`403 ${user}: cannot ${why}\n`));
  const server = new TestKubeApiServer({ port: Number(values.port), users, ...(anonymous ? { anonymous } : {}), historyLimit: Number(values['history-limit']) });
  await server.start();
  for (const id of identities) writeAtomically(join(dir, `${id.file}.kubeconfig`), server.kubeconfigYaml(tokens.get(id.file)));
  writeAtomically(join(dir, 'api.url'), `${server.url}\n`);
  writeAtomically(join(dir, 'api.pid'), `${process.pid}\n`);
  process.stderr.write(`test kube API server ${server.url} (pid ${process.pid}), ${identities.length} identities\n`);
  const stop = (): void => {
    const counts = Object.fromEntries(server.requestsByUser);
    process.stderr.write(`stopping; requests by user: ${JSON.stringify(counts)}\n`);
    rmSync(join(dir, 'api.pid'), { force: true });
    void server.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});

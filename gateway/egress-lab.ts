import { mkdirSync, writeFileSync } from 'node:fs';
import { deleteNetns, ensureNetns, netnsName, pidsInNetns, run, runDir, sh, stopPid } from '../host/index.js';

/**
 * The small egress topology of the lab cookbook (section 5), namespaced by run id, for gateway tests when the full
 * lab is not needed: pod 10.50.0.2, gw1 .11 and gw2 .12 on a LAN bridge; the gateways' eth1 (172.31.0.11/.12)
 * and ext 172.31.0.100 on a WAN bridge. The pod's main route goes via gw1 (non-policy traffic).
 */
export interface EgressLab {
  readonly runId: string;
  readonly ns: { pod: string; gw1: string; gw2: string; ext: string; lan: string; wan: string };
  readonly dir: string;
  teardown(): Promise<void>;
}

export const EGRESS_LAB_NET = {
  pod: '10.50.0.2', gw1: '10.50.0.11', gw2: '10.50.0.12', lanCidr: '10.50.0.0/24',
  gw1Wan: '172.31.0.11', gw2Wan: '172.31.0.12', ext: '172.31.0.100', wanCidr: '172.31.0.0/24',
};

export async function buildEgressLab(runId: string): Promise<EgressLab> {
  const ns = {
    pod: netnsName(runId, 'pod'), gw1: netnsName(runId, 'gw1'), gw2: netnsName(runId, 'gw2'),
    ext: netnsName(runId, 'ext'), lan: netnsName(runId, 'lan'), wan: netnsName(runId, 'wan'),
  };
  const dir = runDir(runId);
  mkdirSync(dir, { recursive: true });
  const teardown = async (): Promise<void> => {
    for (const n of Object.values(ns)) {
      // Only processes inside our own namespaces: everything there is ours.
      for (const pid of await pidsInNetns(n)) await stopPid(pid, 500);
      await deleteNetns(n);
    }
  };
  try {
    for (const n of Object.values(ns)) await ensureNetns(n);
    await sh(['ip', '-n', ns.lan, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh(['ip', '-n', ns.wan, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh(['ip', '-n', ns.lan, 'link', 'set', 'br0', 'up']);
    await sh(['ip', '-n', ns.wan, 'link', 'set', 'br0', 'up']);
    const N = EGRESS_LAB_NET;
    const links: [string, string, string, string, string][] = [
      [ns.pod, 'eth0', `${N.pod}/24`, ns.lan, 'p-pod'],
      [ns.gw1, 'eth0', `${N.gw1}/24`, ns.lan, 'p-gw1'],
      [ns.gw2, 'eth0', `${N.gw2}/24`, ns.lan, 'p-gw2'],
      [ns.gw1, 'eth1', `${N.gw1Wan}/24`, ns.wan, 'w-gw1'],
      [ns.gw2, 'eth1', `${N.gw2Wan}/24`, ns.wan, 'w-gw2'],
      [ns.ext, 'eth0', `${N.ext}/24`, ns.wan, 'w-ext'],
    ];
    for (const [n, dev, addr, brNs, peer] of links) {
      await sh(['ip', '-n', n, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', peer, 'netns', brNs]);
      await sh(['ip', '-n', n, 'addr', 'add', addr, 'dev', dev]);
      await sh(['ip', '-n', n, 'link', 'set', dev, 'up']);
      await sh(['ip', '-n', brNs, 'link', 'set', peer, 'master', 'br0']);
      await sh(['ip', '-n', brNs, 'link', 'set', peer, 'up']);
    }
    await sh(['ip', '-n', ns.pod, 'route', 'add', 'default', 'via', N.gw1]);
    for (const g of [ns.gw1, ns.gw2]) await run(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { netns: g });
  } catch (e) {
    await teardown();
    throw e;
  }
  return { runId, ns, dir, teardown };
}

/** UDP echo for ext: answers each datagram with "<seq> <source address it saw>". */
export const ECHO_SERVER_JS = `
const d = require('node:dgram'); const s = d.createSocket('udp4');
s.on('message', (m, r) => s.send(Buffer.from(m.toString() + ' ' + r.address), r.port, r.address));
s.bind(Number(process.argv[3]), process.argv[2]);
`;

/** UDP prober for the pod: every 10 ms sends a sequence number; logs "<ms since start> <seq> <source seen>". */
export const PROBER_JS = `
const d = require('node:dgram'); const fs = require('node:fs'); const s = d.createSocket('udp4');
const [host, port, out] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
let seq = 0; const fd = fs.openSync(out, 'a');
s.on('message', (m) => fs.writeSync(fd, (Date.now()) + ' ' + m.toString() + '\\n'));
setInterval(() => s.send(String(seq++), port, host), 10);
`;

export function writeScript(dir: string, name: string, body: string): string {
  const p = `${dir}/${name}`;
  writeFileSync(p, body);
  return p;
}

import { writeFileSync } from 'node:fs';
import { runDir } from '../host/index.js';
import { EGRESS_NET, egressTopology, labUp, switchNetns } from '../scenarios/index.js';

/**
 * The small egress topology of the lab cookbook (section 5), namespaced by run id, for gateway tests when the full
 * lab is not needed: pod 10.50.0.2, gw1 .11 and gw2 .12 on a LAN bridge; the gateways' eth1 (172.31.0.11/.12)
 * and ext 172.31.0.100 on a WAN bridge. The pod's main route goes via gw1 (non-policy traffic).
 * A thin adapter: the scenarios lab builds it (`egressTopology`), records it and tears it down, so
 * `strait lab down <run>` sweeps what a failed test left.
 */
export interface EgressLab {
  readonly runId: string;
  /** Host namespaces, and `lan`/`wan`: the switch namespaces holding each segment's bridge `br0`. */
  readonly ns: { pod: string; gw1: string; gw2: string; ext: string; lan: string; wan: string };
  readonly dir: string;
  teardown(): Promise<void>;
}

export const EGRESS_LAB_NET = EGRESS_NET;

export async function buildEgressLab(runId: string): Promise<EgressLab> {
  const lab = await labUp({ topology: egressTopology(), runId });
  const ns = {
    pod: lab.netns('pod'), gw1: lab.netns('gw1'), gw2: lab.netns('gw2'), ext: lab.netns('ext'),
    lan: switchNetns(runId, 'lan'), wan: switchNetns(runId, 'wan'),
  };
  return {
    runId,
    ns,
    dir: runDir(runId),
    teardown: async () => {
      await lab.down();
    },
  };
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

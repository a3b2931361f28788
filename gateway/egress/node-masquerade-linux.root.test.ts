import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteNetns, ensureNetns, ifName, netnsName, newRunId, sh, sleep, startDaemon, stopPid } from '../../host/index.js';
import { describeRoot } from '../../testing/index.js';
import { LinuxNodeMasquerade } from './node-masquerade-linux.js';

// Packets through the node masquerade, in three namespaces: a pod (10.11.0.5, this cluster's pod CIDR) behind a
// node that routes it to "outside", one namespace holding an external address (172.31.0.100), an address of
// another cluster's pod CIDR (10.60.0.7) and, behind the node's egress VXLAN device name, a stand-in for the egress
// gateway (172.31.0.200). A UDP server there logs the source of every datagram.
const runId = `nm${newRunId().slice(0, 4)}`;
const ns = { pod: netnsName(runId, 'pod'), node: netnsName(runId, 'node'), ext: netnsName(runId, 'ext') };
const NODE = '192.168.77.1';
const POD = '10.11.0.5';
const EXT = '172.31.0.100';
const REMOTE = '10.60.0.7';
const VIA_EGRESS_DEV = '172.31.0.200';
const EGRESS_MARK = 0x5e00;
const GATEWAY_SNAT = '192.168.77.9';
const dir = mkdtempSync(join(tmpdir(), 'strait-nm-'));
const seenFile = join(dir, 'seen.log');
const pids: number[] = [];

// Logs "<ms> <local address>:<port> <source address>:<port>" per datagram and echoes it back.
const SERVER_JS = `
const d = require('node:dgram'); const fs = require('node:fs'); const fd = fs.openSync(process.argv[2], 'a');
for (const hp of process.argv.slice(3)) {
  const [h, p] = hp.split(':'); const s = d.createSocket('udp4');
  s.on('message', (m, r) => { fs.writeSync(fd, Date.now() + ' ' + hp + ' ' + r.address + ':' + r.port + '\\n'); s.send(m, r.port, r.address); });
  s.bind(Number(p), h);
}`;
// One long-lived flow: a datagram every 10 ms from one socket; logs "<ms>" per echo received.
const FLOW_JS = `
const d = require('node:dgram'); const fs = require('node:fs'); const fd = fs.openSync(process.argv[4], 'a');
const s = d.createSocket('udp4'); s.on('message', () => fs.writeSync(fd, Date.now() + '\\n'));
setInterval(() => s.send('x', Number(process.argv[3]), process.argv[2]), 10);`;

interface Seen { at: number; to: string; src: string; port: number }
const seen = (): Seen[] =>
  readFileSync(seenFile, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [at, to, from] = l.split(' ') as [string, string, string];
    const [src, port] = from.split(':') as [string, string];
    return { at: Number(at), to, src, port: Number(port) };
  });

/**
 * Sends a datagram from a new socket (a new flow) and returns the source address the server saw; sends again (a
 * new flow again) while nothing arrived: the server may still be starting on a loaded machine.
 */
async function sourceSeen(to: string, ms = 30_000): Promise<string> {
  const before = seen().length;
  const [h, p] = to.split(':') as [string, string];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await sh(['ip', 'netns', 'exec', ns.pod, 'bash', '-c', `echo x > /dev/udp/${h}/${p}`]);
    for (let i = 0; i < 10; i++) {
      const s = seen().slice(before).find((x) => x.to === to);
      if (s) return s.src;
      await sleep(30);
    }
  }
  throw new Error(`nothing arrived at ${to} within ${ms} ms`);
}

const nsh = (n: string, ...argv: string[]): Promise<string> => sh(['ip', '-n', n, ...argv]);

describeRoot('node masquerade through the kernel (root)', () => {
  const masq = new LinuxNodeMasquerade({ runId, netns: ns.node });
  const intent = { podCidrs: ['10.11.0.0/16'], clusterCidrs: ['10.11.0.0/16', '10.96.0.0/12', '10.60.0.0/16'], egressMarks: [EGRESS_MARK] };

  beforeAll(async () => {
    for (const n of Object.values(ns)) await ensureNetns(n);
    for (const n of Object.values(ns)) {
      await sh(['ip', 'netns', 'exec', n, 'sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
      await nsh(n, 'link', 'set', 'lo', 'up');
    }
    await sh(['ip', 'netns', 'exec', ns.node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // pod <-> node (the pod's gateway is the node side of its veth, as with the ptp plugin).
    await nsh(ns.pod, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'pod0', 'netns', ns.node);
    await nsh(ns.pod, 'addr', 'add', `${POD}/24`, 'dev', 'eth0');
    await nsh(ns.node, 'addr', 'add', '10.11.0.1/24', 'dev', 'pod0');
    // node <-> outside: the node's own address, and the egress VXLAN device's name on a second link.
    await nsh(ns.node, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'up0', 'netns', ns.ext);
    await nsh(ns.node, 'link', 'add', ifName('ve', runId), 'type', 'veth', 'peer', 'name', 'up1', 'netns', ns.ext);
    await nsh(ns.node, 'addr', 'add', `${NODE}/24`, 'dev', 'eth0');
    await nsh(ns.ext, 'addr', 'add', '192.168.77.2/24', 'dev', 'up0');
    for (const a of [EXT, REMOTE, VIA_EGRESS_DEV]) await nsh(ns.ext, 'addr', 'add', `${a}/32`, 'dev', 'up0');
    for (const [n, d] of [[ns.pod, 'eth0'], [ns.node, 'pod0'], [ns.node, 'eth0'], [ns.node, ifName('ve', runId)], [ns.ext, 'up0'], [ns.ext, 'up1']] as const) await nsh(n, 'link', 'set', d, 'up');
    await nsh(ns.pod, 'route', 'add', 'default', 'via', '10.11.0.1');
    await nsh(ns.node, 'route', 'add', 'default', 'via', '192.168.77.2');
    await nsh(ns.node, 'route', 'add', `${VIA_EGRESS_DEV}/32`, 'dev', ifName('ve', runId));
    await nsh(ns.ext, 'route', 'add', '10.11.0.0/16', 'via', NODE);
    // The node egress marks policy traffic in prerouting (node-egress-linux.ts); here: what the pod sends to port 9001.
    await sh(['ip', 'netns', 'exec', ns.node, 'nft', '-f', '-'], { input: `table inet marks {\n chain pre {\n type filter hook prerouting priority mangle; policy accept;\n udp dport 9001 meta mark set ${EGRESS_MARK}\n }\n}\n` });
    const server = join(dir, 'server.cjs');
    writeFileSync(server, SERVER_JS);
    writeFileSync(seenFile, '');
    pids.push(startDaemon([process.execPath, server, seenFile, `${EXT}:9000`, `${EXT}:9001`, `${EXT}:9003`, `${REMOTE}:9000`, `${VIA_EGRESS_DEV}:9000`], { netns: ns.ext, logFile: join(dir, 'server.log') }).pid);
    // A gateway agent on the same node, its egress SNAT at priority srcnat (here: what the pod sends to port 9003),
    // installed first: with both chains at srcnat the masquerade ran first and the SNAT never applied (seen).
    await nsh(ns.node, 'addr', 'add', `${GATEWAY_SNAT}/24`, 'dev', 'eth0');
    await sh(['ip', 'netns', 'exec', ns.node, 'nft', '-f', '-'], { input: `table inet gw {\n chain nat_post {\n type nat hook postrouting priority srcnat; policy accept;\n ip saddr ${POD} udp dport 9003 snat ip to ${GATEWAY_SNAT}\n }\n}\n` });
    await masq.ensure(intent);
    await sourceSeen(`${EXT}:9000`, 60_000); // the server is up
  }, 90_000);

  afterAll(async () => {
    for (const pid of pids) await stopPid(pid, 2000);
    for (const n of Object.values(ns)) await deleteNetns(n);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the outside sees the node; another cluster and egress-steered traffic see the pod; a gateway\'s SNAT goes first', async () => {
    expect(await sourceSeen(`${EXT}:9000`)).toBe(NODE);
    expect(await sourceSeen(`${REMOTE}:9000`)).toBe(POD);
    expect(await sourceSeen(`${EXT}:9001`)).toBe(POD); // carries an EgressPolicy rule's mark
    expect(await sourceSeen(`${VIA_EGRESS_DEV}:9000`)).toBe(POD); // leaves through the egress VXLAN device
    expect(await sourceSeen(`${EXT}:9003`)).toBe(GATEWAY_SNAT); // the gateway's SNAT decides first
  }, 30_000);

  it('a cluster leaving makes its addresses outside, and a flow to the outside goes on through the update', async () => {
    const flowLog = join(dir, 'flow.log');
    const flow = join(dir, 'flow.cjs');
    writeFileSync(flow, FLOW_JS);
    writeFileSync(flowLog, '');
    pids.push(startDaemon([process.execPath, flow, EXT, '9000', flowLog], { netns: ns.pod, logFile: join(dir, 'flow.out') }).pid);
    const echoes = (): number[] => readFileSync(flowLog, 'utf8').split('\n').filter(Boolean).map(Number);
    for (let i = 0; echoes().length < 20; i++) {
      if (i > 300) throw new Error('the long-lived flow got no echoes');
      await sleep(50);
    }
    const flowPort = seen().filter((x) => x.to === `${EXT}:9000` && x.src === NODE).at(-1)!.port;

    const at = Date.now();
    await masq.ensure({ ...intent, clusterCidrs: ['10.11.0.0/16', '10.96.0.0/12'] });
    expect(await masq.current()).toMatchObject({ clusterCidrs: ['10.11.0.0/16', '10.96.0.0/12'] });
    expect(await sourceSeen(`${REMOTE}:9000`)).toBe(NODE);
    await sleep(500);

    // The flow kept its translation (same node address and port at the server) and its echoes never stopped.
    const after = seen().filter((x) => x.to === `${EXT}:9000` && x.at > at && x.port === flowPort);
    expect(after.length).toBeGreaterThan(10);
    expect(new Set(after.map((x) => x.src))).toEqual(new Set([NODE]));
    const e = echoes().filter((t) => t > at - 500);
    const gap = Math.max(...e.slice(1).map((t, i) => t - e[i]!));
    process.stdout.write(`node masquerade update under a 100 datagram/s flow (root, shared loaded machine): longest echo gap ${gap} ms\n`);
    expect(gap).toBeLessThan(400);

    // The pod becomes egress-selected (its traffic to port 9000 is marked from now on): once its masqueraded flows
    // are forgotten, the running flow reaches the outside with the pod's address (there: the gateway, whose SNAT
    // matches the pod). Without forgetting, the flow kept the node's address for as long as it ran.
    await sh(['ip', 'netns', 'exec', ns.node, 'nft', 'add', 'rule', 'inet', 'marks', 'pre', 'udp', 'dport', '9000', 'meta', 'mark', 'set', String(EGRESS_MARK)]);
    await sleep(300);
    const marked = Date.now();
    expect(seen().filter((x) => x.to === `${EXT}:9000` && x.at > marked && x.port === flowPort).every((x) => x.src === NODE)).toBe(true);
    await masq.forget([`${POD}/32`]);
    const forgot = Date.now();
    await sleep(500);
    const later = seen().filter((x) => x.to === `${EXT}:9000` && x.at > forgot + 100);
    expect(later.length).toBeGreaterThan(10);
    expect(new Set(later.map((x) => x.src))).toEqual(new Set([POD]));
  }, 60_000);
});

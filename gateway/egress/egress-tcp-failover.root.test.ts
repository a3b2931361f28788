import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { newRunId, pidsInNetns, run, startDaemon, stopPid, type DaemonHandle } from '../../host/index.js';
import { describeRoot, startTestRedis, type TestRedis, sleep, waitFor } from '../../testing/index.js';
import { readAgentStatus, type AgentStatus } from '../agents/agent-status.js';
import { eipFenceLive } from './eip-fence.js';
import { buildEgressLab, EGRESS_LAB_NET as N, startLabGateway, startLabSteer, writeEgressConfig, writeScript, type EgressLab } from '../../scenarios/index.js';
import { PROFILES } from '../failover/profiles.js';

// STRAIT_CONNTRACK_SYNC=off runs the same checks without conntrackd: the flow must then break (it does: the test
// fails at the first fault, see docs/gateways.md).
const SYNC = (process.env.STRAIT_CONNTRACK_SYNC ?? 'on') as 'on' | 'off';
const PROFILE = 'default';
const EIP = '172.31.0.201';
const PORT = 9100;

/**
 * ext: accepts TCP connections and pushes "<seq>\n" every 10 ms down each (a download: the client only sends ACKs,
 * so nothing from the pod's side could re-create a lost NAT mapping); a line from the client is echoed back. Logs
 * every accept with the source address and port it saw, and every socket error or close.
 */
const PUSH_SERVER_JS = `
const net = require('node:net'); const fs = require('node:fs');
const [host, port, log] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const out = (o) => fs.appendFileSync(log, JSON.stringify({ at: Date.now(), ...o }) + '\\n');
net.createServer((c) => {
  out({ ev: 'accept', src: c.remoteAddress + ':' + c.remotePort });
  let seq = 0;
  const t = setInterval(() => c.write((seq++) + '\\n'), 10);
  c.on('data', (d) => c.write('echo ' + d.toString()));
  c.on('error', (e) => out({ ev: 'error', err: e.code || String(e) }));
  c.on('close', () => { clearInterval(t); out({ ev: 'close' }); });
}).listen(port, host);
`;

/** pod: one connection to ext; logs "<ms> <line>" for every line received, "<ms> !<event>" on error/close. */
const PULL_CLIENT_JS = `
const net = require('node:net'); const fs = require('node:fs');
const [host, port, log, ctl] = [process.argv[2], Number(process.argv[3]), process.argv[4], process.argv[5]];
const fd = fs.openSync(log, 'a'); let buf = '';
const c = net.connect({ host, port });
c.on('connect', () => fs.writeSync(fd, Date.now() + ' !connected ' + c.localPort + '\\n'));
c.on('data', (d) => { buf += d.toString(); const ls = buf.split('\\n'); buf = ls.pop(); for (const l of ls) fs.writeSync(fd, Date.now() + ' ' + l + '\\n'); });
c.on('error', (e) => fs.writeSync(fd, Date.now() + ' !error ' + (e.code || e) + '\\n'));
c.on('close', () => { fs.writeSync(fd, Date.now() + ' !close\\n'); process.exit(0); });
// SIGUSR2: send one line upstream (the echo proves the pod → ext direction after the faults).
process.on('SIGUSR2', () => c.write('ping\\n'));
`;

interface Line { at: number; text: string }
function lines(file: string): Line[] {
  let t: string;
  try { t = readFileSync(file, 'utf8'); } catch { return []; }
  return t.split('\n').filter(Boolean).map((l) => { const i = l.indexOf(' '); return { at: Number(l.slice(0, i)), text: l.slice(i + 1) }; });
}
/** Pushed lines received (numbers only). */
const ticks = (ls: Line[]): Line[] => ls.filter((l) => /^\d+$/.test(l.text));
/** Longest gap between pushed lines received after `from`. */
function stallAfter(ls: Line[], from: number): number {
  const t = ticks(ls).filter((l) => l.at >= from - 50);
  let gap = 0;
  for (let i = 1; i < t.length; i++) gap = Math.max(gap, (t[i]?.at ?? 0) - (t[i - 1]?.at ?? 0));
  return gap;
}

describeRoot(`egress TCP flow across gateway failovers (root, real processes, conntrack sync ${SYNC})`, () => {
  let lab: EgressLab;
  let redis: TestRedis;
  const agents = new Map<string, DaemonHandle>();
  let egressFile = '';
  let passed = false;
  let client: DaemonHandle | undefined;
  const clientLog = (): string => `${lab.dir}/tcp-client.log`;
  const serverLog = (): string => `${lab.dir}/tcp-server.log`;
  const status = (name: string): AgentStatus | null => readAgentStatus(`${lab.dir}/${name}.status.json`);
  const serverEvents = (): { ev: string; src?: string; err?: string }[] => {
    try { return readFileSync(serverLog(), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ev: string }); } catch { return []; }
  };
  const startGateway = (name: 'gw1' | 'gw2'): void => {
    agents.set(name, startLabGateway(lab, name, { leaseRedis: redis.socket, egressConfig: egressFile, profile: PROFILE, conntrackSync: SYNC }));
  };
  /**
   * conntrackd daemons running in a gateway's namespace. Not the short-lived `conntrackd -s` the agent runs to see
   * whether its daemon answers yet: counting those made this check fail on a loaded CI machine, where gw2 was still
   * waiting for its daemon when gw1 was already active.
   */
  const daemonsIn = async (ns: string): Promise<number[]> => {
    const out: number[] = [];
    for (const pid of await pidsInNetns(ns)) {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
        const isConntrackd = argv[0]?.endsWith('/conntrackd') || readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'conntrackd';
        if (isConntrackd && !argv.includes('-s')) out.push(pid);
      } catch { /* gone */ }
    }
    return out;
  };
  /** The flow's conntrack entry in a gateway's kernel: the egress IP:port ext sees, or undefined. */
  const natOf = async (ns: string): Promise<string | undefined> => {
    const r = await run(['conntrack', '-L', '-p', 'tcp', '--dport', String(PORT)], { netns: ns, allowFailure: true });
    const m = new RegExp(`src=${N.ext.replace(/\./g, '\\.')} dst=(\\S+) sport=${PORT} dport=(\\d+)`).exec(r.stdout);
    return m ? `${m[1]}:${m[2]}` : undefined;
  };
  /**
   * The download runs through `gw` alone: only its kernel fence has the egress IP live (a SIGKILLed agent's kernel
   * goes on forwarding until its fence runs out), and pushed lines keep arriving well after that.
   */
  const flowingVia = async (gw: 'gw1' | 'gw2', what: string): Promise<void> => {
    const other = gw === 'gw1' ? 'gw2' : 'gw1';
    await waitFor(`${what}: egress IP live on ${gw} only`, async () => {
      const [mine, theirs] = await Promise.all([eipFenceLive(lab.runId, lab.ns[gw]), eipFenceLive(lab.runId, lab.ns[other])]);
      return (mine.includes(EIP) && !theirs.includes(EIP)) || undefined;
    }, 15_000);
    const t = Date.now();
    await waitFor(what, () => ticks(lines(clientLog())).some((l) => l.at > t + 300) || undefined, 15_000);
  };

  beforeAll(async () => {
    lab = await buildEgressLab(newRunId());
    redis = await startTestRedis();
    egressFile = writeEgressConfig(lab, EIP);
    startGateway('gw1');
    startGateway('gw2');
    agents.set('node1', startLabSteer(lab, { egressConfig: egressFile, profile: PROFILE }));
    const server = writeScript(lab.dir, 'push-server.cjs', PUSH_SERVER_JS);
    startDaemon([process.execPath, server, N.ext, String(PORT), serverLog()], { netns: lab.ns.ext, logFile: `${lab.dir}/push-server.out` });
  }, 60_000);

  afterAll(async () => {
    if (client) await stopPid(client.pid, 500);
    for (const a of agents.values()) await stopPid(a.pid, 2000);
    // Whatever is left (a failed run) dies with the lab: every process inside its namespaces.
    await lab?.teardown();
    await redis?.stop();
    if (lab && passed) rmSync(lab.dir, { recursive: true, force: true });
    else if (lab) process.stderr.write(`gateway test logs kept in ${lab.dir}\n`);
  }, 60_000);

  it('a TCP download through the egress gateway survives SIGKILL of the active agent, the failback, and the active gateway\'s uplink going down, with the same egress IP:port', async () => {
    await waitFor('gw1 active', () => status('gw1')?.role === 'active' || undefined);
    await waitFor('node steered to gw1', () => status('node1')?.active[0] === 'gw1' || undefined);
    await waitFor('gw2 standing by', () => status('gw2')?.role === 'standby' || undefined);
    if (SYNC === 'on') {
      expect((await daemonsIn(lab.ns.gw1)).length).toBe(1);
      expect((await daemonsIn(lab.ns.gw2)).length).toBe(1);
    }
    const prog = writeScript(lab.dir, 'pull-client.cjs', PULL_CLIENT_JS);
    client = startDaemon([process.execPath, prog, N.ext, String(PORT), clientLog()], { netns: lab.ns.pod, logFile: `${lab.dir}/pull-client.out` });
    await waitFor('the download runs', () => ticks(lines(clientLog())).length > 20 || undefined);
    const accepted = serverEvents().filter((e) => e.ev === 'accept');
    expect(accepted).toHaveLength(1);
    const seen = accepted[0]?.src ?? '';
    expect(seen.startsWith(`${EIP}:`)).toBe(true);
    expect(await natOf(lab.ns.gw1)).toBe(seen);
    // Replicated: the standby's kernel holds the same NAT mapping before anything fails.
    if (SYNC === 'on') await waitFor('flow replicated to gw2', async () => (await natOf(lab.ns.gw2)) === seen || undefined, 5000);

    // (a) SIGKILL of the active agent: gw2 takes the egress IP; the download goes on, to the same IP:port.
    const killAt = Date.now();
    process.kill(agents.get('gw1')?.pid ?? -1, 'SIGKILL');
    await waitFor('gw2 active', () => status('gw2')?.role === 'active' || undefined);
    await flowingVia('gw2', 'download flowing through gw2 after SIGKILL');
    await sleep(300);
    process.stdout.write(`egress TCP stall after SIGKILL (conntrack sync ${SYNC}): ${stallAfter(lines(clientLog()), killAt)} ms\n`);
    expect(await natOf(lab.ns.gw2)).toBe(seen);

    // Failback: gw1 returns (its agent ends the conntrackd the killed one left) and takes over after the hold-down.
    const backAt = Date.now();
    startGateway('gw1');
    await waitFor('gw1 running again', () => (status('gw1')?.pid === agents.get('gw1')?.pid) || undefined);
    await waitFor('gw1 active again', () => status('gw1')?.role === 'active' || undefined, 20_000);
    expect(Date.now() - backAt).toBeGreaterThanOrEqual(PROFILES[PROFILE].holdDownMs);
    await waitFor('node back on gw1', () => status('node1')?.active[0] === 'gw1' || undefined);
    await flowingVia('gw1', 'download flowing through gw1 after the failback');
    if (SYNC === 'on') expect((await daemonsIn(lab.ns.gw1)).length).toBe(1);

    // (b) gw1's uplink goes down: gw2 takes over again.
    const downAt = Date.now();
    await run(['ip', 'link', 'set', 'eth1', 'down'], { netns: lab.ns.gw1 });
    await waitFor('gw2 active after gw1 uplink down', () => status('gw2')?.role === 'active' || undefined);
    await flowingVia('gw2', 'download flowing through gw2 after uplink down');
    await sleep(300);
    process.stdout.write(`egress TCP stall after uplink down (conntrack sync ${SYNC}): ${stallAfter(lines(clientLog()), downAt)} ms\n`);
    expect(await natOf(lab.ns.gw2)).toBe(seen);

    // Upstream too: a line from the pod is echoed back on the same connection.
    if (client) process.kill(client.pid, 'SIGUSR2');
    await waitFor('echo of the pod\'s line', () => lines(clientLog()).some((l) => l.text === 'echo ping') || undefined, 5000);

    // One connection from start to end, never reset, always from the egress IP and the same port.
    const ev = serverEvents();
    expect(ev.filter((e) => e.ev !== 'accept')).toEqual([]);
    expect(ev.filter((e) => e.ev === 'accept').map((e) => e.src)).toEqual([seen]);
    expect(lines(clientLog()).filter((l) => l.text.startsWith('!') && !l.text.startsWith('!connected'))).toEqual([]);

    // A cleanly stopped agent ends its conntrackd and removes its files; the daemon the SIGKILLed agent left was
    // ended by its successor (checked above: one per gateway).
    if (client) await stopPid(client.pid, 500);
    client = undefined;
    for (const name of ['gw1', 'gw2']) await stopPid(agents.get(name)?.pid ?? -1, 5000);
    expect(readdirSync(lab.dir).filter((f) => f.startsWith('conntrackd-'))).toEqual([]);
    expect([...(await daemonsIn(lab.ns.gw1)), ...(await daemonsIn(lab.ns.gw2))]).toEqual([]);
    passed = true;
  }, 120_000);
});

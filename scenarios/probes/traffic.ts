import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StraitError } from '../../api/index.js';
import type { Lab } from '../lab/lab.js';
import type { TcpProbeResult, UdpProbeResult, UdpRecord } from './analysis.js';

/**
 * Runs the probe agent (probe-agent.mjs, plain JavaScript) inside lab hosts: echo servers that stay up for the
 * whole run, and per trial a UDP prober and a TCP stream per flow. Results come back through files in the run
 * directory (namespaces share the file system).
 */

export const UDP_PORT = 9000;
export const TCP_PORT = 9001;
/** The probes' realtime priority: see MEASURE_RT. */
export const MEASURE_RT_PRIORITY = 9;

/**
 * The measuring processes run under SCHED_RR 9: above everything at normal priority (stress-ng, builds: an instrument
 * starved by the load does not see the outage; seen with CFS probers, which sent nothing for the 60-70 ms of a
 * failover burst, no sequence gap, so the trial read 0 ms), and below the agents (RR 10), as a cluster's pods are.
 * At RR 20 they were the load: `perf sched` over a quiet `steady` run (#12) found the agents waiting 15-43 ms to run
 * 56 times in 90 s, 17 of them mostly behind probe processes (once two of them ran a dozen 2 ms slices back to back,
 * one on each CPU, at the same instant). At RR 9, the same run: 20 waits of 15-28 ms, none behind a probe.
 * Each probe raises itself once it is set up (`--rt`), not at exec: starting four Node processes at realtime
 * priority stalled every agent before each trial.
 */
const MEASURE_RT = ['--rt', String(MEASURE_RT_PRIORITY)];

/** probe-agent.mjs lives beside this file in the source tree; from dist/scenarios/probes/ it is in the sources' scenarios/probes/. */
export function probeAgentPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, 'probe-agent.mjs'), join(here, '..', '..', '..', 'scenarios', 'probes', 'probe-agent.mjs')]) if (existsSync(p)) return p;
  throw new StraitError('SCENARIO_LAB_FAILED', `probe-agent.mjs not found next to ${here}`);
}

export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => reject(new StraitError('SCENARIO_LAB_FAILED', `${what} did not start within ${timeoutMs} ms: ${err.trim()}`)), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      if (re.test(buf)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new StraitError('SCENARIO_LAB_FAILED', `${what} exited (${code}) before it was ready: ${err.trim()}`));
    });
  });
}

/** Starts a UDP and a TCP echo server on `host` bound to `ip`. They live as long as the lab (down() ends them). */
export async function startEchoServers(lab: Lab, host: string, ip: string, logFile: string): Promise<ChildProcess[]> {
  const agent = probeAgentPath();
  const udp = lab.spawn(host, [process.execPath, agent, 'udp-echo', '--bind', `${ip}:${UDP_PORT}`, '--log', logFile, ...MEASURE_RT]);
  const tcp = lab.spawn(host, [process.execPath, agent, 'tcp-echo', '--bind', `${ip}:${TCP_PORT}`, ...MEASURE_RT]);
  await Promise.all([
    waitForLine(udp, /listening/, 15_000, `UDP echo server on ${host}`),
    waitForLine(tcp, /listening/, 15_000, `TCP echo server on ${host}`),
  ]);
  return [udp, tcp];
}

export interface ProbeRun {
  udpFile: string;
  tcpFile: string | null;
  /** Resolves once every probe of the flow is set up (TCP connected) and waits for `go()`. */
  ready: Promise<void>;
  /** Starts sending (every flow of a trial at the same moment). */
  go(): void;
  /** Ends the probes at once (a trial that failed to start). */
  abort(): void;
  done: Promise<void>;
}

/** Starts one flow's probes in `host` towards `targetIp` for `durationMs`; `done` resolves when both finished. */
export function startFlowProbes(
  lab: Lab,
  host: string,
  targetIp: string,
  o: { intervalMs: number; durationMs: number; tcp: boolean; dir: string; tag: string },
): ProbeRun {
  const agent = probeAgentPath();
  const udpFile = join(o.dir, `${o.tag}.udp.ndjson`);
  const tcpFile = o.tcp ? join(o.dir, `${o.tag}.tcp.json`) : null;
  for (const f of [udpFile, tcpFile]) if (f) rmSync(f, { force: true });
  const common = ['--interval', String(o.intervalMs), '--duration', String(o.durationMs)];
  const procs = [lab.spawn(host, [process.execPath, agent, 'udp-prober', '--target', `${targetIp}:${UDP_PORT}`, ...common, '--out', udpFile, '--wait-go', '1', ...MEASURE_RT])];
  // The TCP stream paces itself at 20 ms: enough to show a stall, cheap on a loaded machine.
  if (tcpFile) procs.push(lab.spawn(host, [process.execPath, agent, 'tcp-stream', '--target', `${targetIp}:${TCP_PORT}`, '--interval', '20', '--duration', String(o.durationMs), '--out', tcpFile, '--wait-go', '1', ...MEASURE_RT]));
  const ready = Promise.all(procs.map((p, i) => waitForLine(p, /ready/, 30_000, `${i === 0 ? 'UDP prober' : 'TCP stream'} in ${host} towards ${targetIp}`))).then(() => undefined);
  const done = Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null) resolve();
          else p.once('exit', () => resolve());
        }),
    ),
  ).then(() => undefined);
  return {
    udpFile,
    tcpFile,
    ready,
    go: () => {
      for (const p of procs) if (p.pid && p.exitCode === null) p.kill('SIGUSR2');
    },
    abort: () => {
      for (const p of procs) if (p.pid && p.exitCode === null) p.kill('SIGKILL');
    },
    done,
  };
}

export function readUdpResult(file: string): UdpProbeResult {
  if (!existsSync(file)) throw new StraitError('SCENARIO_LAB_FAILED', `the UDP prober wrote no result (${file})`);
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  const meta = JSON.parse(lines[0] ?? '{}') as { target: string; intervalMs: number; startedAt: number };
  const records = lines.slice(1).map((l) => JSON.parse(l) as UdpRecord);
  return { target: meta.target, intervalMs: meta.intervalMs, startedAt: meta.startedAt, records };
}

export function readTcpResult(file: string | null): TcpProbeResult | null {
  if (!file || !existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as TcpProbeResult;
}

#!/usr/bin/env node
// @ts-check
// Traffic probes for chaos scenarios, run inside lab namespaces with `ip netns exec NS node probe-agent.mjs MODE …`.
// Plain JavaScript with node: imports only, so it starts in ~50 ms without a build or node_modules.
//
//   udp-echo   --bind IP:PORT [--log FILE]             echoes "SEQ SENT" back as "SEQ SENT SRC_IP:SRC_PORT"
//   udp-prober --target IP:PORT --interval MS --duration MS --out FILE
//                                                      one datagram every MS; NDJSON: a meta line, then one line per seq
//   tcp-echo   --bind IP:PORT                          echoes lines
//   tcp-stream --target IP:PORT --interval MS --duration MS --out FILE
//                                                      one long connection, a line every MS; JSON: did it survive?
//   stall-watch --out FILE [--period MS] [--min MS]    wakes every MS (default 2); NDJSON: one line per wake-up
//                                                      later than --min (default 20): when it stopped, for how long
import dgram from 'node:dgram';
import net from 'node:net';
import { writeFileSync, appendFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Wall-clock milliseconds with sub-ms resolution, comparable across processes (fault times use the same clock). */
const now = () => performance.timeOrigin + performance.now();

const [mode, ...rest] = process.argv.slice(2);
/** @type {Record<string,string>} */
const opt = {};
for (let i = 0; i < rest.length; i += 2) opt[String(rest[i]).replace(/^--/, '')] = String(rest[i + 1]);

/**
 * `--rt N`: moves this process to SCHED_RR N once it is set up, just before it says so (a measuring instrument must
 * not be starved by the load around it; the runner picks N below the agents, traffic.ts). Not at exec: four probes
 * starting at once under RR 20 (their priority then) took both CPUs
 * from the agents (RR 10) for 100-160 ms before every trial, all four agents logged "ran late" at the same instant,
 * and their detectors, which remember a stall for 30 s, entered each fault with a 230 ms threshold instead of 90.
 * @param {string} line
 */
function announce(line) {
  if (opt.rt) {
    // The stall watcher raises its main thread alone (`chrt` without `--all-tasks` sets the thread whose id is the
    // PID). Raised whole, its V8 helper threads ran at RR 99 too, above every agent: a scheduler trace of a quiet
    // 90 s `steady` run (#12) caught them holding a CPU for 17-27 ms while agents on it logged "ran late". The runner
    // starts it with `--single-threaded` (host-stalls.ts), so no work is left to those helpers to wait for.
    const scope = mode === 'stall-watch' ? [] : ['--all-tasks'];
    const r = spawnSync('chrt', [...scope, '--rr', '--pid', opt.rt, String(process.pid)], { encoding: 'utf8' });
    if (r.status !== 0) process.stderr.write(`probe-agent: could not raise to SCHED_RR ${opt.rt}: ${(r.stderr || String(r.error)).trim()}\n`);
  }
  process.stdout.write(`${line}\n`);
}

/** @param {string} s */
function hostPort(s) {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

function udpEcho() {
  const { host, port } = hostPort(opt.bind ?? '');
  const sock = dgram.createSocket('udp4');
  /** @type {Map<string,{first:number,last:number,count:number}>} */
  const sources = new Map();
  sock.on('message', (msg, rinfo) => {
    const src = `${rinfo.address}:${rinfo.port}`;
    sock.send(`${msg.toString().trim()} ${src}`, rinfo.port, rinfo.address);
    if (!opt.log) return;
    const t = now();
    const s = sources.get(rinfo.address);
    if (!s) {
      sources.set(rinfo.address, { first: t, last: t, count: 1 });
      appendFileSync(opt.log, JSON.stringify({ type: 'source', ip: rinfo.address, port: rinfo.port, at: t }) + '\n');
    } else {
      s.last = t;
      s.count++;
    }
  });
  sock.bind(port, host, () => announce(`udp-echo listening on ${host}:${port}`));
}

function udpProber() {
  const { host, port } = hostPort(opt.target ?? '');
  const interval = Number(opt.interval ?? 10);
  const duration = Number(opt.duration ?? 3000);
  const out = opt.out ?? '/dev/stdout';
  const sock = dgram.createSocket('udp4');
  /** @type {number[]} */ const sent = [];
  /** @type {(null|{recvAt:number,src:string})[]} */ const got = [];
  sock.on('message', (msg) => {
    const t = now();
    const [seqS, , src] = msg.toString().split(' ');
    const seq = Number(seqS);
    if (Number.isInteger(seq) && seq >= 0 && seq < sent.length && !got[seq]) got[seq] = { recvAt: t, src: src ?? '' };
  });
  sock.on('error', () => {}); // ENETUNREACH etc. while routes move: the probe just counts as lost
  let startedAt = now();
  let seq = 0;
  const tick = () => {
    const t = now();
    // Catch up on missed ticks (timer jitter under load) without bursting: one datagram per tick, schedule on the grid.
    if (t - startedAt < duration) {
      sent.push(t);
      got.push(null);
      const s = seq++;
      sock.send(`${s} ${t.toFixed(3)}`, port, host, () => {});
      const next = startedAt + seq * interval;
      setTimeout(tick, Math.max(0, next - now()));
    } else {
      // Late replies still count. Through setImmediate: a timer that fires after this process was not scheduled
      // runs before the poll phase that reads the replies already waiting in the socket, and finishing there counts
      // them lost (the likely cause of a stressed partition trial's last three probes, sent in a catch-up burst
      // 2 ms apart, all "lost": "did not recover" after a 99 ms outage).
      setTimeout(() => setImmediate(finish), 300);
    }
  };
  const finish = () => {
    const lines = [JSON.stringify({ type: 'meta', target: `${host}:${port}`, intervalMs: interval, startedAt, sent: sent.length })];
    for (let i = 0; i < sent.length; i++) {
      const g = got[i];
      lines.push(JSON.stringify({ seq: i, sentAt: sent[i], recvAt: g ? g.recvAt : null, src: g ? g.src : null }));
    }
    writeFileSync(out, lines.join('\n') + '\n');
    sock.close();
    process.exit(0);
  };
  process.on('SIGTERM', finish);
  sock.bind(0, () => whenGo(() => {
    startedAt = now();
    tick();
  }));
}

/**
 * With `--wait-go 1` the probe prints "ready" once set up and starts on SIGUSR2, so a runner can start every flow
 * at the same moment however long `ip netns exec node …` took to start each one.
 * @param {() => void} start
 */
function whenGo(start) {
  if (opt['wait-go'] !== '1') return start();
  process.once('SIGUSR2', start);
  announce('ready');
}

function tcpEcho() {
  const { host, port } = hostPort(opt.bind ?? '');
  const srv = net.createServer((c) => {
    c.on('error', () => {});
    c.pipe(c);
  });
  srv.listen(port, host, () => announce(`tcp-echo listening on ${host}:${port}`));
}

/** Keeps one time per `gapMs` (and the last): enough to draw a timeline and see a gap. @param {number[]} ts @param {number} gapMs */
function thin(ts, gapMs) {
  /** @type {number[]} */ const out = [];
  for (const t of ts) if (out.length === 0 || t - (out[out.length - 1] ?? 0) >= gapMs) out.push(t);
  const last = ts[ts.length - 1];
  if (last !== undefined && out[out.length - 1] !== last) out.push(last);
  return out;
}

function tcpStream() {
  const { host, port } = hostPort(opt.target ?? '');
  const interval = Number(opt.interval ?? 10);
  const duration = Number(opt.duration ?? 3000);
  const out = opt.out ?? '/dev/stdout';
  let startedAt = now();
  /** @type {{connectedAt:number|null, brokeAt:number|null, error:string|null, sent:number, echoed:number, echoes:number[]}} */
  const r = { connectedAt: null, brokeAt: null, error: null, sent: 0, echoed: 0, echoes: [] };
  let buf = '';
  let done = false;
  const c = net.connect({ host, port, noDelay: true });
  // Without keepalive or a user timeout, a dead path would only show after minutes of retransmissions.
  const finish = () => {
    if (done) return;
    done = true;
    const res = { type: 'tcp', target: `${host}:${port}`, startedAt, endedAt: now(), ...r, echoes: undefined,
      // echo arrival times, thinned to one per 50 ms: enough to see the gap in a timeline
      echoTimes: thin(r.echoes, 50) };
    writeFileSync(out, JSON.stringify(res) + '\n');
    c.destroy();
    process.exit(0);
  };
  // A connection that cannot be set up (the path is down) must not hold up the trial: after 5 s report ready
  // anyway; the result then says it never connected.
  const notConnected = setTimeout(() => whenGo(() => {
    startedAt = now();
    setTimeout(finish, duration + 300);
  }), 5000);
  c.on('connect', () => {
    clearTimeout(notConnected);
    r.connectedAt = now();
    whenGo(() => {
    startedAt = now();
    const timer = setInterval(() => {
      if (now() - startedAt >= duration) {
        clearInterval(timer);
        setTimeout(finish, 300);
        return;
      }
      r.sent++;
      c.write(`${r.sent}\n`);
    }, interval);
    });
  });
  c.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      buf = buf.slice(i + 1);
      r.echoed++;
      r.echoes.push(now());
    }
  });
  c.on('error', (e) => {
    if (r.brokeAt === null) r.brokeAt = now();
    r.error = e.message;
  });
  c.on('close', () => {
    if (r.brokeAt === null && !done) {
      r.brokeAt = now();
      r.error = r.error ?? 'closed by peer';
    }
    if (done) return;
    if (r.connectedAt === null) {
      // Never connected: still take part in the trial (ready, go), so the runner records a broken stream.
      clearTimeout(notConnected);
      whenGo(() => {
        startedAt = now();
        setTimeout(finish, duration + 300);
      });
    } else setTimeout(finish, Math.max(0, startedAt + duration - now()));
  });
  process.on('SIGTERM', finish);
}

/**
 * Host stalls: run pinned to one CPU (`taskset -c N`) at `--rt 99`, it is late only when that CPU itself did not run
 * (on the project VM: the hypervisor stops a virtual CPU for ~100 ms once the guest has kept it busy). Every wake-up
 * later than `--min` is one line, appended as it happens so a killed watcher leaves what it saw.
 */
function stallWatch() {
  const period = Number(opt.period ?? 2);
  const min = Number(opt.min ?? 20);
  const out = opt.out ?? '/dev/stdout';
  writeFileSync(out, '');
  let prev = now();
  const tick = () => {
    const t = now();
    if (t - prev - period > min) appendFileSync(out, JSON.stringify({ at: Math.round(prev * 10) / 10, ms: Math.round((t - prev) * 10) / 10 }) + '\n');
    prev = t;
    setTimeout(tick, period);
  };
  process.on('SIGTERM', () => process.exit(0));
  announce('stall-watch ready');
  prev = now();
  setTimeout(tick, period);
}

switch (mode) {
  case 'udp-echo':
    udpEcho();
    break;
  case 'udp-prober':
    udpProber();
    break;
  case 'tcp-echo':
    tcpEcho();
    break;
  case 'tcp-stream':
    tcpStream();
    break;
  case 'stall-watch':
    stallWatch();
    break;
  default:
    console.error(`usage: probe-agent.mjs udp-echo|udp-prober|tcp-echo|tcp-stream|stall-watch --opt value …`);
    process.exit(2);
}

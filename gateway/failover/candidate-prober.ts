import { createSocket, type Socket } from 'node:dgram';
import { FailureDetector } from './failure-detector.js';

/** A gateway candidate to probe: its name and the UDP echo responder's address. */
export interface ProbeTarget {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

/**
 * Health of gateway candidates from UDP probes. Reports transitions only: `down` after `misses` consecutive probes
 * went unanswered within one interval each, `up` on the first answer. Injected into the agents (config carries
 * the factory), so tests can drive health by hand.
 */
export interface CandidateProber {
  /**
   * `onClaim` hears which lease epoch a target says it holds (0: none), whenever that changes: replies carry it
   * (see EchoResponder.claims). It is called before the `onChange` of the same reply.
   */
  start(
    targets: readonly ProbeTarget[],
    onChange: (name: string, up: boolean, at: number, evidence?: VerdictEvidence) => void,
    onClaim?: (name: string, epoch: number, at: number) => void,
  ): Promise<void>;
  stop(): Promise<void>;
}

/** Why a target was declared down: kept in the agents' logs so a scenario report can say where the time went. */
export interface VerdictEvidence {
  /** The silence that convicted at that moment (failure-detector.ts thresholdMs). */
  readonly thresholdMs: number;
  /** The silence credited to the target (this prober's own stalls subtracted). */
  readonly silenceMs: number;
  /** This prober's longest own stall within the detector's memory. */
  readonly ownStallMs: number;
}

/** Answers probes. `serving(false)` makes it fall silent, which peers and nodes read as "this gateway is down". */
export interface EchoResponder {
  start(): Promise<void>;
  serving(on: boolean): void;
  /**
   * When the last probe arrived (answered or not), on the performance.now() clock; undefined before the first.
   * A gateway that stops being probed at all is cut off from its nodes (LAN down, partition) and must step down.
   */
  lastProbeAt(): number | undefined;
  /**
   * Every reply carries `epoch()`: the epoch of the gateway lease this agent holds right now, 0 if none. Nodes and
   * other clusters follow the answering gateway with the highest claim, so a probe blip only they saw does not
   * send traffic to a gateway that does not serve it (and hold it there for a hold-down).
   */
  claims(epoch: () => number): void;
  stop(): Promise<void>;
}

const MAGIC = 0x53545052; // "STPR"
/** A probe: magic, target index, sequence. A reply is the probe followed by the claimed lease epoch (uint32). */
const PROBE_BYTES = 12;
const REPLY_BYTES = 16;
/** Answers to this many most recent probes count (at 10 ms: 640 ms back). */
const RECENT_SEQS = 64;

/**
 * UDP prober: one socket, one 12-byte datagram (magic, target index, sequence) per target per interval. Any answer
 * to one of the last `RECENT_SEQS` probes proves the target alive (a slow answer is a live peer that was not
 * scheduled, not a dead one); the `FailureDetector` decides when silence means death: never on a tick that fired
 * late (this process was not scheduled), never before `misses` on-time silent rounds, and only after a silence
 * that the jitter the target's answers showed so far makes improbable, between the profile's minimum and maximum
 * detection time.
 *
 * Why the responder is not a separate child process (as tunnel/'s former health prober had it): a child survives a
 * SIGKILL or SIGSTOP of the gateway agent, so nodes would keep steering to a dead or frozen gateway. Here the
 * responder lives in the agent's own event loop: if the agent cannot act, it cannot answer.
 */
export class UdpCandidateProber implements CandidateProber {
  private sock: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The current run's off switch: a tick already queued by setImmediate, or a reply already read, may still run. */
  private run: { stopped: boolean } | undefined;

  constructor(
    private readonly opts: {
      intervalMs: number;
      misses: number;
      /** Detection bounds (FailoverProfile); default: `misses × interval` and 20 intervals. */
      minDetectionMs?: number;
      maxDetectionMs?: number;
      clock?: () => number;
      /** Told about every tick that fired late (this process was not scheduled): lateness ms. */
      onLateTick?: (latenessMs: number) => void;
    },
  ) {}

  async start(
    targets: readonly ProbeTarget[],
    onChange: (name: string, up: boolean, at: number, evidence?: VerdictEvidence) => void,
    onClaim?: (name: string, epoch: number, at: number) => void,
  ): Promise<void> {
    const clock = this.opts.clock ?? (() => performance.now());
    const { intervalMs, misses } = this.opts;
    const minDetectionMs = this.opts.minDetectionMs ?? intervalMs * misses;
    const detector = new FailureDetector(
      { intervalMs, misses, minDetectionMs, maxDetectionMs: Math.max(minDetectionMs, this.opts.maxDetectionMs ?? 20 * intervalMs) },
      targets.map((t) => t.name),
      clock(),
    );
    const state = targets.map(() => ({ seq: 0, claim: 0, claimSeq: 0 }));
    const v6 = targets.some((t) => t.address.includes(':'));
    const sock = createSocket({ type: v6 ? 'udp6' : 'udp4' });
    const run = { stopped: false };
    this.sock = sock;
    this.run = run;
    sock.on('error', () => undefined); // ICMP unreachable etc.: the missing answer is what counts
    sock.on('message', (msg) => {
      if (run.stopped) return;
      if (msg.length < PROBE_BYTES || msg.readUInt32BE(0) !== MAGIC) return;
      const i = msg.readUInt32BE(4);
      const s = state[i];
      const t = targets[i];
      // Any recent probe's answer: a late answer is a live peer (duplicates do no harm).
      const seq = msg.readUInt32BE(8);
      if (!s || !t || ((s.seq - seq) >>> 0) >= RECENT_SEQS) return;
      const now = clock();
      // A bare echo (a responder that claims nothing) counts as claim 0. Only the newest answer's claim counts: a
      // late answer must not bring back an epoch the target has given up since.
      const claim = msg.length >= REPLY_BYTES ? msg.readUInt32BE(PROBE_BYTES) : 0;
      const newer = ((seq - s.claimSeq) >>> 0) < 0x80000000;
      if (newer) s.claimSeq = seq;
      if (newer && claim !== s.claim) {
        s.claim = claim;
        onClaim?.(t.name, claim, now);
      }
      if (detector.reply(t.name, now)) onChange(t.name, true, now);
    });
    await new Promise<void>((resolve) => sock.bind(0, resolve));
    const tick = (): void => {
      // stop() may come between the interval firing and this deferred tick: sending on the closed socket would
      // throw out of the event loop and kill the agent (it did, when the tunnel keeper swapped probers at start-up).
      if (run.stopped) return;
      const now = clock();
      const v = detector.tick(now, due);
      due = now + intervalMs;
      if (v.late) this.opts.onLateTick?.(v.latenessMs);
      for (const name of v.down) {
        onChange(name, false, now, { thresholdMs: detector.thresholdMs(name, now), silenceMs: detector.silenceMs(name), ownStallMs: detector.scheduler.maxMs(now) });
      }
      targets.forEach((t, i) => {
        const s = state[i];
        if (!s) return;
        s.seq = (s.seq + 1) >>> 0;
        const b = Buffer.alloc(PROBE_BYTES);
        b.writeUInt32BE(MAGIC, 0);
        b.writeUInt32BE(i, 4);
        b.writeUInt32BE(s.seq, 8);
        sock.send(b, t.port, t.address, () => undefined);
      });
    };
    let due: number | undefined;
    tick();
    // setImmediate: after a stall the timer fires before the poll phase reads replies already waiting in the
    // socket; checking in the check phase (after poll) keeps a slow process from calling healthy gateways dead.
    this.timer = setInterval(() => setImmediate(tick), this.opts.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.run) this.run.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const s = this.sock;
    this.sock = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

export class UdpEchoResponder implements EchoResponder {
  private sock: Socket | undefined;
  private on = true;
  private last: number | undefined;
  private epoch: () => number = () => 0;

  constructor(private readonly opts: { address: string; port: number }) {}

  async start(): Promise<void> {
    const sock = createSocket({ type: this.opts.address.includes(':') ? 'udp6' : 'udp4' });
    this.sock = sock;
    sock.on('error', () => undefined);
    sock.on('message', (msg, rinfo) => {
      if (msg.length < PROBE_BYTES || msg.readUInt32BE(0) !== MAGIC) return;
      this.last = performance.now();
      if (!this.on) return;
      const reply = Buffer.alloc(REPLY_BYTES);
      msg.copy(reply, 0, 0, PROBE_BYTES);
      // Read at reply time, not when the role last changed: a lease that ran out is no claim, tick or no tick.
      reply.writeUInt32BE(Math.min(Math.max(0, Math.floor(this.epoch())), 0xffffffff), PROBE_BYTES);
      sock.send(reply, rinfo.port, rinfo.address, () => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(this.opts.port, this.opts.address, () => {
        sock.off('error', reject);
        resolve();
      });
    });
  }

  serving(on: boolean): void {
    this.on = on;
  }

  lastProbeAt(): number | undefined {
    return this.last;
  }

  claims(epoch: () => number): void {
    this.epoch = epoch;
  }

  /** The bound port (the one asked for, or the kernel's pick for port 0); undefined when not started. */
  port(): number | undefined {
    return this.sock?.address().port;
  }

  async stop(): Promise<void> {
    const s = this.sock;
    this.sock = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

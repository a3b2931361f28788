import type { CandidateProber, EchoResponder } from './candidate-prober.js';

/** Prober whose verdicts a test sets by hand (`onChange(name, up, at)`), for agents run on a fake clock. */
export class ManualProber implements CandidateProber {
  onChange: ((name: string, up: boolean, at: number) => void) | undefined;
  onClaim: ((name: string, epoch: number, at: number) => void) | undefined;
  start(_t: unknown, onChange: (name: string, up: boolean, at: number) => void, onClaim?: (name: string, epoch: number, at: number) => void): Promise<void> {
    this.onChange = onChange;
    this.onClaim = onClaim;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
}

/** Responder that records whether it would answer and never hears a probe. */
export class SilentResponder implements EchoResponder {
  on = true;
  start(): Promise<void> { return Promise.resolve(); }
  serving(on: boolean): void { this.on = on; }
  lastProbeAt(): number | undefined { return undefined; }
  /** The claim replies would carry (the agent's lease epoch, 0 if none). */
  epoch: () => number = () => 0;
  claims(epoch: () => number): void { this.epoch = epoch; }
  stop(): Promise<void> { return Promise.resolve(); }
}

/**
 * When a pool looks exhausted the engine re-reads it from the store (another process may have freed addresses or
 * blocks), but at most once per `intervalMs` per pool, so a full pool does not turn every ADD into a full store scan.
 */
export class ResyncThrottle {
  private readonly last = new Map<string, number>();

  constructor(private readonly intervalMs: number) {}

  /** True, and counted as a re-read at `now`, if `pool` was not re-read within the interval; else false. */
  tryResync(pool: string, now: number): boolean {
    const last = this.last.get(pool);
    if (last !== undefined && now - last < this.intervalMs) return false;
    this.last.set(pool, now);
    return true;
  }
}

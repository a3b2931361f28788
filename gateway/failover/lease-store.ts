/**
 * The lease that fences egress IPs. One lease per EgressGateway (key). A store hands it to one holder at a time,
 * with an epoch that only ever grows, and lets it expire `ttlMs` after the last grant or renewal *as measured by
 * the store*. Holders never read the store's clock: they count from when they sent the request (lease-keeper.ts).
 */
export interface LeaseRecord {
  readonly holder: string;
  readonly epoch: number;
  /** Remaining time to live as the store sees it right now. */
  readonly remainingMs: number;
}

export interface LeaseStore {
  /** Grants the lease when it is free (never held, expired or released). Taken → `false`, not an exception. */
  acquire(key: string, holder: string, ttlMs: number): Promise<{ epoch: number } | false>;
  /** Extends the lease when `holder` still holds it with this `epoch` and it has not expired; else `false`. */
  renew(key: string, holder: string, epoch: number, ttlMs: number): Promise<boolean>;
  /** Gives the lease up at once so a successor need not wait for expiry. Idempotent: not holding → `false`. */
  release(key: string, holder: string, epoch: number): Promise<boolean>;
  read(key: string): Promise<LeaseRecord | null>;
}

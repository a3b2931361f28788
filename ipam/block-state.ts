import { cidrOf, formatCidr, type Cidr } from './cidr.js';
import { clipRanges, type IpRange } from './ip-range.js';

const FREE = 0;
const USED = 1;
const UNUSABLE = 2;

/**
 * Usage of one block as a byte per address (free / used / unusable). Offsets are small numbers, so the hot path
 * (find a free address, mark it) never touches BigInt. Next-fit from a cursor, like host-local, so a just-freed
 * address is not handed out again at once (stale ARP and conntrack entries would hit the new pod).
 */
export class BlockState {
  readonly cidr: Cidr;
  readonly cidrText: string;
  private readonly state: Uint8Array;
  private cursor = 0;
  /** Free usable addresses. */
  free = 0;
  /** Addresses held (used state), usable or not. */
  used = 0;
  /** When the block last became empty (ms), for the release grace period. */
  emptySince: number;

  constructor(cidr: Cidr, usable: readonly IpRange[], now: number) {
    this.cidr = cidr;
    this.cidrText = formatCidr(cidr);
    const size = Number(cidr.last - cidr.first + 1n);
    this.state = new Uint8Array(size).fill(UNUSABLE);
    for (const r of clipRanges(usable, cidr.first, cidr.last)) {
      const a = Number(r.first - cidr.first);
      const b = Number(r.last - cidr.first);
      this.state.fill(FREE, a, b + 1);
      this.free += b - a + 1;
    }
    this.emptySince = now;
  }

  static containing(family: Cidr['family'], value: bigint, prefix: number, usable: readonly IpRange[], now: number): BlockState {
    return new BlockState(cidrOf(family, value, prefix), usable, now);
  }

  /** Next free offset at or after the cursor (wrapping), or -1. Does not mark it. */
  findFree(): number {
    const n = this.state.length;
    if (this.free === 0) return -1;
    for (let i = 0; i < n; i++) {
      const o = (this.cursor + i) % n;
      if (this.state[o] === FREE) return o;
    }
    return -1;
  }

  offsetOf(value: bigint): number {
    return Number(value - this.cidr.first);
  }

  valueAt(offset: number): bigint {
    return this.cidr.first + BigInt(offset);
  }

  /** Marks an offset held; idempotent. Advances the cursor past it. */
  markUsed(offset: number): void {
    const s = this.state[offset];
    if (s === USED) return;
    if (s === FREE) this.free--;
    this.state[offset] = USED;
    this.used++;
    this.cursor = (offset + 1) % this.state.length;
  }

  /**
   * Marks an offset released. `usable` tells whether it may be handed out again (it may not if the config
   * changed and the address is now excluded).
   */
  markFree(offset: number, usable: boolean, now: number): void {
    if (this.state[offset] !== USED) return;
    this.used--;
    this.state[offset] = usable ? FREE : UNUSABLE;
    if (usable) this.free++;
    if (this.used === 0) this.emptySince = now;
  }

  isUsed(offset: number): boolean {
    return this.state[offset] === USED;
  }
}

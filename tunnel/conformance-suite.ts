// Test-only: the one conformance suite every TunnelDriver (fake and real) runs through. Imported by *.test.ts.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { isStraitError } from '../api/index.js';
import type { TunnelDriver, TunnelPeer, TunnelStatus, TunnelType } from './types.js';

export interface ConformanceHarness {
  readonly type: TunnelType;
  readonly a: TunnelDriver;
  readonly b: TunnelDriver;
  /** A's view of B and B's view of A. */
  peerB(): TunnelPeer;
  peerA(): TunnelPeer;
  /** A second peer for A that does not exist on the wire (to add and remove beside B). */
  phantom(): TunnelPeer;
  /** Real datapath only: A's pod address reaches B's (with a payload of `size` bytes and DF when given). */
  reach?(size?: number): Promise<boolean>;
  /**
   * Real datapath only: captures the underlay while A's pod pings B's with a marker in the payload; returns how
   * many packets of the type's UDP port were seen and whether the marker appeared in clear.
   */
  wire?(): Promise<{ packets: number; markerInClear: boolean }>;
  /**
   * Real datapath only: `count` pings and ping's own tally of transmitted, received and duplicate replies
   * (`+N duplicates`): `pods` from A's pod address to B's through the tunnel, `underlay` from A to B's underlay
   * address beside it (a driver that borrows the underlay device must not make the kernel see frames twice).
   */
  pingTally?(count: number, path: 'pods' | 'underlay'): Promise<PingTally>;
  /** Pod MTU to test with DF (real datapath only). */
  podMtu?: number;
  /** New driver objects for the same two gateways (as after a crash of the process that owned `a` and `b`). */
  fresh?(): [TunnelDriver, TunnelDriver];
  /** Anything the drivers left behind after remove() (devices, processes, sockets, files); [] when clean. */
  leftovers(): Promise<string[]>;
  teardown(): Promise<void>;
}

export interface PingTally {
  transmitted: number;
  received: number;
  duplicates: number;
}

/** Reads ping's summary line (`5 packets transmitted, 5 received, +12 duplicates, 0% packet loss`). */
export function parsePingTally(out: string): PingTally {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received(?:, \+(\d+) duplicates)?/.exec(out);
  if (!m) throw new Error(`no ping summary in: ${out.slice(-300)}`);
  return { transmitted: Number(m[1]), received: Number(m[2]), duplicates: Number(m[3] ?? 0) };
}

function stable(s: TunnelStatus): unknown {
  // Counters and handshake times move with traffic; everything else must not change on a no-op reconcile.
  return {
    ...s,
    peers: s.peers.map((p) => ({ ...p, rxBytes: undefined, txBytes: undefined, lastHandshakeMs: undefined, state: undefined, detail: undefined })),
  };
}

/**
 * Registers the conformance tests (call inside a describe). `setup` builds the harness (topology + drivers,
 * no init); the tests then exercise the contract in order.
 */
export function tunnelConformance(setup: () => Promise<ConformanceHarness>, opts: { reachTimeoutMs?: number } = {}): void {
  let h: ConformanceHarness;
  const reachTimeout = opts.reachTimeoutMs ?? 15_000;

  async function reachSoon(size?: number): Promise<boolean> {
    if (!h.reach) return true;
    const end = Date.now() + reachTimeout;
    while (Date.now() < end) if (await h.reach(size)) return true;
    return false;
  }

  beforeAll(async () => {
    h = await setup();
  }, 60_000);
  afterAll(async () => {
    await h?.teardown();
  }, 60_000);

  it('refuses reconcile before init', async () => {
    await expect(h.a.reconcile([h.peerB()])).rejects.toMatchObject({ code: 'TUNNEL_NOT_INITIALIZED' });
  });

  it('init + reconcile up: pods reach each other, also at pod MTU with DF', async () => {
    await h.a.init();
    await h.b.init();
    await h.a.init(); // twice is fine
    await h.a.reconcile([h.peerB()]);
    await h.b.reconcile([h.peerA()]);
    expect(await reachSoon()).toBe(true);
    if (h.podMtu) expect(await reachSoon(h.podMtu - 28)).toBe(true);
    if (h.podMtu && h.reach) expect(await h.reach(h.podMtu - 28 + 200)).toBe(false); // too big with DF: refused, not black-holed silently
  }, 60_000);

  it('the underlay shows the encapsulation; only WireGuard and IPsec hide the payload', async () => {
    if (!h.wire) return;
    const w = await h.wire();
    expect(w.packets).toBeGreaterThan(0);
    expect(w.markerInClear).toBe(h.type === 'vxlan' || h.type === 'geneve');
  }, 30_000);

  it('delivers every packet once, through the tunnel and on the underlay beside it (ping counts no duplicates)', async () => {
    if (!h.pingTally) return;
    expect(await reachSoon()).toBe(true);
    for (const path of ['pods', 'underlay'] as const) {
      const t = await h.pingTally(10, path);
      expect({ path, duplicates: t.duplicates, transmitted: t.transmitted }).toEqual({ path, duplicates: 0, transmitted: 10 });
      expect(t.received).toBeGreaterThanOrEqual(9); // one loss allowed on a loaded machine; a duplicate never
    }
  }, 30_000);

  it('status reports the peers with ids, endpoints and CIDRs', async () => {
    const s = await h.a.status();
    expect(s.type).toBe(h.type);
    expect(s.initialized).toBe(true);
    expect(s.implementation).not.toBe('none');
    expect(s.peers.map((p) => p.id)).toEqual([h.peerB().id]);
    expect(s.peers[0]).toMatchObject({ endpoint: h.peerB().endpoint, remoteCidrs: [...h.peerB().remoteCidrs] });
  });

  it('reconciling the same set changes nothing', async () => {
    const before = await h.a.status();
    await h.a.reconcile([h.peerB()]);
    const after = await h.a.status();
    expect(stable(after)).toEqual(stable(before));
    expect(await reachSoon()).toBe(true);
  }, 30_000);

  it('rejects bad input and changes nothing', async () => {
    const before = await h.a.status();
    const bad = { ...h.peerB(), remoteCidrs: ['10.20.1.0/33'] };
    await expect(h.a.reconcile([bad])).rejects.toMatchObject({ code: 'TUNNEL_INVALID_PEER' });
    const dup = [h.peerB(), { ...h.phantom(), id: h.peerB().id }];
    const err = await h.a.reconcile(dup).catch((e: unknown) => e);
    expect(isStraitError(err, 'TUNNEL_INVALID_PEER')).toBe(true);
    expect(stable(await h.a.status())).toEqual(stable(before));
  });

  it('adds and removes another peer without disturbing the first', async () => {
    await h.a.reconcile([h.peerB(), h.phantom()]);
    const two = await h.a.status();
    expect(two.peers.map((p) => p.id).sort()).toEqual([h.peerB().id, h.phantom().id].sort());
    expect(await reachSoon()).toBe(true);
    await h.a.reconcile([h.peerB()]);
    const one = await h.a.status();
    expect(one.peers.map((p) => p.id)).toEqual([h.peerB().id]);
    expect(await reachSoon()).toBe(true);
  }, 60_000);

  it('concurrent reconciles apply in call order (the last one wins)', async () => {
    await Promise.all([h.a.reconcile([h.peerB(), h.phantom()]), h.a.reconcile([h.peerB()])]);
    expect((await h.a.status()).peers.map((p) => p.id)).toEqual([h.peerB().id]);
    expect(await reachSoon()).toBe(true);
  }, 60_000);

  it('updates a peer in place (remote CIDRs change)', async () => {
    const wider = { ...h.peerB(), remoteCidrs: [...h.peerB().remoteCidrs, '10.21.0.0/16'] };
    await h.a.reconcile([wider]);
    const s = await h.a.status();
    expect([...(s.peers[0]?.remoteCidrs ?? [])].sort()).toEqual([...wider.remoteCidrs].sort());
    await h.a.reconcile([h.peerB()]);
    expect((await h.a.status()).peers[0]?.remoteCidrs).toEqual([...h.peerB().remoteCidrs]);
    expect(await reachSoon()).toBe(true);
  }, 60_000);

  it('reconcile to the empty set removes the peer; remove() leaves nothing behind', async () => {
    await h.a.reconcile([]);
    expect((await h.a.status()).peers).toEqual([]);
    if (h.reach) expect(await h.reach()).toBe(false);
    // remove() works from a fresh object too (state comes from the datapath, pid files and names): crash recovery.
    const [fa, fb] = h.fresh ? h.fresh() : [h.a, h.b];
    await fa.remove();
    await fb.remove();
    await h.a.remove(); // and again on the original objects: idempotent
    await h.b.remove();
    const s = await h.a.status();
    expect(s.initialized).toBe(false);
    expect(s.devices).toEqual([]);
    expect(s.peers).toEqual([]);
    expect(await h.leftovers()).toEqual([]);
  }, 60_000);
}

import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { describeRoot } from '../../testing/index.js';
import type { TunnelType } from '../../tunnel/index.js';
import { labUp, type Lab, type LabUpOptions } from './lab.js';
import { findLeftovers, netnsInodes } from './leftovers.js';
import { backgroundPing, parsePingSummary, ping, pingUntil, startCapture, tcpMessage, tcpTransfer } from './traffic.js';

/**
 * End-to-end checks of one tunnel type through the lab, shared by the per-type `lab-<type>.root.test.ts`
 * files (one file per type so Jest runs types in parallel; one lab per suite shared by its assertions).
 */

const ENCAP_PORT: Record<TunnelType, number> = { vxlan: 4789, geneve: 6081, wireguard: 51820, ipsec: 4500 };
const ENCRYPTED: Record<TunnelType, boolean> = { vxlan: false, geneve: false, wireguard: true, ipsec: true };
const SETUP_TIMEOUT = 90_000;

/**
 * The suite's lab. `up` keeps the build in flight so that `down` can stop it: when the set-up hook times out (a
 * loaded machine: lab up took over 90 s at load 26), Jest runs afterAll while labUp is still building, and a lab
 * finished after the teardown stayed up for good (16 namespaces, wireguard-go and ovs-vswitchd per run, seen).
 */
function holder(): { get(): Lab; up(o: LabUpOptions): Promise<void>; down(): Promise<void>; inodes: number[] } {
  let lab: Lab | undefined;
  let building: { abort: AbortController; done: Promise<Lab> } | undefined;
  return {
    inodes: [],
    get() {
      if (!lab) throw new Error('lab not built (see beforeAll failure)');
      return lab;
    },
    async up(o) {
      const abort = new AbortController();
      const done = labUp({ ...o, signal: abort.signal });
      building = { abort, done };
      lab = await done;
      building = undefined;
    },
    async down() {
      // A build still running is aborted (labUp rolls back what it created), or its lab is taken down once built.
      const b = building;
      building = undefined;
      if (b) {
        b.abort.abort();
        lab = await b.done.catch(() => undefined);
      }
      const l = lab;
      lab = undefined;
      await l?.down();
    },
  };
}

/** Two clusters: reachability, a 10 MB transfer with checksums, encapsulation and secrecy on the underlay, MTU, clean down. */
export function describeTwoClusterTunnel(type: TunnelType): void {
  describeRoot(`${type} tunnel between two clusters (lab two-clusters)`, () => {
    const h = holder();
    const a = 'c1-n1-p1';
    const b = 'c2-n1-p1';

    beforeAll(async () => {
      await h.up({ topology: 'two-clusters', tunnel: type });
      h.inodes = await netnsInodes(h.get().runId);
    }, SETUP_TIMEOUT);

    afterAll(async () => {
      await h.down();
    }, 60_000);

    it('pods reach each other across the clusters (ping both ways)', async () => {
      const lab = h.get();
      expect(await ping(lab, a, lab.ip(b))).toBe(true);
      expect(await ping(lab, b, lab.ip(a))).toBe(true);
      // The traffic really goes through the tunnel driver: its status lists the peer.
      const st = await lab.tunnel?.status('c1');
      expect(st?.peers.map((p) => p.cluster)).toEqual(['c2']);
    });

    it('delivers each packet once (ping counts no duplicates, both ways)', async () => {
      const lab = h.get();
      for (const [from, to] of [[a, b], [b, a]] as const) {
        const r = await lab.exec(from, ['ping', '-n', '-c', '5', '-i', '0.2', '-W', '1', lab.ip(to)], { allowFailure: true });
        const s = parsePingSummary(r.stdout);
        expect({ from, duplicates: s?.duplicates, transmitted: s?.transmitted }).toEqual({ from, duplicates: 0, transmitted: 5 });
        expect(s?.received).toBeGreaterThanOrEqual(4);
      }
    }, 30_000);

    it('moves 10 MB over TCP with the same SHA-256 on both ends', async () => {
      const lab = h.get();
      const r = await tcpTransfer(lab, a, b, 10 * 1024 * 1024);
      expect(r.bytes).toBe(10 * 1024 * 1024);
      expect(r.receivedSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(r.receivedSha256).toBe(r.sentSha256);
    }, 120_000);

    it(`shows UDP ${ENCAP_PORT[type]} on the underlay, and the pods' marker ${ENCRYPTED[type] ? 'never' : 'in clear'}`, async () => {
      const lab = h.get();
      const routerIf = lab.topology.clusters[0]?.routerIf ?? '';
      const cap = await startCapture(lab, 'router', routerIf, `underlay-${type}`);
      const marker = `STRAIT-MARKER-${lab.runId}-${type}-0123456789`;
      let got = '';
      try {
        got = await tcpMessage(lab, a, b, `${marker}\n`);
      } finally {
        const pcap = await cap.stop();
        expect(got).toContain(marker); // the marker did cross, so its absence below is meaningful
        expect(await cap.count(`udp port ${ENCAP_PORT[type]}`)).toBeGreaterThan(0);
        expect(pcap.includes(Buffer.from(marker))).toBe(!ENCRYPTED[type]);
      }
    }, 60_000);

    it('carries 1,400-byte payloads: pod MTU from the tunnel maths, DF pings at pod MTU, TCP and fragmented ping of 1,400', async () => {
      const lab = h.get();
      const mtu = lab.tunnel?.podMtu ?? 0;
      expect(mtu).toBeGreaterThanOrEqual(1400);
      const link = await lab.exec(a, ['ip', '-o', 'link', 'show', 'eth0']);
      expect(link.stdout).toContain(`mtu ${mtu} `);
      // The largest packet that fits the pod MTU crosses with DF set (no black hole).
      expect(await ping(lab, a, lab.ip(b), ['-M', 'do', '-s', String(mtu - 28)])).toBe(true);
      if (mtu - 28 >= 1400) expect(await ping(lab, a, lab.ip(b), ['-M', 'do', '-s', '1400'])).toBe(true);
      // 1,400 bytes of ICMP payload from a pod (fragmented by the pod when its MTU is smaller).
      expect(await ping(lab, a, lab.ip(b), ['-s', '1400'])).toBe(true);
      const payload = 'x'.repeat(1399);
      expect(await tcpMessage(lab, a, b, `${payload}\n`, 7778)).toBe(`${payload}\n`);
    }, 60_000);

    it('lab down leaves no namespace, link, process or socket of the run', async () => {
      const runId = h.get().runId;
      await h.down();
      expect(await findLeftovers(runId, h.inodes)).toEqual({ namespaces: [], processes: [], sockets: [], runDir: false });
    }, 60_000);
  });
}

/** Three clusters: changing one peer leaves the other pair's traffic alone; keys rotate under a running ping. */
export function describeThreeClusterTunnel(type: TunnelType, opts: { rotation: boolean }): void {
  describeRoot(`${type} tunnels between three clusters (lab three-clusters)`, () => {
    const h = holder();
    const p1 = 'c1-n1-p1';
    const p2 = 'c2-n1-p1';
    const p3 = 'c3-n1-p1';

    beforeAll(async () => {
      await h.up({ topology: 'three-clusters', tunnel: type });
      h.inodes = await netnsInodes(h.get().runId);
    }, SETUP_TIMEOUT);

    afterAll(async () => {
      await h.down();
    }, 60_000);

    it('removing and re-adding a peer leaves the other pair untouched', async () => {
      const lab = h.get();
      const t = lab.tunnel;
      if (!t) throw new Error('no tunnel');
      const bg = backgroundPing(lab, p1, lab.ip(p2));
      await new Promise((r) => setTimeout(r, 300));
      // c1 and c3 drop each other; c2 keeps both.
      await Promise.all([t.reconcile('c1', ['c2']), t.reconcile('c3', ['c2'])]);
      expect(await ping(lab, p1, lab.ip(p3))).toBe(false);
      expect(await ping(lab, p3, lab.ip(p2))).toBe(true);
      await Promise.all([t.reconcile('c1'), t.reconcile('c3')]);
      expect(await pingUntil(lab, p1, lab.ip(p3))).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      const stats = await bg.stop();
      expect(stats.transmitted).toBeGreaterThan(10);
      expect(stats.lost).toBeLessThanOrEqual(1);
    }, 90_000);

    if (opts.rotation) {
      it('rotates keys while a ping runs, losing at most a few packets', async () => {
        const lab = h.get();
        const t = lab.tunnel;
        if (!t) throw new Error('no tunnel');
        const c1Seen = async () => (await t.status('c3')).peers.find((p) => p.cluster === 'c1');
        const before = await c1Seen();
        const bg = backgroundPing(lab, p1, lab.ip(p2));
        await new Promise((r) => setTimeout(r, 300));
        const t0 = Date.now();
        await t.rotateKeys('c1');
        await t.rotateKeys('c2');
        // Traffic must flow on the new keys (pingUntil retries through any short gap).
        expect(await pingUntil(lab, p1, lab.ip(p2), 10_000)).toBe(true);
        expect(await pingUntil(lab, p1, lab.ip(p3), 10_000)).toBe(true);
        await new Promise((r) => setTimeout(r, 500));
        const stats = await bg.stop();
        expect(stats.transmitted).toBeGreaterThan(10);
        // "A few": at 50 ms per probe, 10 lost probes are half a second.
        expect(stats.lost).toBeLessThanOrEqual(10);
        // The new keys are really in use: c3 (not rotated itself) talks to c1 on a session made after the rotation.
        const after = await c1Seen();
        expect(after?.state).toBe('up');
        if (type === 'wireguard') expect(after?.lastHandshakeMs).toBeGreaterThanOrEqual(Math.floor(t0 / 1000) * 1000);
        if (type === 'ipsec') expect(after?.detail).not.toBe(before?.detail); // a new IKE SA (unique id)
      }, 90_000);
    }

    it('lab down leaves nothing of the run behind', async () => {
      const runId = h.get().runId;
      await h.down();
      expect(await findLeftovers(runId, h.inodes)).toEqual({ namespaces: [], processes: [], sockets: [], runDir: false });
    }, 60_000);
  });
}

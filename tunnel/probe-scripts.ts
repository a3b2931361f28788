/**
 * The socket side of the health prober runs as a small child process (`node -e`), so it can be started inside
 * any network namespace with `ip netns exec` (Node cannot switch namespaces itself). These scripts only move
 * packets and print one line per result; state (up/down), RTT averaging and events live in the parent
 * (probe-state.ts, health-prober.ts).
 *
 * Wire format (UDP, 24 bytes): "STP1" | type u8 (1 request, 2 reply) | pad u8×3 | prober id u32 | seq u32 |
 * sent-at f64 (prober's clock, echoed unchanged).
 */
export const PROBE_MAGIC = 'STP1';
export const PROBE_PACKET_BYTES = 24;

export const RESPONDER_SCRIPT = `
const dgram = require('node:dgram');
const cfg = JSON.parse(process.env.STRAIT_PROBE || '{}');
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => {
  if (m.length < 24 || m.toString('latin1', 0, 4) !== 'STP1' || m[4] !== 1) return;
  m[4] = 2;
  s.send(m, r.port, r.address);
});
s.on('error', (e) => { console.error(e.message); process.exit(1); });
s.bind(cfg.port, cfg.address || '0.0.0.0', () => console.log('READY ' + s.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

export const PROBER_SCRIPT = `
const dgram = require('node:dgram');
const { performance } = require('node:perf_hooks');
const cfg = JSON.parse(process.env.STRAIT_PROBE || '{}');
const id = (Math.random() * 0xffffffff) >>> 0;
const s = dgram.createSocket('udp4');
const pending = new Map();
let seq = 0;
const out = [];
const flush = () => { if (out.length) { process.stdout.write(out.join('')); out.length = 0; } };
s.on('message', (m) => {
  if (m.length < 24 || m.toString('latin1', 0, 4) !== 'STP1' || m[4] !== 2 || m.readUInt32BE(8) !== id) return;
  const n = m.readUInt32BE(12);
  const p = pending.get(n);
  if (!p) return;
  pending.delete(n);
  out.push('R ' + p.t + ' ' + n + ' ' + (performance.now() - m.readDoubleBE(16)).toFixed(3) + '\\n');
  flush();
});
s.on('error', (e) => { console.error(e.message); process.exit(1); });
function tick() {
  const now = performance.now();
  for (const [n, p] of pending) if (now - p.at >= cfg.timeoutMs) { pending.delete(n); out.push('M ' + p.t + ' ' + n + '\\n'); }
  for (let i = 0; i < cfg.targets.length; i++) {
    const t = cfg.targets[i];
    const b = Buffer.alloc(24);
    b.write('STP1', 0, 'latin1'); b[4] = 1; b.writeUInt32BE(id, 8); b.writeUInt32BE(++seq, 12); b.writeDoubleBE(performance.now(), 16);
    pending.set(seq, { t: i, at: now });
    s.send(b, t.port, t.address, () => {});
  }
  flush();
}
s.bind(0, cfg.source || '0.0.0.0', () => { console.log('READY'); tick(); setInterval(tick, cfg.intervalMs); });
process.on('SIGTERM', () => process.exit(0));
`;

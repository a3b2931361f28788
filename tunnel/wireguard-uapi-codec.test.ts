import { describe, expect, it } from '@jest/globals';
import { isStraitError } from '../api/index.js';
import { decodeUapiGet, decodeUapiSetAnswer, encodeUapiSet, parseWgDump, uapiAnswerLength } from './wireguard-uapi-codec.js';

// Captured from wireguard-go v0.0.20220316 (device private key replaced, the
// first peer's allowed IPs swapped to show they come back sorted): two peers set with `wg set`, one with a
// PSK, endpoint and two allowed IPs, one with none of them. WG_DUMP is `wg show <if> dump` of the same device.
const GET_ANSWER = [
  `private_key=${'ab'.repeat(32)}`,
  'listen_port=51999',
  'public_key=96f34b9644c5988b514a92859ce6d87e7ae0d252e4004272fc37818ec56b3c17',
  'preshared_key=131efec248513de8029f28f59b33d06aa37aa12ea62d29b24c68d3e5e303c6b0',
  'protocol_version=1',
  'endpoint=192.168.9.9:51820',
  'last_handshake_time_sec=0',
  'last_handshake_time_nsec=0',
  'tx_bytes=0',
  'rx_bytes=0',
  'persistent_keepalive_interval=25',
  'allowed_ip=10.2.0.0/16',
  'allowed_ip=10.1.0.0/24',
  'public_key=1db8a0bc58d3b5b4ff7476fc58cf4e5f010483096b44edff046607307e9e821f',
  `preshared_key=${'0'.repeat(64)}`,
  'protocol_version=1',
  'last_handshake_time_sec=0',
  'last_handshake_time_nsec=0',
  'tx_bytes=0',
  'rx_bytes=0',
  'persistent_keepalive_interval=0',
  'errno=0',
  '',
  '',
].join('\n');
const WG_DUMP = [
  'yByawo8xHuttc6+q/NpYjueNWZ4bYELmUeqRh7Y90W0=\thPH046UWikg7A9UtaBZPCKlEeVgBrfl8nlOwoQoLyGw=\t51999\toff',
  'lvNLlkTFmItRSpKFnObYfnrg0lLkAEJy/DeBjsVrPBc=\tEx7+wkhRPegCnyj1mzPQaqN6oS6mLSmyTGjT5eMDxrA=\t192.168.9.9:51820\t10.1.0.0/24,10.2.0.0/16\t0\t0\t0\t25',
  'HbigvFjTtbT/dHb8WM9OXwEEgwlrRO3/BGYHMH6egh8=\t(none)\t(none)\t(none)\t0\t0\t0\toff',
  '',
].join('\n');
const K1 = 'lvNLlkTFmItRSpKFnObYfnrg0lLkAEJy/DeBjsVrPBc=';
const K1_HEX = '96f34b9644c5988b514a92859ce6d87e7ae0d252e4004272fc37818ec56b3c17';
const PSK = 'Ex7+wkhRPegCnyj1mzPQaqN6oS6mLSmyTGjT5eMDxrA=';
const PSK_HEX = '131efec248513de8029f28f59b33d06aa37aa12ea62d29b24c68d3e5e303c6b0';
const K2 = 'HbigvFjTtbT/dHb8WM9OXwEEgwlrRO3/BGYHMH6egh8=';
const K2_HEX = '1db8a0bc58d3b5b4ff7476fc58cf4e5f010483096b44edff046607307e9e821f';

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isStraitError(e) ? e.code : `not a StraitError: ${String(e)}`;
  }
  return undefined;
}

describe('WireGuard UAPI codec', () => {
  it('reads a get=1 answer into the peers `wg show dump` gives for the same device', () => {
    const peers = decodeUapiGet(GET_ANSWER);
    expect(peers).toEqual(parseWgDump(WG_DUMP));
    expect(peers).toEqual([
      { publicKey: K1, psk: PSK, endpoint: '192.168.9.9:51820', allowedIps: ['10.1.0.0/24', '10.2.0.0/16'], latestHandshakeMs: 0, rx: 0, tx: 0 },
      { publicKey: K2, psk: '(none)', endpoint: '(none)', allowedIps: [], latestHandshakeMs: 0, rx: 0, tx: 0 },
    ]);
  });

  it('takes the handshake time from seconds and nanoseconds, and the byte counters', () => {
    const a = decodeUapiGet(`public_key=${K1_HEX}\nlast_handshake_time_sec=1765000000\nlast_handshake_time_nsec=123999999\nrx_bytes=9007199254740993\ntx_bytes=42\nfuture_key=x\nerrno=0\n\n`);
    expect(a).toEqual([{ publicKey: K1, psk: '(none)', endpoint: '(none)', allowedIps: [], latestHandshakeMs: 1_765_000_000_123, rx: 9007199254740992, tx: 42 }]);
    expect(decodeUapiGet('listen_port=51820\nerrno=0\n\n')).toEqual([]);
  });

  it.each([
    ['errno non-zero (wireguard-go: -22 for a bad value)', 'errno=-22\n\n'],
    ['truncated (no blank line)', `public_key=${K1_HEX}\nerrno=0\n`],
    ['no errno line', `public_key=${K1_HEX}\n\n`],
    ['a line without =', `public_key=${K1_HEX}\nendpoint\nerrno=0\n\n`],
    ['a peer key before any public_key', 'allowed_ip=10.1.0.0/24\nerrno=0\n\n'],
    ['a key that is not 32 bytes of hex', 'public_key=96f3\nerrno=0\n\n'],
    ['a number that is not one', `public_key=${K1_HEX}\nrx_bytes=12x\nerrno=0\n\n`],
    ['a device key among the peers', `public_key=${K1_HEX}\nlisten_port=1\nerrno=0\n\n`],
  ])('refuses a malformed or failed get answer: %s', (_n, answer) => {
    expect(code(() => decodeUapiGet(answer))).toBe('TUNNEL_DATAPATH_FAILED');
  });

  it('names the errno of a refused request', () => {
    let err: unknown;
    try {
      decodeUapiSetAnswer('errno=-98\n\n');
    } catch (e) {
      err = e;
    }
    expect(isStraitError(err, 'TUNNEL_DATAPATH_FAILED')).toBe(true);
    expect((err as { details: unknown }).details).toEqual({ errno: -98 });
    expect(() => decodeUapiSetAnswer('errno=0\n\n')).not.toThrow();
    expect(code(() => decodeUapiSetAnswer('public_key=00\nerrno=0\n\n'))).toBe('TUNNEL_DATAPATH_FAILED');
  });

  it('writes the lines `wg set` sends: hex keys, zero PSK for none, allowed IPs replaced, removals as given', () => {
    const req = encodeUapiSet({
      privateKey: PSK,
      listenPort: 51820,
      peers: [
        { publicKey: K2, endpoint: '192.168.77.2:51820', allowedIps: ['10.20.1.0/24', '10.21.0.0/16'], keepaliveS: 25, psk: undefined },
        { publicKey: K1, endpoint: '192.168.77.3:51820', allowedIps: ['10.30.1.0/24'], keepaliveS: 25, psk: PSK },
        { publicKey: K1, remove: true },
      ],
    });
    expect(req).toBe(
      [
        'set=1',
        `private_key=${PSK_HEX}`,
        'listen_port=51820',
        `public_key=${K2_HEX}`,
        `preshared_key=${'0'.repeat(64)}`,
        'endpoint=192.168.77.2:51820',
        'persistent_keepalive_interval=25',
        'replace_allowed_ips=true',
        'allowed_ip=10.20.1.0/24',
        'allowed_ip=10.21.0.0/16',
        `public_key=${K1_HEX}`,
        `preshared_key=${PSK_HEX}`,
        'endpoint=192.168.77.3:51820',
        'persistent_keepalive_interval=25',
        'replace_allowed_ips=true',
        'allowed_ip=10.30.1.0/24',
        `public_key=${K1_HEX}`,
        'remove=true',
        '',
        '',
      ].join('\n'),
    );
    expect(encodeUapiSet({ privateKey: PSK })).toBe(`set=1\nprivate_key=${PSK_HEX}\n\n`);
  });

  it('refuses to write a bad key or a value that would break the line protocol', () => {
    const peer = { publicKey: K1, endpoint: '192.168.77.3:51820', allowedIps: ['10.30.1.0/24'], keepaliveS: 25, psk: undefined };
    expect(code(() => encodeUapiSet({ privateKey: 'not-a-key' }))).toBe('TUNNEL_INVALID_CONFIG');
    expect(code(() => encodeUapiSet({ peers: [{ ...peer, publicKey: `${K1.slice(0, -2)}!=` }] }))).toBe('TUNNEL_INVALID_CONFIG');
    expect(code(() => encodeUapiSet({ peers: [{ ...peer, endpoint: '1.2.3.4:1\nremove=true' }] }))).toBe('TUNNEL_INVALID_CONFIG');
    expect(code(() => encodeUapiSet({ peers: [{ ...peer, allowedIps: ['10.30.1.0/24\n'] }] }))).toBe('TUNNEL_INVALID_CONFIG');
    expect(code(() => encodeUapiSet({ listenPort: 70000 }))).toBe('TUNNEL_INVALID_CONFIG');
  });

  it('finds the end of an answer at its first blank line', () => {
    expect(uapiAnswerLength('errno=0\n')).toBe(-1);
    expect(uapiAnswerLength('errno=0\n\n')).toBe(9);
    expect(uapiAnswerLength('a=1\nerrno=0\n\nerrno=0\n\n')).toBe(13);
  });
});

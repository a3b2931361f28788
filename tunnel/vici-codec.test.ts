import { describe, expect, it } from '@jest/globals';
import { decodeFrames, decodeMessage, encodeMessage, encodePacket, ViciCodecError, ViciPacketType, type ViciMessage } from './vici-codec.js';

describe('VICI codec', () => {
  it('encodes key-values, lists and nested sections in the documented byte layout', () => {
    const bytes = encodeMessage({ a: 'b', l: ['x', 'yz'], s: { k: 'v' } });
    expect([...bytes]).toEqual([
      3, 1, 0x61, 0, 1, 0x62, // key-value a=b
      4, 1, 0x6c, 5, 0, 1, 0x78, 5, 0, 2, 0x79, 0x7a, 6, // list l [x, yz]
      1, 1, 0x73, 3, 1, 0x6b, 0, 1, 0x76, 2, // section s { k=v }
    ]);
  });

  it.each<[string, ViciMessage]>([
    ['empty', {}],
    ['conn', { 'p-gwb': { version: '2', local_addrs: ['192.168.1.2'], local: { auth: 'psk', id: 'gwa' }, children: { net: { local_ts: ['10.10.0.0/16'] } } } }],
    ['utf8 and empty values', { name: 'grüße', empty: '', list: [] }],
  ])('round-trips %s', (_n, msg) => {
    expect(decodeMessage(encodeMessage(msg))).toEqual(msg);
  });

  it('frames packets with a 4-byte length and splits partial input', () => {
    const p1 = encodePacket({ type: ViciPacketType.CmdRequest, name: 'version', message: {} });
    expect(p1.readUInt32BE(0)).toBe(p1.length - 4);
    const p2 = encodePacket({ type: ViciPacketType.CmdResponse, message: { daemon: 'charon' } });
    const all = Buffer.concat([p1, p2]);
    const first = decodeFrames(all.subarray(0, all.length - 3));
    expect(first.packets).toEqual([{ type: ViciPacketType.CmdRequest, name: 'version', message: {} }]);
    const second = decodeFrames(Buffer.concat([first.rest, all.subarray(all.length - 3)]));
    expect(second.packets).toEqual([{ type: ViciPacketType.CmdResponse, message: { daemon: 'charon' } }]);
    expect(second.rest.length).toBe(0);
  });

  it('rejects malformed messages', () => {
    expect(() => decodeMessage(Buffer.from([3, 5, 0x61]))).toThrow(ViciCodecError);
    expect(() => decodeMessage(Buffer.from([1, 1, 0x73]))).toThrow(ViciCodecError);
    expect(() => decodeMessage(Buffer.from([2]))).toThrow(ViciCodecError);
    expect(() => decodeMessage(Buffer.from([9]))).toThrow(ViciCodecError);
  });
});

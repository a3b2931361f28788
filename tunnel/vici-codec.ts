/**
 * strongSwan VICI wire format (pure; see strongSwan src/libcharon/plugins/vici/README.md).
 * Transport frame: 4-byte big-endian length, then a packet: 1-byte type, a 1-byte-length name for named
 * types, then a message. A message is a sequence of elements: section start/end, key-value (2-byte value
 * length), list start/item/end.
 */
export type ViciValue = string | string[] | ViciMessage;
export interface ViciMessage {
  [key: string]: ViciValue;
}

export const enum ViciPacketType {
  CmdRequest = 0,
  CmdResponse = 1,
  CmdUnknown = 2,
  EventRegister = 3,
  EventUnregister = 4,
  EventConfirm = 5,
  EventUnknown = 6,
  Event = 7,
}

const SECTION_START = 1;
const SECTION_END = 2;
const KEY_VALUE = 3;
const LIST_START = 4;
const LIST_ITEM = 5;
const LIST_END = 6;

const NAMED = new Set<number>([ViciPacketType.CmdRequest, ViciPacketType.EventRegister, ViciPacketType.EventUnregister, ViciPacketType.Event]);

export class ViciCodecError extends Error {}

function name(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 255) throw new ViciCodecError(`VICI name too long: ${s.slice(0, 40)}…`);
  return Buffer.concat([Buffer.from([b.length]), b]);
}

function value(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 0xffff) throw new ViciCodecError('VICI value longer than 65535 bytes');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

export function encodeMessage(msg: ViciMessage): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(msg)) {
    if (typeof v === 'string') parts.push(Buffer.from([KEY_VALUE]), name(k), value(v));
    else if (Array.isArray(v)) {
      parts.push(Buffer.from([LIST_START]), name(k));
      for (const item of v) parts.push(Buffer.from([LIST_ITEM]), value(item));
      parts.push(Buffer.from([LIST_END]));
    } else parts.push(Buffer.from([SECTION_START]), name(k), encodeMessage(v), Buffer.from([SECTION_END]));
  }
  return Buffer.concat(parts);
}

export function decodeMessage(buf: Buffer): ViciMessage {
  let pos = 0;
  const need = (n: number): void => {
    if (pos + n > buf.length) throw new ViciCodecError('truncated VICI message');
  };
  const readName = (): string => {
    need(1);
    const len = buf[pos]!;
    pos += 1;
    need(len);
    const s = buf.toString('utf8', pos, pos + len);
    pos += len;
    return s;
  };
  const readValue = (): string => {
    need(2);
    const len = buf.readUInt16BE(pos);
    pos += 2;
    need(len);
    const s = buf.toString('utf8', pos, pos + len);
    pos += len;
    return s;
  };
  const root: ViciMessage = {};
  const stack: ViciMessage[] = [root];
  while (pos < buf.length) {
    const type = buf[pos]!;
    pos += 1;
    const top = stack[stack.length - 1]!;
    switch (type) {
      case SECTION_START: {
        const k = readName();
        const sec: ViciMessage = {};
        top[k] = sec;
        stack.push(sec);
        break;
      }
      case SECTION_END:
        if (stack.length === 1) throw new ViciCodecError('unbalanced VICI section end');
        stack.pop();
        break;
      case KEY_VALUE: {
        const k = readName();
        top[k] = readValue();
        break;
      }
      case LIST_START: {
        const k = readName();
        const items: string[] = [];
        for (;;) {
          need(1);
          const t = buf[pos]!;
          pos += 1;
          if (t === LIST_END) break;
          if (t !== LIST_ITEM) throw new ViciCodecError(`unexpected element ${t} in VICI list`);
          items.push(readValue());
        }
        top[k] = items;
        break;
      }
      default:
        throw new ViciCodecError(`unknown VICI element type ${type}`);
    }
  }
  if (stack.length !== 1) throw new ViciCodecError('unterminated VICI section');
  return root;
}

export interface ViciPacket {
  type: ViciPacketType;
  name?: string;
  message: ViciMessage;
}

/** One framed packet (length prefix included). */
export function encodePacket(p: ViciPacket): Buffer {
  const body = Buffer.concat([
    Buffer.from([p.type]),
    NAMED.has(p.type) ? name(p.name ?? '') : Buffer.alloc(0),
    encodeMessage(p.message),
  ]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** Splits complete frames off the front of `buf`; returns the packets and the unconsumed rest. */
export function decodeFrames(buf: Buffer): { packets: ViciPacket[]; rest: Buffer } {
  const packets: ViciPacket[] = [];
  let pos = 0;
  while (buf.length - pos >= 4) {
    const len = buf.readUInt32BE(pos);
    if (buf.length - pos - 4 < len) break;
    const body = buf.subarray(pos + 4, pos + 4 + len);
    pos += 4 + len;
    const type = body[0] as ViciPacketType;
    let off = 1;
    let pname: string | undefined;
    if (NAMED.has(type)) {
      const nlen = body[1] ?? 0;
      pname = body.toString('utf8', 2, 2 + nlen);
      off = 2 + nlen;
    }
    packets.push({ type, ...(pname !== undefined ? { name: pname } : {}), message: decodeMessage(body.subarray(off)) });
  }
  return { packets, rest: buf.subarray(pos) };
}

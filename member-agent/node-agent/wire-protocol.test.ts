import { describe, it, expect } from '@jest/globals';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './wire-protocol.js';

describe('wire protocol', () => {
  it('round-trips a request with the CNI environment and the netconf bytes untouched', () => {
    const req = { env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_ARGS: 'A=1;B=2=3', CNI_IFNAME: 'eth0' }, stdin: '{\n  "a": "b\\n\\n"\n}\n\n' };
    expect(decodeRequest(encodeRequest(req))).toEqual(req);
  });

  it('drops values with a newline instead of corrupting the header, and ignores unknown keys', () => {
    const raw = encodeRequest({ env: { CNI_COMMAND: 'DEL', CNI_NETNS: 'a\nb' }, stdin: '{}' });
    expect(decodeRequest(raw)).toEqual({ env: { CNI_COMMAND: 'DEL' }, stdin: '{}' });
    expect(decodeRequest('STRAIT-CNI 1\nFOO=bar\nCNI_IFNAME=eth1\n\n{}')).toEqual({ env: { CNI_IFNAME: 'eth1' }, stdin: '{}' });
  });

  it('explains malformed requests', () => {
    expect(decodeRequest('HTTP/1.1 GET /\n\n')).toMatch(/unknown protocol/);
    expect(decodeRequest('STRAIT-CNI 1\nCNI_COMMAND=ADD')).toMatch(/no end of header/);
    expect(decodeRequest('STRAIT-CNI 1\nnonsense\n\n{}')).toMatch(/malformed header/);
  });

  it('frames responses with one status byte', () => {
    expect(decodeResponse(encodeResponse({ ok: true, stdout: '{"x":1}' }))).toEqual({ ok: true, stdout: '{"x":1}' });
    expect(decodeResponse(encodeResponse({ ok: false, stdout: '' }))).toEqual({ ok: false, stdout: '' });
    expect(decodeResponse('')).toBeUndefined();
    expect(decodeResponse('x')).toBeUndefined();
  });
});

import { describe, it, expect } from '@jest/globals';
import { podCidrsFromNodes, validateJoinInput, type JoinInput } from './join-plan.js';

const ok: JoinInput = { brokerUrl: 'http://127.0.0.1:8080/', token: '0123abcd.0123456789abcdef0123456789abcdef', clusterId: 'east', podCidrs: ['10.244.0.0/16'], serviceCidrs: [] };

describe('validateJoinInput', () => {
  it('accepts a good input and trims the broker URL', () => {
    expect(validateJoinInput(ok).brokerUrl).toBe('http://127.0.0.1:8080');
  });
  it('accepts several broker replicas as URL,URL', () => {
    expect(validateJoinInput({ ...ok, brokerUrl: 'http://10.0.0.1:8080/, http://10.0.0.2:8080' }).brokerUrl).toBe('http://10.0.0.1:8080,http://10.0.0.2:8080');
  });
  it.each([
    ['a bad URL', { brokerUrl: 'not a url' }, 'INVALID_ARGUMENT'],
    ['a non-http URL', { brokerUrl: 'ftp://x' }, 'INVALID_ARGUMENT'],
    ['a bad second replica URL', { brokerUrl: 'http://a:1,not a url' }, 'INVALID_ARGUMENT'],
    ['replicas of mixed schemes', { brokerUrl: 'http://a:1,https://b:2', caHash: `sha256:${'0'.repeat(64)}` }, 'INVALID_ARGUMENT'],
    ['an empty URL list', { brokerUrl: ' , ' }, 'INVALID_ARGUMENT'],
    ['a malformed token', { token: 'nodot' }, 'JOIN_TOKEN_INVALID'],
    ['a bad cluster id', { clusterId: 'East_1' }, 'INVALID_ARGUMENT'],
    ['a dotted cluster id', { clusterId: 'a.b' }, 'INVALID_ARGUMENT'],
    ['https without a CA hash', { brokerUrl: 'https://b:8443' }, 'INVALID_ARGUMENT'],
    ['a malformed CA hash', { caHash: 'md5:00' }, 'INVALID_ARGUMENT'],
    ['a CIDR with host bits', { podCidrs: ['10.244.0.1/16'] }, 'INVALID_CIDR'],
    ['a bad service CIDR', { serviceCidrs: ['banana'] }, 'INVALID_CIDR'],
  ])('refuses %s', (_n, patch, code) => {
    expect(() => validateJoinInput({ ...ok, ...patch })).toThrow(expect.objectContaining({ code }));
  });
});

describe('podCidrsFromNodes', () => {
  it.each([
    [['10.244.0.0/24', '10.244.1.0/24'], ['10.244.0.0/23']],
    [['10.244.0.0/24', '10.244.3.0/24'], ['10.244.0.0/22']],
    [['10.244.7.0/24'], ['10.244.7.0/24']],
    [['10.244.0.0/24', 'fd00:10:244::/64', 'fd00:10:244:1::/64'], ['10.244.0.0/24', 'fd00:10:244::/63']],
    [['garbage'], []],
    [[], []],
  ])('%j → %j', (nodes, want) => {
    expect(podCidrsFromNodes(nodes)).toEqual(want);
  });
});

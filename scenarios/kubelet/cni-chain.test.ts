import { describe, expect, it } from '@jest/globals';
import { cniErrorMessage, pickConflist, pluginNetconf, podCniArgs, resultAddresses } from './cni-chain.js';

const conflist = { cniVersion: '1.0.0', name: 'strait', plugins: [{ type: 'bridge', bridge: 'cni0', ipam: { type: 'strait-ipam' } }, { type: 'portmap', capabilities: { portMappings: true } }] };

describe('the CNI chain as containerd runs it', () => {
  it('picks the lexically first configuration and wraps a single .conf into a list', () => {
    const l = pickConflist([{ name: 'README', text: 'x' }, { name: '20-other.conflist', text: JSON.stringify({ ...conflist, name: 'other' }) }, { name: '10-strait.conflist', text: JSON.stringify(conflist) }]);
    expect(l.name).toBe('strait');
    expect(l.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap']);
    const one = pickConflist([{ name: '05-br.conf', text: JSON.stringify({ cniVersion: '0.4.0', name: 'br', type: 'bridge' }) }]);
    expect(one).toEqual({ cniVersion: '0.4.0', name: 'br', plugins: [{ cniVersion: '0.4.0', name: 'br', type: 'bridge' }] });
  });

  it('refuses an empty conf dir and a conflist without plugins', () => {
    expect(() => pickConflist([])).toThrow(/cni config uninitialized/);
    expect(() => pickConflist([{ name: '10-x.conflist', text: '{"name":"x","plugins":[]}' }])).toThrow(/non-empty list/);
    expect(() => pickConflist([{ name: '10-x.conflist', text: '{nope' }])).toThrow(/not JSON/);
  });

  it('gives each plugin the list name and version, the previous result, and the capabilities it asks for', () => {
    const prev = { cniVersion: '1.0.0', ips: [{ address: '10.1.0.5/24' }] };
    expect(pluginNetconf(conflist, conflist.plugins[0]!, undefined)).toEqual({ type: 'bridge', bridge: 'cni0', ipam: { type: 'strait-ipam' }, name: 'strait', cniVersion: '1.0.0' });
    expect(pluginNetconf(conflist, conflist.plugins[1]!, prev)).toEqual({ type: 'portmap', name: 'strait', cniVersion: '1.0.0', runtimeConfig: { portMappings: [] }, prevResult: prev });
  });

  it('passes the pod as CNI_ARGS the way containerd\'s CRI plugin does', () => {
    expect(podCniArgs({ namespace: 'ns', name: 'web-0', uid: 'u-1' }, 'abc')).toBe('IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1');
  });

  it('reads addresses from a result and the message from an error result', () => {
    expect(resultAddresses({ ips: [{ address: '10.1.0.5/24' }, { address: 'fd00::5/64' }] })).toEqual(['10.1.0.5', 'fd00::5']);
    expect(resultAddresses(undefined)).toEqual([]);
    expect(cniErrorMessage('{"code":101,"msg":"pool \\"x\\" not found","details":"d"}', '')).toBe('pool "x" not found: d (CNI code 101)');
    expect(cniErrorMessage('', 'boom')).toBe('boom');
  });
});

import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { deleteNetns, ensureNetns, isRoot, netnsName, newRunId, run } from '../host/index.js';
import { chooseImplementations, TUNNEL_COMMANDS, type HostFacts, type TunnelCapabilities } from './capabilities.js';

const LIBIPSEC_PLUGIN_PATHS = [
  '/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so',
  '/usr/lib/x86_64-linux-gnu/ipsec/plugins/libstrongswan-kernel-libipsec.so',
  '/usr/lib/aarch64-linux-gnu/ipsec/plugins/libstrongswan-kernel-libipsec.so',
];

async function which(cmd: string): Promise<string | undefined> {
  if (cmd.startsWith('/')) return existsSync(cmd) ? cmd : undefined;
  const r = await run(['sh', '-c', 'command -v "$0"', cmd], { allowFailure: true });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

async function tryLink(ns: string, argv: string[]): Promise<boolean> {
  const r = await run(['ip', '-n', ns, 'link', 'add', ...argv], { allowFailure: true });
  return r.code === 0;
}

/**
 * Probes the kernel by trying, in a scratch namespace of its own run id (deleted afterwards), to create each
 * link type and an ESP state: /proc and module lists lie on kernels without loadable modules, an attempt
 * does not. Without root only the commands are checked and kernel features are reported absent.
 */
export async function detectCapabilities(): Promise<TunnelCapabilities> {
  const commands: Record<string, string | undefined> = {};
  await Promise.all(Object.keys(TUNNEL_COMMANDS).map(async (c) => (commands[c] = await which(c))));
  const root = isRoot();
  const kernel = { vxlan: false, geneve: false, wireguard: false, esp: false, tun: existsSync('/dev/net/tun') };
  if (root && commands.ip) {
    const ns = netnsName(newRunId(), 'caps');
    try {
      await ensureNetns(ns);
      kernel.vxlan = await tryLink(ns, ['cvx', 'type', 'vxlan', 'id', '1', 'dstport', '4789']);
      kernel.geneve = await tryLink(ns, ['cgn', 'type', 'geneve', 'id', '1', 'remote', '192.0.2.1']);
      kernel.wireguard = await tryLink(ns, ['cwg', 'type', 'wireguard']);
      const esp = await run(
        ['ip', '-n', ns, 'xfrm', 'state', 'add', 'src', '192.0.2.1', 'dst', '192.0.2.2', 'proto', 'esp', 'spi', '0x100', 'mode', 'tunnel',
          'aead', 'rfc4106(gcm(aes))', '0x0102030405060708090a0b0c0d0e0f1011121314', '128'],
        { allowFailure: true },
      );
      kernel.esp = esp.code === 0;
    } finally {
      await deleteNetns(ns);
    }
  }
  const facts: HostFacts = {
    kernelRelease: release(),
    root,
    kernel,
    commands,
    libipsecPlugin: LIBIPSEC_PLUGIN_PATHS.some((p) => existsSync(p)),
  };
  return { ...facts, implementations: chooseImplementations(facts) };
}

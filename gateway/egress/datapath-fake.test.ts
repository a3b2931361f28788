import { datapathConformance } from './datapath.conformance.js';
import { RecordingGatewayEgress, RecordingNodeEgress, RecordingNodeMasquerade, RecordingNodeRoutes } from './datapath-fake.js';

datapathConformance('recording fake', () => {
  let t = 0;
  return Promise.resolve({
    routes: new RecordingNodeRoutes(),
    nodeEgress: new RecordingNodeEgress(),
    nodeMasquerade: new RecordingNodeMasquerade(),
    gatewayEgress: new RecordingGatewayEgress(() => t),
    sleep: (ms: number) => { t += ms; return Promise.resolve(); },
    now: () => t,
    teardown: () => Promise.resolve(),
  });
});

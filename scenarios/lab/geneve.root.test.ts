import { describeThreeClusterTunnel, describeTwoClusterTunnel } from './e2e-suite.js';

// End-to-end through the lab with real geneve tunnels (see e2e-suite.ts for what is checked).
describeTwoClusterTunnel('geneve');
describeThreeClusterTunnel('geneve', { rotation: false });

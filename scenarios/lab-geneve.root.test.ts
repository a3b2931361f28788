import { describeThreeClusterTunnel, describeTwoClusterTunnel } from './lab-e2e-suite.js';

// End-to-end through the lab with real geneve tunnels (see lab-e2e-suite.ts for what is checked).
describeTwoClusterTunnel('geneve');
describeThreeClusterTunnel('geneve', { rotation: false });

import { describeThreeClusterTunnel, describeTwoClusterTunnel } from './lab-e2e-suite.js';

// End-to-end through the lab with real vxlan tunnels (see lab-e2e-suite.ts for what is checked).
describeTwoClusterTunnel('vxlan');
describeThreeClusterTunnel('vxlan', { rotation: false });

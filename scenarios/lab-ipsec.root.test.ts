import { describeThreeClusterTunnel, describeTwoClusterTunnel } from './lab-e2e-suite.js';

// End-to-end through the lab with real ipsec tunnels (see lab-e2e-suite.ts for what is checked).
describeTwoClusterTunnel('ipsec');
describeThreeClusterTunnel('ipsec', { rotation: true });

import { describeThreeClusterTunnel, describeTwoClusterTunnel } from './e2e-suite.js';

// End-to-end through the lab with real ipsec tunnels (see e2e-suite.ts for what is checked).
describeTwoClusterTunnel('ipsec');
describeThreeClusterTunnel('ipsec', { rotation: true });

import { describeThreeClusterTunnel, describeTwoClusterTunnel } from './e2e-suite.js';

// End-to-end through the lab with real wireguard tunnels (see e2e-suite.ts for what is checked).
describeTwoClusterTunnel('wireguard');
describeThreeClusterTunnel('wireguard', { rotation: true });

# The one Strait image: member agent, node agent (+ the strait-ipam CNI plugin it installs), gateway agent.
# Build: docker build -t <registry>/strait:<version> .   (docs/install.md; the manifests run `strait <command>`)
# cli/commands/manifests.test.ts checks that every file copied here exists and that the manifests' commands are in
# the image.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && rm -rf dist/testing && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# What the agents execute (scripts/system-packages.sh lists the same names for the lab): ip, nft, sysctl,
# arping/ping, conntrack, ethtool, wg + wireguard-go, Open vSwitch (Geneve tunnels), strongSwan (IPsec), and
# nc/socat for the strait-ipam shim's fast path. The lab's own tools (redis-server, tcpdump, iperf3, stress-ng) and
# the reference CNI plugins (the node's own) stay out.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      iproute2 nftables procps iputils-ping iputils-arping conntrack ethtool \
      wireguard-tools wireguard-go openvswitch-switch \
      strongswan-swanctl charon-systemd libcharon-extra-plugins libstrongswan-extra-plugins \
      netcat-openbsd socat \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/strait
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
RUN ln -s /opt/strait/bin/strait /usr/local/bin/strait \
 && ln -s /opt/strait/bin/strait-ipam /usr/local/bin/strait-ipam \
 && strait --version
ENV NODE_ENV=production
ENTRYPOINT ["/usr/local/bin/strait"]

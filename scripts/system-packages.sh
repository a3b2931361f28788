# The Debian packages Strait's lab, tests and CI use. Sourced by ensure-ready.sh, .ci/run and the demo.
STRAIT_DEBIAN_PACKAGES=(redis-server containernetworking-plugins iproute2 nftables iputils-ping iputils-arping
  ethtool conntrack conntrackd tcpdump iperf3 wireguard-tools wireguard-go openvswitch-switch strongswan-swanctl
  charon-systemd libcharon-extra-plugins libstrongswan-extra-plugins socat procps netcat-openbsd stress-ng)

ensure_system_packages() {
  local missing=()
  for p in "${STRAIT_DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "strait: missing Debian packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
    return 1
  fi
  echo "strait: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  # Debian starts these services on install; Strait runs its own instances per run, so stop the system ones.
  for svc in redis-server openvswitch-switch strongswan-starter strongswan conntrackd; do
    systemctl stop "$svc" 2>/dev/null || service "$svc" stop 2>/dev/null || true
  done
}

# npm dependencies exactly as locked. The lock file carries every platform's optional packages (it was generated
# from nothing, not rewritten into an existing node_modules), so `npm ci` accepts it as it is; a refusal is a bug
# in the lock file and fails here loudly instead of being papered over by `npm install`.
install_npm_dependencies() {
  npm ci --no-audit --no-fund >&2
}

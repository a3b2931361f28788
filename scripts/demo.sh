#!/usr/bin/env bash
# Strait's first command: `bash scripts/demo.sh` from a clean clone on Debian (as root, or with sudo available).
# Installs what is missing (Debian packages, npm dependencies), builds, and runs `strait demo`: a broker lease
# store, two member clusters with two gateway candidates and a worker with a pod each, WireGuard between the
# clusters, an egress policy; traffic runs, the active gateway is killed, and the measured outage is printed.
# The lab is torn down at the end, also on failure or Ctrl-C. Extra arguments go to `strait demo`
# (e.g. `bash scripts/demo.sh --profile fast`; `bash scripts/demo.sh ipam` for the IPAM demo).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo -E bash "$0" "$@"; fi
  echo "strait demo: needs root (network namespaces); run as root" >&2
  exit 1
fi

source scripts/system-packages.sh
ensure_system_packages

if ! command -v node >/dev/null 2>&1 || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "strait demo: Node.js >= 20.19 is required (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "  On Debian: install it from your Node.js source of choice, then re-run this script." >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm dependencies" >&2
  install_npm_dependencies
fi
echo "==> npm run build" >&2
npm run -s build >&2

exec node dist/cli/main.js demo "$@"

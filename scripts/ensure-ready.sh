#!/usr/bin/env bash
# Makes `npm test` work from a clean clone: installs the Debian packages the tests use (as root, once),
# the npm dependencies and the build. Quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/system-packages.sh
ensure_system_packages
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "strait: installing npm dependencies..." >&2
  install_npm_dependencies
fi
if [ ! -f dist/cli/main.js ] || [ -n "$(find api cli host ipam broker member-agent gateway tunnel crds scenarios -name '*.ts' -newer dist/cli/main.js -print -quit 2>/dev/null)" ]; then
  echo "strait: building (npm run build)..." >&2
  npm run -s build >&2
fi

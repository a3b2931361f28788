#!/usr/bin/env bash
# Makes `npm test` work from a clean clone: installs the Debian packages the tests use (as root, once),
# the npm dependencies and the build. Quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/system-packages.sh
ensure_system_packages
# Installed for this lock file? The stamp holds the lock's hash from the last install. File times are not enough: a git
# checkout or worktree gives package-lock.json a new mtime with the same content, and `npm ci` then ran for nothing
# (and, in a worktree whose node_modules is hard-linked to another's, wrote through the links).
lock_sha="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp=node_modules/.strait-lock-sha256
npm_stale() {
  [ -d node_modules ] || return 0
  if [ -f "$stamp" ]; then [ "$(cat "$stamp")" != "$lock_sha" ]; return; fi
  [ package-lock.json -nt node_modules/.package-lock.json ]
}
if npm_stale; then
  echo "strait: installing npm dependencies..." >&2
  install_npm_dependencies
fi
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_sha" ] || echo "$lock_sha" >"$stamp"
if [ ! -f dist/cli/main.js ] || [ -n "$(find api cli host ipam broker member-agent gateway tunnel crds scenarios -name '*.ts' -newer dist/cli/main.js -print -quit 2>/dev/null)" ]; then
  echo "strait: building (npm run build)..." >&2
  npm run -s build >&2
fi

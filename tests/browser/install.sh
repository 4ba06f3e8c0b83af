#!/usr/bin/env bash
# Installs the browser test's npm dependencies (playwright-core, pinned by package-lock.json) into DIR
# with `npm ci`; does nothing when DIR already holds exactly this lock file's install.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="$1"
mkdir -p "$dir"
if [ -f "$dir/node_modules/.installed-lock.json" ] && cmp -s "$here/package-lock.json" "$dir/node_modules/.installed-lock.json"; then
  exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$dir/"
cd "$dir"
# --ignore-scripts: nothing runs at install; playwright-core downloads no browser (Debian's is used).
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
cp package-lock.json node_modules/.installed-lock.json

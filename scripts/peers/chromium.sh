#!/bin/sh
# Headless Chromium for the web UI's browser tests (test/e2e/mount-ui.test.ts), from Debian's package:
#   scripts/peers/chromium.sh path    print the browser's path, installing `chromium` (as root) when missing
# playwright-core drives it; its own browser downloads are never used.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/peers/lib.sh
. "$HERE/lib.sh"

find_chromium() {
  for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

case ${1:-} in
  path)
    find_chromium || { apt_install chromium && find_chromium; } || die "chromium is not on PATH after installing it"
    ;;
  *) die "usage: $0 path" ;;
esac

#!/bin/sh
# The cadaver WebDAV client for the `vger mount` tests: installs Debian's package when missing (as root),
# then prints its path.
#   scripts/peers/cadaver.sh
# Exits non-zero with the reason when it is missing and cannot be installed (not root, no apt-get).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/peers/lib.sh
. "$HERE/lib.sh"
command -v cadaver >/dev/null 2>&1 || apt_install cadaver
command -v cadaver

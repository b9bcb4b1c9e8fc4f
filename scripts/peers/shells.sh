#!/bin/sh
# zsh and fish for the completion tests (`zsh -n`, `fish -n` parse the generated scripts): installs Debian's
# packages when missing (as root). Exits non-zero with the reason when one is missing and cannot be installed
# (not root, no apt-get); the tests then say that they are skipped and why.
#   scripts/peers/shells.sh
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/peers/lib.sh
. "$HERE/lib.sh"
for shell in zsh fish; do
  command -v "$shell" >/dev/null 2>&1 || apt_install "$shell"
done
command -v zsh
command -v fish

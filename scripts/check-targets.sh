#!/bin/sh
# Checks that the engine compiles for the targets this Linux machine cannot run (docs/platforms.md,
# "Checking the gates here"): Windows (x86_64-pc-windows-gnu, standing in for the MSVC target of the
# release) and macOS (aarch64-apple-darwin, x86_64-apple-darwin). For each target: `cargo clippy
# -D warnings` (a superset of `cargo check`) of the engine crates and the binding, and of vger-core's
# library with its unit tests. The C in the build scripts (zstd-sys, blake3's assembly,
# aws-lc-sys through rustls) needs a C compiler for the target: MinGW-w64 for Windows (installed
# with apt-get when missing and allowed), zig for macOS (the `ziglang` wheel from PyPI, in a
# virtualenv under .ci/zig). Idempotent: what is installed already is reused.
#
#   scripts/check-targets.sh [target...]     (default: all three)
#
# Honours CARGO_TARGET_DIR. Prints one line per target, OK or FAIL, and exits 1 if any failed.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS=${VGER_TOOLS_DIR:-$ROOT/.ci/zig}
LOGS=${VGER_CHECK_LOGS:-${CARGO_TARGET_DIR:-$ROOT/target}/check-targets}
PACKAGES="-p vger-types -p vger-crypto -p vger-storage -p vger-core -p vger-napi"
mkdir -p "$LOGS"

if [ $# -gt 0 ]; then
  TARGETS="$*"
else
  TARGETS="x86_64-pc-windows-gnu aarch64-apple-darwin x86_64-apple-darwin"
fi

say() { printf '==> %s\n' "$*" >&2; }

# The target's standard library.
need_std() {
  rustup target list --installed 2>/dev/null | grep -qx "$1" && return 0
  say "rustup target add $1"
  rustup target add "$1" >&2
}

# MinGW-w64's gcc for the windows-gnu target.
need_mingw() {
  command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 && return 0
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    say "apt-get install mingw-w64"
    $SUDO apt-get install -y mingw-w64 >&2 || { $SUDO apt-get update >&2 && $SUDO apt-get install -y mingw-w64 >&2; }
  fi
  command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1
}

# zig (PyPI's ziglang) in a virtualenv, and cc/ar wrappers for a macOS target.
need_zig() {
  if ! "$TOOLS/venv/bin/python" -m ziglang version >/dev/null 2>&1; then
    say "installing zig (pip install ziglang) into $TOOLS/venv"
    python3 -m venv "$TOOLS/venv" >&2 && "$TOOLS/venv/bin/pip" install --quiet ziglang >&2 || return 1
  fi
  mkdir -p "$TOOLS/bin"
  for arch in aarch64 x86_64; do
    cat >"$TOOLS/bin/cc-$arch-macos" <<EOF
#!/bin/sh
# cc-rs passes --target=<rust triple>, which zig does not know: the zig target is given instead.
for a do
  shift
  case "\$a" in --target=*|-arch|arm64|x86_64) continue ;; esac
  set -- "\$@" "\$a"
done
exec "$TOOLS/venv/bin/python" -m ziglang cc -target $arch-macos "\$@"
EOF
    cat >"$TOOLS/bin/ar-macos" <<EOF
#!/bin/sh
exec "$TOOLS/venv/bin/python" -m ziglang ar "\$@"
EOF
    chmod +x "$TOOLS/bin/cc-$arch-macos" "$TOOLS/bin/ar-macos"
  done
}

# Runs clippy for target $1 with the environment set up for it; output to the target's log.
check() {
  t=$1
  log="$LOGS/$t.log"
  : >"$log"
  case "$t" in
    *-windows-gnu)
      need_mingw || { echo "no MinGW-w64 (apt-get install mingw-w64)" >>"$log"; return 1; }
      # napi's build script for the GNU target wants Node's import library, libnode.dll, to link
      # against; a check does not link, so an empty file stands in for it.
      mkdir -p "$TOOLS/libnode" && : >"$TOOLS/libnode/libnode.dll"
      export LIBNODE_PATH="$TOOLS/libnode" ;;
    *-apple-darwin)
      need_zig || { echo "no zig (pip install ziglang)" >>"$log"; return 1; }
      arch=${t%%-*}
      var=$(echo "$t" | tr '-' '_')
      export "CC_$var=$TOOLS/bin/cc-$arch-macos" "AR_$var=$TOOLS/bin/ar-macos"
      # aws-lc-sys: its C through cc-rs (no CMake), with no prebuilt bindings step.
      export AWS_LC_SYS_CMAKE_BUILDER=0 ;;
  esac
  need_std "$t" || { echo "rustup target add $t failed" >>"$log"; return 1; }
  say "$t: clippy of the engine crates and the binding"
  # shellcheck disable=SC2086
  cargo clippy --quiet --target "$t" $PACKAGES -- -D warnings >>"$log" 2>&1 || return 1
  say "$t: clippy of the libraries of vger-core and vger-storage with their unit tests"
  cargo clippy --quiet --target "$t" -p vger-core -p vger-storage --lib --profile test -- -D warnings >>"$log" 2>&1 || return 1
}

failed=0
results=""
for t in $TARGETS; do
  if (check "$t"); then
    results="$results$t OK\n"
  else
    results="$results$t FAIL (see $LOGS/$t.log)\n"
    failed=1
    tail -n 30 "$LOGS/$t.log" >&2
  fi
done
printf '%b' "$results"
exit $failed

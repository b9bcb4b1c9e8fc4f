#!/usr/bin/env bash
# The S3 backend against a production S3 server, SeaweedFS (`npm run test:seaweedfs`; not part of npm test:
# the first run builds weed with Go, a few minutes, cached in .ci/bin afterwards).
#   1. build (once) and start SeaweedFS with scripts/peers/seaweedfs.sh, and self-check it with curl
#      (SigV4, ranged GET, If-None-Match:* -> 412 also for racing creates, ListObjectsV2 pages, 403)
#   2. the Rust backend conformance suite against that server (VGER_TEST_S3_* point at it):
#      cargo test -p vger-storage --test conformance
#   3. the S3 end-to-end test with VGER_TEST_S3_PEER=seaweedfs (it starts its own SeaweedFS through
#      test/helpers/peers.ts): npx vitest run test/e2e/remote-s3.test.ts
# Prints a summary; exits 1 if any step failed. Logs stay in the temp dir printed at the end when a step failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
PEER=$(mktemp -d "${TMPDIR:-/tmp}/vger-seaweedfs-XXXXXX")
export VGER_PEERS_OWNER_PID=$$ # the peer stops if this script dies
FAILED=0
SUMMARY=()

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
cleanup() {
  sh scripts/peers/seaweedfs.sh stop "$PEER" >/dev/null 2>&1
  if [ "$FAILED" = 0 ]; then rm -rf "$PEER"; fi
}
trap cleanup EXIT

# step NAME CMD... : run CMD with its output teed to PEER/NAME.log, record the result and seconds.
step() {
  local name=$1 t0 rc
  shift
  log "== $name: $*"
  t0=$(date +%s)
  "$@" 2>&1 | tee "$PEER/$name.log"
  rc=${PIPESTATUS[0]}
  local secs=$(($(date +%s) - t0))
  if [ "$rc" = 0 ]; then
    SUMMARY+=("$(printf '%-12s passed  %5d s' "$name" "$secs")")
  else
    FAILED=1
    SUMMARY+=("$(printf '%-12s FAILED  %5d s  (exit %s; log %s)' "$name" "$secs" "$rc" "$PEER/$name.log")")
  fi
  return "$rc"
}

if [ ! -f dist/cli/main.js ] || ! ls crates/vger-napi/*.node >/dev/null 2>&1; then
  log "building vger (npm run build)"
  npm run build >/dev/null || { log "npm run build failed"; exit 1; }
fi

if step peer sh scripts/peers/seaweedfs.sh start "$PEER" && step check sh scripts/peers/seaweedfs.sh check "$PEER"; then
  # The Rust suite uses the running server (its test support takes a peer given by VGER_TEST_S3_*; the
  # values hold no spaces).
  # shellcheck disable=SC2046
  step conformance env $(cat "$PEER/s3.env") VGER_TEST_S3_PEER=seaweedfs cargo test -p vger-storage --test conformance
  step e2e env VGER_TEST_S3_PEER=seaweedfs npx vitest run test/e2e/remote-s3.test.ts
fi

echo
echo "SeaweedFS integration (weed $(sed -n 's/^WEED_VERSION=//p' scripts/peers/seaweedfs.sh)):"
printf '  %s\n' "${SUMMARY[@]}"
if [ "$FAILED" = 0 ]; then
  echo "all passed"
else
  echo "FAILED (logs in $PEER)"
  exit 1
fi

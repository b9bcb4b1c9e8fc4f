#!/bin/sh
# Server-side repack against copying through the client, on real data (docs/benchmarks.md,
# "Compaction through a vger server"). One `vger server` on 127.0.0.1 serves two repositories, `near`
# (server-side repack) and `far` (repack: false). Each gets the same history: a backup of SRC, every
# other file deleted, a second backup, the first snapshot deleted; then `vger compact --threshold 0`
# is timed and the bytes on the wire are read from the server's /metrics counters. Both repositories
# are checked with --verify-data afterwards.
#
#   sh scripts/bench-server-compact.sh [SRC]      (default: the bench corpus's linux-source-6.1/drivers)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=${1:-/tmp/vger-bench/corpus/linux-source-6.1/drivers}
CLI="node $ROOT/dist/cli/main.js"
WORK=$(mktemp -d /tmp/vger-bench-compact.XXXXXX)
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT INT TERM
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
HASH=$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)
cat > "$WORK/server.yaml" <<EOF
port: 0
state_dir: ./state
metrics_token: $HASH
repositories:
  near: {url: ./near}
  far: {url: ./far, repack: false}
tokens:
  $HASH: {near: full, far: full}
EOF
(cd "$WORK" && $CLI server --config server.yaml 2> server.log) &
SERVER=$!
i=0
until grep -q listening "$WORK/server.log" 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || { cat "$WORK/server.log"; exit 1; }; sleep 0.1
done
PORT=$(grep -o '127.0.0.1:[0-9]*' "$WORK/server.log" | head -1 | cut -d: -f2)
export VGER_PASSPHRASE=bench VGER_TOKEN=$TOKEN HOME=$WORK
wire() {
  curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/metrics" |
    awk '/^vger_server_(received|sent)_bytes_total /{s+=$2} END{print s}'
}
for repo in near far; do
  rm -rf "$WORK/src" && cp -r "$SRC" "$WORK/src"
  printf 'repositories:\n  - url: rest://127.0.0.1:%s/%s\n    access_token: ${VGER_TOKEN}\nsources:\n  - %s\n' \
    "$PORT" "$repo" "$WORK/src" > "$WORK/$repo.yaml"
  V="$CLI -c $WORK/$repo.yaml"
  $V init -q
  first=$($V backup --json -q | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).snapshots[0].snapshotId))')
  find "$WORK/src" -type f | sort | awk 'NR % 2 == 0' | xargs rm -f
  $V backup -q
  $V snapshot delete "$first" -q
  before=$(wire)
  start=$(date +%s.%N)
  out=$($V compact --threshold 0 --json -q 2>/dev/null)
  end=$(date +%s.%N)
  after=$(wire)
  kept=$(printf %s "$out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s).repositories[0];console.log(`${(r.bytesRepacked/1048576).toFixed(1)} MiB kept in ${r.packsWritten} packs (${r.packsAssembled} built by the server), ${r.packsDeleted} packs deleted`)})')
  $V check --verify-data -q > /dev/null
  echo "$repo: compact $(echo "$end - $start" | bc) s; $kept; on the wire $(echo "scale=2; ($after - $before) / 1048576" | bc) MiB"
done

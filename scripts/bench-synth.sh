#!/bin/sh
# Memory and open time as the repository grows (docs/benchmarks.md, "Memory as the repository
# grows"; issue 18 item 5). For each size, `vger-synth` writes a repository whose index lists that
# many blobs (placeholder packs, real sealed segments of one million blobs each, no data) and a
# source of 1,000 sparse files of 1,000 chunks each whose file cache names the first million
# blobs. Each step below is its own process, so its peak resident memory (VmHWM) is that step's:
#   build      the first open with a cache directory: the index table is built (once)
#   open       an open that maps the table
#   rebackup   an unchanged re-backup of the source (after one backup that stored its trees)
#   new        a backup of 1 GiB of new random data
#   lookup     1,000,000 lookups, half of them present
# and, with the index built in memory from the segments at each open (no cache directory): open,
# rebackup, new and lookup again, up to IN_MEMORY_MAX blobs (default 10,000,000).
# Writes results/synth.csv and results/synth.svg under WORKDIR and prints a Markdown table.
#
#   sh scripts/bench-synth.sh [WORKDIR] [SIZES...]     (default /tmp/vger-bench-synth, 1000000 10000000 100000000)
# Disk: ~100 bytes per blob (5.0 GB repository + 5.1 GB table at 100 million).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${1:-/tmp/vger-bench-synth}
[ $# -gt 0 ] && shift
SIZES=${*:-1000000 10000000 100000000}
IN_MEMORY_MAX=${IN_MEMORY_MAX:-10000000}
cargo build --quiet --release -p vger-testkit --bin vger-synth --manifest-path "$ROOT/Cargo.toml"
BIN=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')/release/vger-synth
mkdir -p "$W/results"
CSV=$W/results/synth.csv
echo "blobs,step,index,seconds,vm_hwm_kib,lookups_per_sec" > "$CSV"
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
step() { # blobs step index command...
  n=$1; name=$2; mode=$3; shift 3
  out=$("$BIN" "$@")
  echo "$n,$name,$mode,$(echo "$out" | field seconds),$(echo "$out" | field vm_hwm_kib),$(echo "$out" | field lookups_per_sec)" >> "$CSV"
  echo "  $name ($mode): $out" >&2
}
for n in $SIZES; do
  d=$W/$n
  rm -rf "$d"
  echo "== $n blobs" >&2
  "$BIN" gen "$d" "$n" 1000 1000 >/dev/null
  rm -rf "$d/cache/index" # measured below as its own step
  step "$n" build table open "$d"
  step "$n" open table open "$d"
  "$BIN" backup "$d" >/dev/null
  step "$n" rebackup table backup "$d"
  step "$n" new table new-data "$d" 1024
  step "$n" lookup table lookup "$d" 1000000
  if [ "$n" -le "$IN_MEMORY_MAX" ]; then
    step "$n" open memory open "$d" --in-memory
    step "$n" rebackup memory backup "$d" --in-memory
    step "$n" new memory new-data "$d" 1024 --in-memory
    step "$n" lookup memory lookup "$d" 1000000 --in-memory
  fi
  du -sh "$d/repo" "$d/cache" >&2
  rm -rf "$d"
done
node "$ROOT/test/bench/synth-report.mjs" "$CSV" "$W/results/synth.svg"

#!/bin/sh
# Rate limits on real bytes (docs/benchmarks.md, "Rate limits"): a backup of MIB MiB of random data
# (a dump command's output) with `limits.upload_mib_per_sec: RATE`, a restore of it with
# `download_mib_per_sec: RATE`, and a backup of a file of the same size with `read_mib_per_sec: RATE`,
# each beside the same step without a limit. Prints the achieved rate of each step (bytes moved over
# wall time) and its ratio to the limit.
#
#   sh scripts/bench-limits.sh [RATE] [MIB]      (default 20 MiB/s over 600 MiB)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RATE=${1:-20}
MIB=${2:-600}
CLI="node $ROOT/dist/cli/main.js"
WORK=$(mktemp -d /tmp/vger-bench-limits.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM
export VGER_PASSPHRASE=bench HOME=$WORK
head -c "$((MIB * 1048576))" /dev/urandom > "$WORK/data.bin"
now() { date +%s.%N; }
config() { # $1 = repo dir, $2 = limits mapping
  printf 'repositories:\n  - url: %s\n    compression: {algorithm: none}\nlimits: %s\n' "$WORK/$1" "$2" > "$WORK/$1.yaml"
}
stored() { du -sb "$WORK/$1/packs" | cut -f1; }
report() { # step, bytes, seconds, limit or ""
  awk -v s="$1" -v b="$2" -v t="$3" -v l="$4" 'BEGIN {
    r = b / 1048576 / t
    if (l == "") printf "%-28s %8.1f MiB in %6.2f s = %7.1f MiB/s (no limit)\n", s, b / 1048576, t, r
    else printf "%-28s %8.1f MiB in %6.2f s = %7.1f MiB/s (limit %d: %.3f)\n", s, b / 1048576, t, r, l, r / l
  }'
}
for limited in no yes; do
  if [ $limited = yes ]; then L=$RATE; else L=""; fi
  lim() { if [ $limited = yes ]; then echo "{$1: $RATE}"; else echo "{}"; fi; }
  # Upload: the dump's output is stored (the source is read from the page cache, so the link is the limit).
  config "up-$limited" "$(lim upload_mib_per_sec)"
  $CLI -c "$WORK/up-$limited.yaml" init -q >/dev/null
  t0=$(now)
  $CLI -c "$WORK/up-$limited.yaml" backup -q --stdin-from-command -- cat "$WORK/data.bin" >/dev/null
  t1=$(now)
  report "upload ($limited limit)" "$(stored up-$limited)" "$(echo "$t1 - $t0" | bc)" "$L"
  # Download: restore from the unlimited repository through a download limit.
  config "up-no" "$(lim download_mib_per_sec)"
  rm -rf "$WORK/out"
  t0=$(now)
  $CLI -c "$WORK/up-no.yaml" restore -q latest "$WORK/out" >/dev/null
  t1=$(now)
  report "download ($limited limit)" "$(stored up-no)" "$(echo "$t1 - $t0" | bc)" "$L"
  # Source reads.
  config "rd-$limited" "$(lim read_mib_per_sec)"
  $CLI -c "$WORK/rd-$limited.yaml" init -q >/dev/null
  t0=$(now)
  $CLI -c "$WORK/rd-$limited.yaml" backup -q "$WORK/data.bin" >/dev/null
  t1=$(now)
  report "source read ($limited limit)" "$((MIB * 1048576))" "$(echo "$t1 - $t0" | bc)" "$L"
done

#!/usr/bin/env bash
# bench.sh - vger beside restic and Borg on the same corpus, in the same run (`npm run bench`).
#
# Usage: test/bench/bench.sh [-n REPS] [-t "vger restic borg"] [-w WORKDIR] [-B] [-S] [-D] [CORPUS]
#   -n REPS     repetitions of the whole sequence per tool (default 3, or $VGER_BENCH_REPS);
#               medians are reported
#   -t TOOLS    which tools (default "vger restic borg"; "-t vger" for quick iteration)
#   -w WORKDIR  scratch root (default /tmp/vger-bench): repos/, work/, restore/, cache/ and
#               results/<timestamp>/ are made under it
#   -B          do not build vger first (default: npm run build)
#   -S          skip the stage micro-benchmark (npm run bench:stages)
#   -D          do not write the results into docs/benchmarks.md
#   CORPUS      made by /work/shared/bench/make-corpus.sh (default $VGER_BENCH_CORPUS, else
#               WORKDIR/corpus, made when missing); it is copied, never changed
#
# For each repetition, tools interleaved (vger restic borg vger restic borg ...):
#   copy CORPUS to WORKDIR/work/corpus (cp -a, sync); fresh repository and cache;
#   a  first backup, warm page cache                 (timed)   then repository size
#   b  unchanged re-backup                           (timed)
#   c  mutate-corpus.sh (~1% changed), backup again  (timed)   then repository size
#   d  full restore into an empty directory, page cache dropped first (timed), checked with diff -r
# Each timed step runs under /usr/bin/time (wall, user, sys, peak RSS). The peers are driven
# as in /work/shared/bench/run-peers.sh: restic with its defaults (zstd "auto"), Borg repokey
# with lz4. vger runs through its CLI with VGER_PASSPHRASE, a config file, the default KDF and
# zstd level 3 ($VGER_BENCH_COMPRESSION: lz4, zstd or none). test/bench/report.mjs turns the
# CSV into a table with vger/peer ratios and the target checks, and replaces the part of
# docs/benchmarks.md between its markers.
set -uo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${VGER_BENCH_SHARED:-/work/shared/bench}
REPS=${VGER_BENCH_REPS:-3}; TOOLS="vger restic borg"; W=/tmp/vger-bench
BUILD=1; STAGES=1; DOCS=1
while getopts "n:t:w:BSDh" o; do
  case $o in
    n) REPS=$OPTARG ;; t) TOOLS=$OPTARG ;; w) W=$OPTARG ;;
    B) BUILD=0 ;; S) STAGES=0 ;; D) DOCS=0 ;;
    *) sed -n '2,30p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND-1))
CORPUS=${1:-${VGER_BENCH_CORPUS:-$W/corpus}}
COMPRESSION=${VGER_BENCH_COMPRESSION:-zstd}

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

apt_install() {  # PACKAGE... : install with apt when running as root
  [ "$(id -u)" = 0 ] || die "missing $*; install it (apt-get install $*) or run as root"
  log "installing $* with apt"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null || die "apt-get install $* failed"
}

[ -x /usr/bin/time ] || apt_install time
for tool in $TOOLS; do
  case $tool in
    vger) ;;
    restic) command -v restic >/dev/null || apt_install restic ;;
    borg) command -v borg >/dev/null || apt_install borgbackup ;;
    *) die "unknown tool $tool (vger, restic, borg)" ;;
  esac
done

if [ "$BUILD" = 1 ]; then
  log "building vger (npm run build)"
  (cd "$ROOT" && npm run build >/dev/null) || die "npm run build failed"
fi
VGER="$ROOT/dist/cli/main.js"
[ -f "$VGER" ] || die "$VGER missing: run npm run build"

if [ ! -d "$CORPUS" ]; then
  log "making the corpus in $CORPUS"
  "$SHARED/make-corpus.sh" "$CORPUS" >&2 || die "make-corpus.sh failed"
fi
CORPUS=$(cd "$CORPUS" && pwd)

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES="$W/results/$STAMP"
mkdir -p "$RES" "$W/repos" "$W/work" "$W/restore" "$W/cache"
CSV="$RES/runs.csv"
echo "tool,rep,step,rc,wall_s,user_s,sys_s,maxrss_kb,bytes" >"$CSV"

export RESTIC_PASSWORD=vger-bench-passphrase BORG_PASSPHRASE=vger-bench-passphrase
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes

tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.0f", s}'; }

{
  echo "date_utc: $STAMP"
  echo "kernel: $(uname -r)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "nproc: $(nproc)"
  echo "mem: $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "fs: $(df -T "$W" | awk 'NR==2{print $2}')"
  echo "vger: $(node "$VGER" --version) ($COMPRESSION, $(node -v))"
  command -v restic >/dev/null && echo "restic: $(restic version | awk '{print $2}')"
  command -v borg >/dev/null && echo "borg: $(borg --version | awk '{print $2}')"
  echo "corpus: $CORPUS, $(find "$CORPUS" -type f | wc -l) files, $(tree_bytes "$CORPUS") bytes"
  echo "reps: $REPS"
  echo "load_before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$RES/env.txt" >&2

DROP_OK=1
drop_caches() {
  sync
  if [ "$DROP_OK" = 1 ] && ! echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
    log "WARNING: cannot drop the page cache; restores run warm"; DROP_OK=0
    echo "restore_cache: warm (could not drop)" >>"$RES/env.txt"
  fi
}

# timed TOOL REP STEP BYTES CMD... : run CMD under /usr/bin/time, append a CSV row
timed() {
  local tool=$1 rep=$2 step=$3 bytes=$4; shift 4
  local base="$RES/$tool-r$rep-$step"
  sync
  [ "$step" = d ] && drop_caches
  /usr/bin/time -f '%e %U %S %M' -o "$base.time" "$@" >"$base.log" 2>&1
  local rc=$?
  read -r wall user sys rss < <(tail -n 1 "$base.time")
  echo "$tool,$rep,$step,$rc,$wall,$user,$sys,$rss,$bytes" >>"$CSV"
  [ "$rc" = 0 ] || log "FAILED: $tool rep $rep step $step (rc=$rc), see $base.log"
}

size_row() {  # TOOL REP STEP REPO : allocated bytes of the repository
  echo "$1,$2,$3,0,0,0,0,0,$(du -sB1 "$4" | cut -f1)" >>"$CSV"
}

prepare_copy() {
  rm -rf "$W/work/corpus"
  cp -a "$CORPUS" "$W/work/corpus"
  sync
}

verify() {  # TOOL REP RESTORE_DIR : the restored tree is the first directory named corpus
  local got
  got=$(find "$3" -type d -name corpus -prune -print | head -n 1)
  if [ -n "$got" ] && diff -r --no-dereference "$W/work/corpus" "$got" >"$RES/$1-r$2-verify.log" 2>&1; then
    echo "$1,$2,restore-check,0,0,0,0,0,0" >>"$CSV"
  else
    echo "$1,$2,restore-check,1,0,0,0,0,0" >>"$CSV"
    log "RESTORE MISMATCH: $1 rep $2, see $RES/$1-r$2-verify.log"
  fi
}

# sequence TOOL REP REPO OUT RESTORE_CMD... : the four timed steps of one repetition. The backup
# command is BACKUP (an array) followed by "::STEP" when ARCHIVE=1 (Borg), then the path "corpus".
sequence() {
  local tool=$1 rep=$2 repo=$3 out=$4; shift 4
  cd "$W/work" || return
  local bytes; bytes=$(tree_bytes corpus)
  log "$tool rep $rep: a first backup"
  timed "$tool" "$rep" a "$bytes" "${BACKUP[@]}" ${ARCHIVE:+"::a"} corpus
  size_row "$tool" "$rep" size-after-a "$repo"
  log "$tool rep $rep: b unchanged backup"
  timed "$tool" "$rep" b "$bytes" "${BACKUP[@]}" ${ARCHIVE:+"::b"} corpus
  "$SHARED/mutate-corpus.sh" corpus "$rep" >"$RES/$tool-r$rep-mutate.log" 2>&1
  bytes=$(tree_bytes corpus)
  log "$tool rep $rep: c backup after ~1% change"
  timed "$tool" "$rep" c "$bytes" "${BACKUP[@]}" ${ARCHIVE:+"::c"} corpus
  size_row "$tool" "$rep" size-after-c "$repo"
  log "$tool rep $rep: d full restore"
  cd "$out" || return
  timed "$tool" "$rep" d "$bytes" "$@"
  cd "$W/work" || return
}


run_vger() {
  local rep=$1 repo="$W/repos/vger" out="$W/restore/vger"
  export VGER_PASSPHRASE=vger-bench-passphrase XDG_CACHE_HOME="$W/cache/vger"
  rm -rf "$repo" "$XDG_CACHE_HOME" "$out"; mkdir -p "$out"
  printf 'repositories:\n  - url: %s\n    label: bench\ncompression:\n  algorithm: %s\n' \
    "$repo" "$COMPRESSION" >"$W/vger.yaml"
  prepare_copy
  node "$VGER" -c "$W/vger.yaml" init >"$RES/vger-r$rep-init.log" 2>&1 || { log "vger init failed"; return; }
  BACKUP=(node "$VGER" -c "$W/vger.yaml" backup --label corpus); ARCHIVE=
  sequence vger "$rep" "$repo" "$out" node "$VGER" -c "$W/vger.yaml" restore latest "$out/corpus"
  verify vger "$rep" "$out"
  unset VGER_PASSPHRASE XDG_CACHE_HOME
}

run_restic() {
  local rep=$1 repo="$W/repos/restic" out="$W/restore/restic"
  export RESTIC_REPOSITORY="$repo" RESTIC_CACHE_DIR="$W/cache/restic"
  rm -rf "$repo" "$RESTIC_CACHE_DIR" "$out"; mkdir -p "$out"
  prepare_copy
  restic init >"$RES/restic-r$rep-init.log" 2>&1 || { log "restic init failed"; return; }
  BACKUP=(restic backup --host vger-bench); ARCHIVE=
  sequence restic "$rep" "$repo" "$out" restic restore latest --target "$out"
  verify restic "$rep" "$out"
}

run_borg() {
  local rep=$1 repo="$W/repos/borg" out="$W/restore/borg"
  export BORG_REPO="$repo" BORG_BASE_DIR="$W/cache/borg"
  rm -rf "$repo" "$BORG_BASE_DIR" "$out"; mkdir -p "$out" "$BORG_BASE_DIR"
  prepare_copy
  borg init -e repokey >"$RES/borg-r$rep-init.log" 2>&1 || { log "borg init failed"; return; }
  BACKUP=(borg create --compression lz4); ARCHIVE=1
  sequence borg "$rep" "$repo" "$out" borg extract ::c
  verify borg "$rep" "$out"
}

for rep in $(seq 1 "$REPS"); do
  for tool in $TOOLS; do "run_$tool" "$rep"; done
done
rm -rf "$W/work/corpus" "$W/restore"/*

# `vger --version`: median of 5 runs, in ms
for _ in 1 2 3 4 5; do
  /usr/bin/time -f '%e' -o "$RES/version.time" node "$VGER" --version >/dev/null 2>&1
  echo "vger,0,version,0,$(cat "$RES/version.time"),0,0,0,0" >>"$CSV"
done

if [ "$STAGES" = 1 ]; then
  log "stage micro-benchmark (npm run bench:stages)"
  (cd "$ROOT" && npm run --silent bench:stages -- "$CORPUS" >"$RES/stages.md") || log "stage benchmark failed"
fi
echo "load_after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RES/env.txt"

args=("$RES")
[ "$DOCS" = 1 ] && args+=(--docs "$ROOT/docs/benchmarks.md")
node "$HERE/report.mjs" "${args[@]}"
echo "per-run figures: $CSV" >&2

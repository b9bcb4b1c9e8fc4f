#!/usr/bin/env bash
# bench.sh - vger beside vykar, restic and Borg on the same corpus, in the same run (`npm run bench`).
#
# Usage: test/bench/bench.sh [-n REPS] [-t "vger vykar restic borg"] [-r s3|seaweedfs|sftp] [-w WORKDIR]
#                            [-B] [-S] [-D] [-C] [-F] [CORPUS]
#   -n REPS     repetitions of the whole sequence per tool (default 3, or $VGER_BENCH_REPS);
#               medians are reported, and the ratios and target checks per repetition
#   -t TOOLS    which tools (default "vger vykar restic borg", without vykar when its binary is
#               missing: the run says so; "-t vger" for quick iteration)
#   -r REMOTE   put the repositories on a test peer instead of a local directory: "s3" (moto on
#               loopback, scripts/peers/s3.sh), "seaweedfs" (SeaweedFS on loopback, S3 API,
#               scripts/peers/seaweedfs.sh; builds weed once) or "sftp" (OpenSSH sshd on loopback,
#               scripts/peers/sshd.sh); vger and restic only (Borg has no S3 backend and over SSH
#               needs borg on the server; vykar's remote backends are not wired up here: both are
#               skipped), no cold steps. Each tool and repetition gets a fresh prefix (directory);
#               requests are counted from the peer's log (moto's access log; SeaweedFS's S3 request
#               log; sftp-server at DEBUG1); results go to the "Remote repositories" section of
#               docs/benchmarks.md
#   -w WORKDIR  scratch root (default /tmp/vger-bench): repos/, work/, restore/, cache/ and
#               results/<timestamp>/ are made under it
#   -B          do not build vger first (default: npm run build; also off with $VGER_BENCH_CLI)
#   -S          skip the stage micro-benchmark (npm run bench:stages)
#   -D          do not write the results into docs/benchmarks.md
#   -C          skip the cold first backups (steps e and f below; they run by default)
#   -F          restore into the working filesystem instead of a fresh one (step d below)
#   CORPUS      made by /work/shared/bench/make-corpus.sh (default $VGER_BENCH_CORPUS, else
#               WORKDIR/corpus, made when missing); it is copied, never changed
# Environment:
#   VGER_BENCH_VYKAR   the vykar binary (default the newest $VGER_BENCH_SHARED/bin/vykar-*-linux-x64,
#                      /work/shared/bench/bin/vykar-0.19.1-linux-x64 here); it is only run
#   VGER_BENCH_CLI     vger's CLI entry (default ROOT/dist/cli/main.js); another checkout's built
#                      dist/cli/main.js runs with that checkout's native addon, and nothing is built
#   VGER_BENCH_SETTLE  before the first repetition, wait up to this many seconds (default 120; 0: do
#                      not wait) for the 1-minute load average to fall below 0.3
#
# For each repetition, tools interleaved (vger vykar restic borg vger vykar restic borg ...):
#   copy CORPUS to WORKDIR/work/corpus (cp -a, sync); fresh repository and cache;
#   a  first backup, warm page cache                 (timed)   then repository size
#   b  unchanged re-backup                           (timed)
#   c  mutate-corpus.sh (~1% changed), backup again  (timed)   then repository size
#   d  full restore into an empty directory, page cache dropped first (timed), checked with diff -r;
#      the directory is a freshly made ext4 filesystem (loop device over a sparse image under
#      WORKDIR, with the journal setting of the filesystem WORKDIR is on) when run as root with
#      mkfs.ext4 and losetup, unless -F: on ext4 without a journal the kernel skips, for each new
#      inode, every inode deleted in the last 60-360 s and looks each one up, so a restore made
#      shortly after the harness deleted the previous corpus copy and restore (157,000 files) pays
#      for those deletions, by an amount that depends on the timing (docs/benchmarks.md)
# then, unless -C, on the same tool's working copy (as step c left it), each into a fresh
# repository and cache with the page cache dropped just before (sync; echo 3 > drop_caches):
#   e  cold first backup of the whole corpus         (timed)
#   f  cold first backup of the kernel tree alone (corpus/linux-source-6.1)   (timed)
# The cold steps add about a first backup and a half per tool and repetition (~7 min, by estimate,
# to a 3-repetition run of the four tools on the 2.5 GB corpus, of ~30 min in all without the build).
# With -r, the repository size is the logical size of the objects (S3) or files (SFTP) under the
# prefix, and each timed step also records the number of requests the peer served during it.
# Each timed step runs under /usr/bin/time (wall, user, sys, peak RSS) and records the 1-minute
# load average before it and the CPU seconds the machine spent outside the timed command during
# it (/proc/stat; other processes and kernel threads, writeback included). Before the first
# repetition the load average and a 5-second sample of busy processes go into env.txt, and the
# load average again after the run: the report states whether the machine was quiet.
# The peers are driven as in /work/shared/bench/run-peers.sh: restic with its defaults (zstd
# "auto"), Borg repokey with lz4. vger runs through its CLI with VGER_PASSPHRASE, a config file,
# the default KDF and zstd level 3 ($VGER_BENCH_COMPRESSION: lz4, zstd or none); vykar (see
# /work/shared/bench/bin/README.md) with VYKAR_PASSPHRASE, a config file with the same compression
# (zstd level 3), its default encryption and a fresh cache ($XDG_CACHE_HOME/vykar).
# NODE_EXTRA_CA_CERTS is unset (env.txt records it): a machine that points it at the whole system
# bundle makes every Node process parse ~150 certificates before it starts (26 → 98 ms for
# `node -e 0` here), a cost of that machine's setup that only vger, of the tools, would pay; every
# repository here is local or on loopback over plain HTTP or SSH.
# test/bench/report.mjs turns the CSV into one table (medians, min-max, per-repetition ratios
# vger/vykar and vger/restic, repository size, the issue-18 target checks, PASS/FAIL) and replaces
# the part of docs/benchmarks.md between its markers (with -r, between the markers of that remote
# kind).
set -uo pipefail
export LC_ALL=C
EXTRA_CA=${NODE_EXTRA_CA_CERTS:-}
unset NODE_EXTRA_CA_CERTS

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${VGER_BENCH_SHARED:-/work/shared/bench}
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
REPS=${VGER_BENCH_REPS:-3}; TOOLS=; W=/tmp/vger-bench
BUILD=1; STAGES=1; DOCS=1; COLD=1; REMOTE=local; FRESH_FS=1
while getopts "n:t:w:r:BSDCFh" o; do
  case $o in
    n) REPS=$OPTARG ;; t) TOOLS=$OPTARG ;; w) W=$OPTARG ;; r) REMOTE=$OPTARG ;;
    B) BUILD=0 ;; S) STAGES=0 ;; D) DOCS=0 ;; C) COLD=0 ;; F) FRESH_FS=0 ;;
    *) sed -n '2,69p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND-1))
CORPUS=${1:-${VGER_BENCH_CORPUS:-$W/corpus}}
COMPRESSION=${VGER_BENCH_COMPRESSION:-zstd}
SETTLE=${VGER_BENCH_SETTLE:-120}

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

SKIPPED=
skip_tool() {  # TOOL REASON : drop TOOL from TOOLS, say so now and in the report
  local kept= t
  for t in $TOOLS; do [ "$t" = "$1" ] || kept="$kept $t"; done
  TOOLS=${kept# }
  SKIPPED="${SKIPPED:+$SKIPPED; }$1 ($2)"
  log "skipping $1: $2"
}

# vykar is only run, from a prebuilt binary (/work/shared/bench/bin/README.md): without it the
# run goes on with the other tools.
VYKAR=${VGER_BENCH_VYKAR:-$(ls -1 "$SHARED"/bin/vykar-*-linux-x64 2>/dev/null | sort -V | tail -n 1)}
[ -n "$TOOLS" ] || TOOLS="vger vykar restic borg"
case " $TOOLS " in
  *" vykar "*) [ -n "$VYKAR" ] && [ -x "$VYKAR" ] ||
    skip_tool vykar "no binary at ${VYKAR:-$SHARED/bin/vykar-*-linux-x64}; set VGER_BENCH_VYKAR" ;;
esac

case $REMOTE in
  local) ;;
  s3 | seaweedfs | sftp)
    case " $TOOLS " in *" borg "*) skip_tool borg "no S3 backend; over SSH it needs borg on the server" ;; esac
    case " $TOOLS " in *" vykar "*) skip_tool vykar "its remote backends are not wired up in bench.sh" ;; esac
    [ -n "$TOOLS" ] || die "no tool left to run with -r $REMOTE"
    COLD=0
    ;;
  *) die "unknown remote kind $REMOTE (s3, seaweedfs or sftp)" ;;
esac

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
    vykar) ;;
    *) die "unknown tool $tool (vger, vykar, restic, borg)" ;;
  esac
done

if [ -n "${VGER_BENCH_CLI:-}" ]; then
  VGER=$VGER_BENCH_CLI
  [ "$BUILD" = 1 ] && log "running vger from VGER_BENCH_CLI=$VGER: not building"
  BUILD=0
else
  VGER="$ROOT/dist/cli/main.js"
fi
if [ "$BUILD" = 1 ]; then
  log "building vger (npm run build)"
  (cd "$ROOT" && npm run build >/dev/null) || die "npm run build failed"
fi
[ -f "$VGER" ] || die "$VGER missing: run npm run build"
VGER=$(cd "$(dirname "$VGER")" && pwd)/$(basename "$VGER")
VGER_ROOT=$(cd "$(dirname "$VGER")/../.." && pwd)  # the checkout whose CLI and addon run

if [ ! -d "$CORPUS" ]; then
  log "making the corpus in $CORPUS"
  "$SHARED/make-corpus.sh" "$CORPUS" >&2 || die "make-corpus.sh failed"
fi
CORPUS=$(cd "$CORPUS" && pwd)

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES="$W/results/$STAMP"
[ "$REMOTE" = local ] || RES="$RES-$REMOTE"
mkdir -p "$RES" "$W/repos" "$W/work" "$W/restore" "$W/cache"
CSV="$RES/runs.csv"
echo "tool,rep,step,rc,wall_s,user_s,sys_s,maxrss_kb,bytes,requests,load1,other_cpu_s" >"$CSV"
REQCSV="$RES/requests.csv"  # tool,rep,step,kind,count (remote runs only)

# --- the remote peer (-r s3 | seaweedfs | sftp), in RES/peer: started here, stopped on exit ---
PEER="$RES/peer"; PEER_LOG=; REQ0=
VENV_PY="$ROOT/.ci/venv/bin/python"  # made by scripts/peers/s3.sh (moto, with boto3)
stop_peer() {
  case $REMOTE in
    s3) "$ROOT/scripts/peers/s3.sh" stop "$PEER" ;;
    seaweedfs) "$ROOT/scripts/peers/seaweedfs.sh" stop "$PEER" ;;  # also removes its data
    sftp) "$ROOT/scripts/peers/sshd.sh" stop "$PEER"; rm -rf "$PEER/sftp-root" ;;
  esac
  [ -n "$PEER_LOG" ] && [ -f "$PEER_LOG" ] && gzip -f "$PEER_LOG"
}
if [ "$REMOTE" != local ]; then
  mkdir -p "$PEER"
  export VGER_PEERS_OWNER_PID=$$  # the peer's watcher stops it if this script dies
  trap stop_peer EXIT
  case $REMOTE in
    s3)
      "$ROOT/scripts/peers/s3.sh" start "$PEER" || die "could not start the S3 peer"
      set -a; . "$PEER/s3.env"; set +a
      PEER_LOG="$PEER/moto.log"
      PEER_DESC="moto $("$VENV_PY" -c 'import importlib.metadata as m; print(m.version("moto"))') at $VGER_TEST_S3_ENDPOINT"
      ;;
    seaweedfs)
      "$ROOT/scripts/peers/seaweedfs.sh" start "$PEER" || die "could not start the SeaweedFS peer"
      set -a; . "$PEER/s3.env"; set +a
      PEER_LOG="$PEER/weed.log"  # one line per S3 request (weed -vmodule=stats=2)
      weed="$ROOT/.ci/bin/weed-$(sed -n 's/^WEED_VERSION=//p' "$ROOT/scripts/peers/seaweedfs.sh")"
      PEER_DESC="SeaweedFS $("$weed" version 2>/dev/null | awk '/version/ {print $3; exit}') (${weed##*/weed-}) at $VGER_TEST_S3_ENDPOINT"
      # Sizes and deletes go through boto3 from moto's venv: make it once if missing.
      if ! "$VENV_PY" -c 'import boto3' 2>/dev/null; then
        "$ROOT/scripts/peers/s3.sh" start "$RES/venv-probe" && "$ROOT/scripts/peers/s3.sh" stop "$RES/venv-probe"
        rm -rf "$RES/venv-probe"
        "$VENV_PY" -c 'import boto3' || die "no boto3 in $ROOT/.ci/venv (scripts/peers/s3.sh makes it)"
      fi
      ;;
    sftp)
      "$ROOT/scripts/peers/sshd.sh" start "$PEER" || die "could not start the SFTP peer"
      set -a; . "$PEER/sftp.env"; set +a
      # Count requests: swap internal-sftp for sftp-server logging every request (DEBUG1) to a
      # file of ours, then SIGHUP sshd (it re-executes itself and rereads its config).
      PEER_LOG="$PEER/sftp-requests.log"; : >"$PEER_LOG"
      sed -i "s|^Subsystem sftp .*|Subsystem sftp /usr/lib/openssh/sftp-server -e -l DEBUG1 2>>$PEER_LOG|" "$PEER/sshd_config"
      /usr/sbin/sshd -t -f "$PEER/sshd_config" || die "sshd rejected the logging sftp-server subsystem"
      kill -HUP "$VGER_TEST_SFTP_PID"
      for _ in $(seq 50); do
        ssh -F /dev/null -i "$VGER_TEST_SFTP_KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=5 \
          -o UserKnownHostsFile="$VGER_TEST_SFTP_KNOWN_HOSTS" -o StrictHostKeyChecking=yes \
          -p "$VGER_TEST_SFTP_PORT" "$VGER_TEST_SFTP_USER@$VGER_TEST_SFTP_HOST" true 2>/dev/null && break
        sleep 0.2
      done
      PEER_DESC="$(ssh -V 2>&1 | cut -d, -f1) sshd + sftp-server at $VGER_TEST_SFTP_HOST:$VGER_TEST_SFTP_PORT"
      ;;
  esac
fi

s3py() {  # size|delete PREFIX : logical bytes under PREFIX of the test bucket, or delete them
  "$VENV_PY" - "$@" <<'PY'
import os, sys
import boto3
op, prefix = sys.argv[1], sys.argv[2].rstrip("/") + "/"
e = os.environ
s3 = boto3.client("s3", endpoint_url=e["VGER_TEST_S3_ENDPOINT"], region_name=e["VGER_TEST_S3_REGION"],
                  aws_access_key_id=e["VGER_TEST_S3_KEY"], aws_secret_access_key=e["VGER_TEST_S3_SECRET"])
keys, total = [], 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=e["VGER_TEST_S3_BUCKET"], Prefix=prefix):
    for o in page.get("Contents", []):
        keys.append(o["Key"]); total += o["Size"]
if op == "size":
    print(total)
else:
    for i in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=e["VGER_TEST_S3_BUCKET"],
                          Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})
PY
}

req_mark() { REQ0=; [ -n "$PEER_LOG" ] && REQ0=$(wc -l <"$PEER_LOG"); }

# req_count TOOL REP STEP : requests logged by the peer since req_mark, by kind into REQCSV;
# prints the total. S3 kinds: METHOD (LIST for a bucket listing), with -range for a 206 answer and
# -STATUS for one not 2xx (SeaweedFS's request log has no query: any GET of the bucket is a LIST).
# SFTP kinds: the request type (open, close, read, write, fstat, ...), session = a new SFTP session;
# each request logs one line (a debug1 "request N: TYPE" or an INFO "TYPE ..."), except that
# (f)setstat adds INFO "set ..." lines, skipped.
req_count() {
  [ -n "$REQ0" ] || return 0
  sleep 1  # the peer logs a request after answering it: let the last lines land
  # (moto's Werkzeug colours the lines of non-2xx answers: strip the escapes)
  tail -n +"$((REQ0 + 1))" "$PEER_LOG" | sed 's/\x1b\[[0-9;]*m//g; s/\r$//' | if [ "$REMOTE" = s3 ]; then
    awk -F'"' '/^127\.0\.0\.1 - - \[/ {
      split($2, r, " "); split($3, s, " "); k = r[1]
      if (k == "GET" && (r[2] ~ /[?&]list-type=/ || r[2] !~ /^\/[^\/?]+\/[^?]/)) k = "LIST"
      if (s[1] == "206") k = k "-range"; else if (s[1] !~ /^2/) k = k "-" s[1]
      print k }'
  elif [ "$REMOTE" = seaweedfs ]; then
    # I1203 07:30:16.123456 stats.go:42 "IDENTITY" METHOD "PATH" STATUS DURATION
    awk '$3 ~ /^stats\.go:/ && $5 ~ /^[A-Z]+$/ {
      k = $5; p = $6; gsub(/"/, "", p)
      if (k == "GET" && p ~ /^\/[^\/]+\/?$/) k = "LIST"
      if ($7 == "206") k = k "-range"; else if ($7 !~ /^2/) k = k "-" $7
      print k }'
  else
    awk '/^debug1: request [0-9]+: sent / {next}
      /^debug1: request [0-9]+: / {print $4; next}
      /^session opened/ {print "session"; next}
      /^(debug1:|sent |set |session closed|received client)/ {next}
      /^[a-z]+ / {print $1}'
  fi | sort | uniq -c | awk -v p="$1,$2,$3" '{print p "," $2 "," $1; n += $1} END {print n + 0 > "/dev/stderr"}' \
    2>&1 >>"$REQCSV"
}

export RESTIC_PASSWORD=vger-bench-passphrase BORG_PASSPHRASE=vger-bench-passphrase
export VYKAR_PASSPHRASE=vger-bench-passphrase
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes

tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%.0f", s}'; }

# --- is the machine quiet? ---
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }  # jiffies, all cores
load1() { cut -d' ' -f1 /proc/loadavg; }
# Let the load of the build (or of whatever ran just before) fade before the first repetition.
if [ "$SETTLE" -gt 0 ] && awk -v l="$(load1)" 'BEGIN {exit !(l >= 0.3)}'; then
  log "waiting up to ${SETTLE}s for the 1-minute load average ($(load1)) to fall below 0.3"
  for _ in $(seq "$SETTLE"); do awk -v l="$(load1)" 'BEGIN {exit !(l < 0.3)}' && break; sleep 1; done
fi
# 5 seconds of the machine before the first repetition: busy cores in all, and each process above
# 10 % of a core (top's second frame), so a reader can tell a quiet machine from a busy one.
QUIET_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
b0=$(cpu_busy); t0=$(date +%s.%N)
BUSY_PROCS=$(top -b -n 2 -d 5 -w 512 -o %CPU 2>/dev/null | awk '
  /^ *PID / {n++; next}
  n == 2 && $9 + 0 >= 10 {printf "%s%s pid %s %s%%", sep, $12, $1, $9; sep = ", "}')
b1=$(cpu_busy); t1=$(date +%s.%N)
QUIET_CPU=$(awk -v b="$((b1 - b0))" -v hz="$HZ" -v t="$t0" -v u="$t1" 'BEGIN {printf "%.2f", b / hz / (u - t)}')

{
  echo "date_utc: $STAMP"
  echo "kernel: $(uname -r)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "nproc: $(nproc)"
  echo "mem: $(free -g | awk '/Mem:/{print $2}') GiB"
  echo "fs: $(df -T "$W" | awk 'NR==2{print $2}')"
  echo "vger: $(node "$VGER" --version) ($COMPRESSION, $(node -v))"
  # Which native addon ran (the working tree may be rebuilt between runs): sha256 prefix, mtime.
  [ "$VGER_ROOT" != "$ROOT" ] && echo "vger_cli: $VGER"
  for so in "$VGER_ROOT"/crates/vger-napi/*.node; do
    [ -f "$so" ] && echo "vger_addon: $(basename "$so") sha256 $(sha256sum "$so" | cut -c1-12), built $(date -u -r "$so" +%Y-%m-%dT%H:%M:%SZ)"
  done
  case " $TOOLS " in *" vykar "*) echo "vykar: $("$VYKAR" --version | awk '{print $2}') ($VYKAR)" ;; esac
  command -v restic >/dev/null && echo "restic: $(restic version | awk '{print $2}')"
  command -v borg >/dev/null && echo "borg: $(borg --version | awk '{print $2}')"
  echo "corpus: $CORPUS, $(find "$CORPUS" -type f | wc -l) files, $(tree_bytes "$CORPUS") bytes"
  echo "tools: $TOOLS"
  echo "reps: $REPS"
  echo "remote: $REMOTE"
  echo "cold: $([ "$COLD" = 1 ] && echo on || echo off)"
  [ -n "$EXTRA_CA" ] && echo "node_extra_ca_certs: unset (was $EXTRA_CA)"
  [ "$REMOTE" != local ] && echo "peer: $PEER_DESC"
  [ -n "$SKIPPED" ] && echo "skipped: $SKIPPED"
  echo "load_start: $LOAD_START"
  echo "load_before: $QUIET_LOAD"
  echo "cpu_before: $QUIET_CPU"
  echo "busy_before: $BUSY_PROCS"
} | tee "$RES/env.txt" >&2

# The restore's filesystem (step d): a fresh ext4 per restore, or the working one (-F, or when this
# cannot be done here).
FS_IMG="$W/restore-fs.img"; FS_DEV=; FS_DIR=; MKFS_OPTS=
if [ "$FRESH_FS" = 1 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v mkfs.ext4 >/dev/null || ! command -v losetup >/dev/null; then
    FRESH_FS=0; log "restores go to the working filesystem (a fresh one needs root, mkfs.ext4 and losetup)"
  else
    # No journal if WORKDIR's ext4 has none (the inode allocator then behaves as it does there).
    fs_dev=$(basename "$(findmnt -no SOURCE -T "$W" 2>/dev/null)")
    [ "$(cat "/sys/fs/ext4/$fs_dev/journal_task" 2>/dev/null)" = "<none>" ] && MKFS_OPTS="-O ^has_journal"
  fi
fi
if [ "$FRESH_FS" = 1 ]; then
  echo "restore_fs: a fresh ext4 per restore (loop device${MKFS_OPTS:+, no journal})" >>"$RES/env.txt"
else
  echo "restore_fs: the working filesystem" >>"$RES/env.txt"
fi
release_fs() {  # unmounts and removes the fresh filesystem, if one is mounted
  [ -n "$FS_DIR" ] && umount "$FS_DIR" 2>/dev/null
  [ -n "$FS_DEV" ] && losetup -d "$FS_DEV" 2>/dev/null
  rm -f "$FS_IMG"; FS_DEV=; FS_DIR=
}
fresh_fs() {  # DIR : an empty, freshly made ext4 mounted at DIR (nothing when -F)
  [ "$FRESH_FS" = 1 ] || return 0
  release_fs
  truncate -s 8G "$FS_IMG" &&
    mkfs.ext4 -q -F $MKFS_OPTS -E lazy_itable_init=0,lazy_journal_init=0 "$FS_IMG" &&
    FS_DEV=$(losetup -f --show --direct-io=on "$FS_IMG") &&
    mkdir -p "$1" && mount "$FS_DEV" "$1" && FS_DIR=$1 && rmdir "$1/lost+found" ||
    { log "could not make a fresh filesystem at $1; restoring into the working one"; release_fs; }
}
trap 'release_fs; [ "$REMOTE" != local ] && stop_peer' EXIT

DROP_OK=1
drop_caches() {
  sync
  if [ "$DROP_OK" = 1 ] && ! echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
    log "WARNING: cannot drop the page cache; restores and cold backups run warm"; DROP_OK=0
    echo "restore_cache: warm (could not drop)" >>"$RES/env.txt"
  fi
}

# timed TOOL REP STEP BYTES CMD... : run CMD under /usr/bin/time, append a CSV row. Steps d (restore)
# and e, f (cold first backups) start with the page cache dropped. The row also has the 1-minute
# load average before the step and the CPU seconds spent outside CMD during it (all cores' busy
# time from /proc/stat minus CMD's user + sys).
timed() {
  local tool=$1 rep=$2 step=$3 bytes=$4; shift 4
  local base="$RES/$tool-r$rep-$step"
  sync
  case $step in d | e | f) drop_caches ;; esac
  req_mark
  local l1 c0 c1; l1=$(load1); c0=$(cpu_busy)
  /usr/bin/time -f '%e %U %S %M' -o "$base.time" "$@" >"$base.log" 2>&1
  local rc=$?
  c1=$(cpu_busy)
  local n; n=$(req_count "$tool" "$rep" "$step")
  read -r wall user sys rss < <(tail -n 1 "$base.time")
  local other; other=$(awk -v b="$((c1 - c0))" -v hz="$HZ" -v u="$user" -v s="$sys" 'BEGIN {o = b / hz - u - s; printf "%.2f", o < 0 ? 0 : o}')
  echo "$tool,$rep,$step,$rc,$wall,$user,$sys,$rss,$bytes,$n,$l1,$other" >>"$CSV"
  [ "$rc" = 0 ] || log "FAILED: $tool rep $rep step $step (rc=$rc), see $base.log"
}

size_row() {  # TOOL REP STEP REPO : allocated bytes of a local repository; logical bytes of a remote one
  local b
  case $REMOTE in
    local) b=$(du -sB1 "$4" | cut -f1) ;;
    s3 | seaweedfs) b=$(s3py size "$4") ;;
    sftp) b=$(du -sb "$4" | cut -f1) ;;
  esac
  echo "$1,$2,$3,0,0,0,0,0,$b,,," >>"$CSV"
}

# remote_repo TOOL REP : set REPO_AT (where size_row looks: an S3 prefix or the SFTP directory on
# this machine), VGER_URL and RESTIC_URL for a fresh prefix of this tool and repetition.
remote_repo() {
  local name="$STAMP-$1-r$2"
  case $REMOTE in
    local) REPO_AT="$W/repos/$1"; VGER_URL=$REPO_AT; RESTIC_URL=$REPO_AT ;;
    s3 | seaweedfs)
      REPO_AT="bench/$name"
      VGER_URL="s3+http://${VGER_TEST_S3_ENDPOINT#http://}/$VGER_TEST_S3_BUCKET/$REPO_AT"
      RESTIC_URL="s3:$VGER_TEST_S3_ENDPOINT/$VGER_TEST_S3_BUCKET/$REPO_AT"
      ;;
    sftp)
      REPO_AT="$VGER_TEST_SFTP_ROOT/$name"
      VGER_URL="sftp://$VGER_TEST_SFTP_USER@$VGER_TEST_SFTP_HOST:$VGER_TEST_SFTP_PORT$REPO_AT"
      RESTIC_URL="sftp:$VGER_TEST_SFTP_USER@$VGER_TEST_SFTP_HOST:$REPO_AT"
      ;;
  esac
}

drop_remote() {  # after a repetition: free the peer (moto keeps every object in memory)
  case $REMOTE in
    s3 | seaweedfs) s3py delete "$REPO_AT" ;;
    sftp) rm -rf "$REPO_AT" ;;
  esac
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
    echo "$1,$2,restore-check,0,0,0,0,0,0,,," >>"$CSV"
  else
    echo "$1,$2,restore-check,1,0,0,0,0,0,,," >>"$CSV"
    log "RESTORE MISMATCH: $1 rep $2, see $RES/$1-r$2-verify.log"
  fi
  cd "$W" && release_fs
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
  fresh_fs "$out"
  cd "$out" || return
  timed "$tool" "$rep" d "$bytes" "$@"
  cd "$W/work" || return
}


vger_config() {  # URL : vger's config file for a repository at URL
  printf 'repositories:\n  - url: %s\n    label: bench\n' "$1"
  case $REMOTE in
    s3 | seaweedfs) printf '    allow_insecure_http: true\n    region: %s\n    access_key_id: %s\n    secret_access_key: %s\n' \
      "$VGER_TEST_S3_REGION" "$VGER_TEST_S3_KEY" "$VGER_TEST_S3_SECRET" ;;
    sftp) printf '    sftp_key: %s\n    sftp_known_hosts: %s\n' "$VGER_TEST_SFTP_KEY" "$VGER_TEST_SFTP_KNOWN_HOSTS" ;;
  esac
  printf 'compression:\n  algorithm: %s\n' "$COMPRESSION"
}

vykar_config() {  # DIR : vykar's config file for a local repository at DIR, the compression vger has
  printf 'repositories:\n  - url: %s\n    label: bench\ncompression:\n  algorithm: %s\n' "$1" "$COMPRESSION"
  [ "$COMPRESSION" = zstd ] && printf '  zstd_level: 3\n'
  return 0
}

run_vger() {
  local rep=$1 out="$W/restore/vger"
  remote_repo vger "$rep"
  local repo=$REPO_AT
  export VGER_PASSPHRASE=vger-bench-passphrase XDG_CACHE_HOME="$W/cache/vger"
  rm -rf "$XDG_CACHE_HOME" "$out"; mkdir -p "$out"
  [ "$REMOTE" = local ] && rm -rf "$repo"
  vger_config "$VGER_URL" >"$W/vger.yaml"
  prepare_copy
  node "$VGER" -c "$W/vger.yaml" init >"$RES/vger-r$rep-init.log" 2>&1 || { log "vger init failed"; return; }
  BACKUP=(node "$VGER" -c "$W/vger.yaml" backup --label corpus); ARCHIVE=
  sequence vger "$rep" "$repo" "$out" node "$VGER" -c "$W/vger.yaml" restore latest "$out/corpus"
  verify vger "$rep" "$out"
  drop_remote
  unset VGER_PASSPHRASE XDG_CACHE_HOME
}

run_restic() {
  local rep=$1 out="$W/restore/restic"
  remote_repo restic "$rep"
  local repo=$REPO_AT R=(restic)
  export RESTIC_REPOSITORY="$RESTIC_URL" RESTIC_CACHE_DIR="$W/cache/restic"
  rm -rf "$RESTIC_CACHE_DIR" "$out"; mkdir -p "$out"
  [ "$REMOTE" = local ] && rm -rf "$repo"
  case $REMOTE in
    s3 | seaweedfs) export AWS_ACCESS_KEY_ID=$VGER_TEST_S3_KEY AWS_SECRET_ACCESS_KEY=$VGER_TEST_S3_SECRET ;;
    sftp) R+=(-o "sftp.command=ssh -F /dev/null -i $VGER_TEST_SFTP_KEY -o IdentitiesOnly=yes -o BatchMode=yes \
-p $VGER_TEST_SFTP_PORT -o UserKnownHostsFile=$VGER_TEST_SFTP_KNOWN_HOSTS -o StrictHostKeyChecking=yes \
$VGER_TEST_SFTP_USER@$VGER_TEST_SFTP_HOST -s sftp") ;;
  esac
  prepare_copy
  "${R[@]}" init >"$RES/restic-r$rep-init.log" 2>&1 || { log "restic init failed"; return; }
  BACKUP=("${R[@]}" backup --host vger-bench); ARCHIVE=
  sequence restic "$rep" "$repo" "$out" "${R[@]}" restore latest --target "$out"
  verify restic "$rep" "$out"
  drop_remote
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
}

run_vykar() {
  local rep=$1 repo="$W/repos/vykar" out="$W/restore/vykar"
  export XDG_CACHE_HOME="$W/cache/vykar"
  rm -rf "$XDG_CACHE_HOME" "$repo" "$out"; mkdir -p "$out"
  vykar_config "$repo" >"$W/vykar.yaml"
  prepare_copy
  "$VYKAR" -c "$W/vykar.yaml" init >"$RES/vykar-r$rep-init.log" 2>&1 || { log "vykar init failed"; return; }
  # vykar picks its cipher at init ("Encryption mode: ..."): keep it for the report.
  grep -q '^vykar_encryption:' "$RES/env.txt" ||
    sed -n 's/^Encryption mode: */vykar_encryption: /p' "$RES/vykar-r$rep-init.log" >>"$RES/env.txt"
  BACKUP=("$VYKAR" -c "$W/vykar.yaml" backup --label corpus); ARCHIVE=
  sequence vykar "$rep" "$repo" "$out" "$VYKAR" -c "$W/vykar.yaml" restore latest "$out/corpus"
  verify vykar "$rep" "$out"
  unset XDG_CACHE_HOME
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

# cold_init TOOL REPO CACHE : a fresh local repository at REPO with its cache under CACHE; sets BACKUP
# and ARCHIVE as run_TOOL does (the cold steps e and f).
cold_init() {
  local tool=$1 repo=$2 cache=$3 cfg="$W/$1-cold.yaml"
  rm -rf "$repo" "$cache"; mkdir -p "$cache"
  ARCHIVE=
  case $tool in
    vger)
      vger_config "$repo" >"$cfg"
      VGER_PASSPHRASE=vger-bench-passphrase XDG_CACHE_HOME=$cache node "$VGER" -c "$cfg" init &&
        BACKUP=(env VGER_PASSPHRASE=vger-bench-passphrase XDG_CACHE_HOME="$cache" node "$VGER" -c "$cfg" backup --label corpus) ;;
    vykar)
      vykar_config "$repo" >"$cfg"
      XDG_CACHE_HOME=$cache "$VYKAR" -c "$cfg" init &&
        BACKUP=(env XDG_CACHE_HOME="$cache" "$VYKAR" -c "$cfg" backup --label corpus) ;;
    restic)
      RESTIC_CACHE_DIR=$cache restic -r "$repo" init &&
        BACKUP=(restic -r "$repo" --cache-dir "$cache" backup --host vger-bench) ;;
    borg)
      BORG_BASE_DIR=$cache borg init -e repokey "$repo" &&
        BACKUP=(env BORG_BASE_DIR="$cache" BORG_REPO="$repo" borg create --compression lz4) && ARCHIVE=1 ;;
  esac
}

# cold TOOL REP : steps e (the whole working copy) and f (its kernel tree), each a first backup into
# a fresh repository and cache, the page cache dropped just before (in timed).
cold() {
  local tool=$1 rep=$2 repo="$W/repos/$1-cold" cache="$W/cache/$1-cold" step dir
  for step in e f; do
    if [ "$step" = e ]; then cd "$W/work" || return; dir=corpus
    else cd "$W/work/corpus" || return; dir=linux-source-6.1; fi
    [ -d "$dir" ] || { log "$tool rep $rep: no $PWD/$dir for step $step"; continue; }
    cold_init "$tool" "$repo" "$cache" >"$RES/$tool-r$rep-$step-init.log" 2>&1 || { log "$tool cold init failed"; continue; }
    log "$tool rep $rep: $step cold first backup of $dir"
    timed "$tool" "$rep" "$step" "$(tree_bytes "$dir")" "${BACKUP[@]}" ${ARCHIVE:+"::$step"} "$dir"
    rm -rf "$repo" "$cache"
  done
  cd "$W/work" || return
}

for rep in $(seq 1 "$REPS"); do
  for tool in $TOOLS; do
    "run_$tool" "$rep"
    [ "$COLD" = 1 ] && cold "$tool" "$rep"
  done
done
rm -rf "$W/work/corpus" "$W/restore"/*

# `vger --version`: median of 5 runs, in ms
for _ in 1 2 3 4 5; do
  /usr/bin/time -f '%e' -o "$RES/version.time" node "$VGER" --version >/dev/null 2>&1
  echo "vger,0,version,0,$(cat "$RES/version.time"),0,0,0,0,,," >>"$CSV"
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

#!/usr/bin/env bash
# Interrupts a first backup of CORPUS with the real CLI (SIGINT, then kill -9) at 25%, 50% and 90%
# of the time an uninterrupted one takes, runs it again, and prints what the rerun read and stored.
# Usage: scripts/bench-resume.sh CORPUS [WORKDIR]   (build first: npm run build)
set -euo pipefail
corpus=$1
work=${2:-/tmp/vger-resume-bench}
here=$(cd "$(dirname "$0")/.." && pwd)
vger() { node "$here/dist/cli/main.js" --config "$work/vger.yaml" "$@"; }
export VGER_PASSPHRASE='resume bench passphrase'
rm -rf "$work" && mkdir -p "$work"
total=$(du -sb --apparent-size "$corpus" | cut -f1)
setup() {
  rm -rf "$work/repo" "$work/cache"
  printf 'repositories:\n  - url: %s/repo\ncache_dir: %s/cache\n' "$work" "$work" >"$work/vger.yaml"
  vger init >/dev/null
}
packs() { # bytes of complete packs, number of partial ones
  local b t
  b=$(find "$work/repo/packs" -type f ! -name '.tmp.*' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  t=$(find "$work/repo/packs" -type f -name '.tmp.*' | wc -l)
  echo "$b $t"
}
field() { node -e "const o=JSON.parse(require('fs').readFileSync(0,'utf8')).snapshots[0]; console.log($1)"; }

setup
s=$(date +%s.%N)
vger backup "$corpus" --json >"$work/clean.json"
full=$(echo "$(date +%s.%N) - $s" | bc)
clean=$(field 'o.stats.storedBytes' <"$work/clean.json")
echo "corpus $total bytes; uninterrupted first backup ${full}s, $clean bytes stored"
printf '| signal | at | complete packs left | partial packs left | rerun read | rerun stored | stored twice | rerun time |\n'
for sig in INT KILL; do
  for f in 0.25 0.5 0.9; do
    setup
    node "$here/dist/cli/main.js" --config "$work/vger.yaml" backup "$corpus" --json >/dev/null 2>&1 &
    pid=$!
    sleep "$(echo "$full * $f" | bc)"
    kill -"$sig" "$pid" 2>/dev/null || true
    wait "$pid" || true
    read -r before temps < <(packs)
    s=$(date +%s.%N)
    vger backup "$corpus" --json >"$work/rerun.json"
    t=$(echo "$(date +%s.%N) - $s" | bc)
    read_=$(field 'o.bytesRead' <"$work/rerun.json")
    stored=$(field 'o.stats.storedBytes' <"$work/rerun.json")
    read -r after temps_after < <(packs)
    twice=$((before + stored - clean))
    printf '| %s | %s | %s | %s | %s (%s%% of the corpus) | %s | %s | %.1f s |\n' "$sig" "$f" "$before" \
      "$temps (after rerun: $temps_after)" "$read_" "$((100 * read_ / total))" "$stored" "$twice" "$t"
  done
done

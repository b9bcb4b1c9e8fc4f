#!/usr/bin/env bash
# Interrupts a first backup of CORPUS with the real CLI (SIGINT, then kill -9) once it has finished
# 25%, 50% and 90% of the corpus's bytes (from its --json progress events, one per finished file),
# runs it again, and prints what the rerun read and stored.
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
  vger init >/dev/null 2>&1
}
packs() { # bytes of complete packs, number of partial ones
  local b t
  b=$(find "$work/repo/packs" -type f ! -name '.tmp.*' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  t=$(find "$work/repo/packs" -type f -name '.tmp.*' | wc -l)
  echo "$b $t"
}
field() { node -e "const o=JSON.parse(require('fs').readFileSync(0,'utf8')).snapshots[0]; console.log($1)"; }
finished() { grep -o '"bytes":[0-9]*' "$work/progress" | tail -1 | cut -d: -f2; }

setup
s=$(date +%s.%N)
vger backup "$corpus" --json >"$work/clean.json" 2>/dev/null
full=$(echo "$(date +%s.%N) - $s" | bc)
clean=$(field 'o.stats.storedBytes' <"$work/clean.json")
echo "corpus $total bytes; uninterrupted first backup ${full}s, $clean bytes stored"
echo '| signal | at | files finished (bytes) | complete packs left | partial packs left | rerun read | of which finished | rerun stored | stored twice | rerun time |'
for sig in INT KILL; do
  for f in 0.25 0.5 0.9; do
    setup
    stop=$(echo "$total * $f / 1" | bc)
    node "$here/dist/cli/main.js" --config "$work/vger.yaml" backup "$corpus" --json >/dev/null 2>"$work/progress" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      b=$(finished || true)
      if [ -n "$b" ] && [ "$b" -ge "$stop" ]; then kill -"$sig" "$pid"; break; fi
      sleep 0.05
    done
    status=0
    wait "$pid" || status=$?
    done_=$(finished || echo 0)
    read -r before temps < <(packs)
    s=$(date +%s.%N)
    vger backup "$corpus" --json >"$work/rerun.json" 2>/dev/null
    t=$(echo "$(date +%s.%N) - $s" | bc)
    read_=$(field 'o.bytesRead' <"$work/rerun.json")
    stored=$(field 'o.stats.storedBytes' <"$work/rerun.json")
    read -r _ temps_after < <(packs)
    again=$((read_ - (total - done_)))
    printf '| %s (exit %s) | %s | %s | %s | %s (after rerun: %s) | %s (%s%%) | %s | %s | %s | %.1f s |\n' "$sig" "$status" "$f" \
      "$done_" "$before" "$temps" "$temps_after" "$read_" "$((100 * read_ / total))" "$again" "$stored" \
      "$((before + stored - clean))" "$t"
  done
done

#!/usr/bin/env bash
# Browsing over WebDAV (docs/benchmarks.md "Browsing over WebDAV"): backs CORPUS up, serves the snapshot
# with `vger mount`, and measures the time to the first listing of the snapshot's root (PROPFIND Depth 1),
# a listing of a directory of 100,000 empty files, and `rclone copy` of the whole snapshot while sampling the
# server's memory (VmRSS every 0.2 s, VmHWM after the copy). Then checks the copy against CORPUS: every regular
# file by SHA-256, every symlink as a file holding its target (how the mount serves links), the same
# directories. Not part of npm test.
# Usage: scripts/bench-mount.sh [CORPUS] [WORKDIR]   (build first: npm run build:ts; needs rclone and curl)
set -euo pipefail
corpus=${1:-/tmp/vger-bench/corpus/linux-source-6.1}
work=${2:-/tmp/vger-mount-bench}
here=$(cd "$(dirname "$0")/.." && pwd)
[ -d "$corpus" ] || { echo "no corpus at $corpus (bash /work/shared/bench/make-corpus.sh makes it)" >&2; exit 1; }
command -v rclone >/dev/null && command -v curl >/dev/null || { echo "needs rclone and curl" >&2; exit 1; }
vger() { node "$here/dist/cli/main.js" --config "$work/vger.yaml" "$@"; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
export VGER_PASSPHRASE='mount bench passphrase'
rm -rf "$work" && mkdir -p "$work/many"
printf 'repositories:\n  - url: %s/repo\ncache_dir: %s/cache\n' "$work" "$work" >"$work/vger.yaml"
vger init >/dev/null 2>&1

s=$(now)
vger backup "$corpus" -l corpus >/dev/null 2>&1
echo "load average before: $(cut -d" " -f1-3 /proc/loadavg) on $(nproc) cores"
echo "backup of $corpus: $(since "$s") s ($(du -sh --apparent-size "$corpus" | cut -f1), $(find "$corpus" | wc -l) entries)"
node -e 'const fs = require("fs"); for (let i = 0; i < 100000; i++) fs.writeFileSync(`${process.argv[1]}/f${String(i).padStart(6, "0")}`, "")' "$work/many"
vger backup "$work/many" -l many >/dev/null 2>&1

node "$here/dist/cli/main.js" --config "$work/vger.yaml" mount --listen 127.0.0.1:0 >"$work/mount.url" 2>"$work/mount.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$work/mount.url" ] && break; sleep 0.1; done
url=$(head -1 "$work/mount.url")
top=$(curl -sf -X PROPFIND -H 'Depth: 1' "$url")
snap=$(grep -o '<D:href>/[^<]*_corpus_[^<]*</D:href>' <<<"$top" | sed 's/<[^>]*>//g')
many=$(grep -o '<D:href>/[^<]*_many_[^<]*</D:href>' <<<"$top" | sed 's/<[^>]*>//g')
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
echo "server idle: VmRSS $(($(rss) / 1024)) MiB"

# The first listing of the snapshot's root, cold (nothing of it read yet), then warm.
for t in cold warm; do
  curl -s -o /dev/null -w "PROPFIND Depth 1 of the snapshot root ($t): first byte %{time_starttransfer} s, total %{time_total} s\n" \
    -X PROPFIND -H 'Depth: 1' "${url%/}$snap"
done
(
  max=0
  while kill -0 "$pid" 2>/dev/null; do
    r=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${r:-0}" -gt "$max" ] && max=$r && echo "$max" >"$work/rss.max"
    sleep 0.2
  done
) &
sampler=$!
s=$(now)
rclone --config /dev/null copy --create-empty-src-dirs ":webdav:$snap" "$work/copy" --webdav-url "$url" 2>"$work/rclone.log"
secs=$(since "$s")
bytes=$(du -sb --apparent-size "$work/copy" | cut -f1)
echo "rclone copy of the snapshot: $secs s, $((bytes / 1048576)) MiB ($(echo "$bytes / 1048576 / $secs" | bc) MiB/s)"
kill "$sampler" 2>/dev/null || true
echo "load average after the copy: $(cut -d" " -f1-3 /proc/loadavg)"
echo "server memory while copying: VmRSS at most $(($(cat "$work/rss.max") / 1024)) MiB (sampled every 0.2 s), VmHWM $(($(awk '/^VmHWM/ {print $2}' "/proc/$pid/status") / 1024)) MiB"

# A long listing, after the copy so that the copy's memory figures are its own.
for t in cold warm; do
  curl -s -o "$work/many.xml" -w "PROPFIND Depth 1 of 100,000 entries ($t): first byte %{time_starttransfer} s, total %{time_total} s, %{size_download} bytes\n" \
    -X PROPFIND -H 'Depth: 1' "${url%/}${many}"
done
echo "  ($(grep -c '<D:response>' "$work/many.xml") responses; server VmRSS $(($(rss) / 1024)) MiB)"

# The copy against the corpus.
(cd "$corpus" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) >"$work/corpus.sums"
(cd "$work/copy" && sha256sum --quiet -c "$work/corpus.sums") || { echo "FAIL: a file differs" >&2; exit 1; }
links=0
while IFS= read -r -d '' l; do
  [ "$(readlink "$corpus/$l")" = "$(cat "$work/copy/$l")" ] || { echo "FAIL: symlink $l" >&2; exit 1; }
  links=$((links + 1))
done < <(cd "$corpus" && find . -type l -print0)
want=$(cd "$corpus" && find . | LC_ALL=C sort | md5sum)
got=$(cd "$work/copy" && find . | LC_ALL=C sort | md5sum)
[ "$want" = "$got" ] || { echo "FAIL: the copy's paths differ from the corpus's" >&2; exit 1; }
echo "copy equals the corpus: $(wc -l <"$work/corpus.sums") files by SHA-256, $links symlinks (as files holding their targets), every path"
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true

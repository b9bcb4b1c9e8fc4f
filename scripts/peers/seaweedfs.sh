#!/bin/sh
# A second S3 test peer, a production one: SeaweedFS (`weed server -s3`: master, volume server, filer and
# S3 gateway in one process) on 127.0.0.1, data on disk under DIR, SigV4 checked against one identity.
#   scripts/peers/seaweedfs.sh start DIR   start it (log, pid, s3.env in DIR); no-op if already running there
#   scripts/peers/seaweedfs.sh stop DIR    stop it and remove its data (DIR/data)
#   scripts/peers/seaweedfs.sh env DIR     print DIR/s3.env (KEY=VALUE lines, the same names as s3.sh)
#   scripts/peers/seaweedfs.sh check DIR   SigV4 round trip with curl: PUT, GET, ranged GET, If-None-Match:* -> 412
#                                          (also for racing creates: exactly one wins), ListObjectsV2 pages,
#                                          a wrong secret -> 403
# weed is built once from the Go module proxy into .ci/bin/weed-<version> (gitignored; a few minutes on
# 2 cores) and reused. DIR/weed.log has one line per S3 request (-vmodule=stats=2, the gateway's request
# log: I... stats.go:N "IDENTITY" METHOD "PATH" STATUS DURATION), which the bench counts.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/peers/lib.sh
. "$HERE/lib.sh"
ROOT=$(cd "$HERE/../.." && pwd)
WEED_MODULE=github.com/seaweedfs/seaweedfs
WEED_VERSION=v0.0.0-20261109003541-7506e5f91cd6
BIN="$ROOT/.ci/bin"
WEED="$BIN/weed-$WEED_VERSION"
BUCKET=vger-test
REGION=us-east-1
CMD=${1:-}
DIR=$(abs_dir "${2:-}")

# Build weed once. flock serialises parallel first runs (several vitest workers, cargo test binaries).
# `go install $WEED_MODULE/weed@$WEED_VERSION` refuses this module: its go.mod has a replace directive
# (github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39), which go install @version does not
# allow. So: fetch the module source from the proxy (go mod download checks it against go.sum/sumdb) and
# build ./weed inside it, where go.mod is the main module and its replace applies.
ensure_weed() {
  [ -x "$WEED" ] && return 0
  mkdir -p "$BIN"
  (
    flock 9
    [ -x "$WEED" ] && exit 0
    go=$(command -v go || true)
    [ -n "$go" ] || [ ! -x /usr/local/go/bin/go ] || go=/usr/local/go/bin/go
    [ -n "$go" ] || die "need Go (>= the go line of $WEED_MODULE's go.mod) to build weed; none on PATH or in /usr/local/go"
    echo "peers: building SeaweedFS weed $WEED_VERSION into $WEED (once; a few minutes)" >&2
    t0=$(date +%s)
    # From $BIN: no go.mod above it, so `go mod download` runs outside any module.
    dir=$(cd "$BIN" && GOWORK=off GOFLAGS=-mod=mod "$go" mod download -json "$WEED_MODULE@$WEED_VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') || true
    { [ -n "$dir" ] && [ -f "$dir/go.mod" ]; } || die "go mod download $WEED_MODULE@$WEED_VERSION failed"
    GOWORK=off "$go" build -C "$dir" -trimpath -ldflags '-s -w' -o "$WEED.tmp" ./weed >&2 ||
      { rm -f "$WEED.tmp"; die "go build of $WEED_MODULE/weed@$WEED_VERSION failed"; }
    mv "$WEED.tmp" "$WEED"
    echo "peers: built weed in $(($(date +%s) - t0)) s" >&2
  ) 9>"$BIN/.weed.lock"
}

# free_ports N: N distinct TCP ports free right now on 127.0.0.1, space-separated (all held open at once so
# none repeats; weed's gRPC ports default to HTTP port + 10000, which can overflow, so every one is given).
free_ports() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
  elif command -v node >/dev/null 2>&1; then
    node -e '
const net = require("net"), n = +process.argv[1], ports = [], servers = []
const next = () => { if (ports.length === n) { console.log(ports.join(" ")); servers.forEach((s) => s.close()); return }
  const s = net.createServer().listen(0, "127.0.0.1", () => { ports.push(s.address().port); servers.push(s); next() }) }
next()' "$1"
  else
    die "need python3 or node to pick free ports"
  fi
}

# s3 ARGS...: curl signing with SigV4 as the identity of s3.env (sourced by the caller), for requests
# without a body.
s3() {
  curl -sS --aws-sigv4 "aws:amz:$VGER_TEST_S3_REGION:s3" --user "$VGER_TEST_S3_KEY:$VGER_TEST_S3_SECRET" \
    -H 'Content-Type: application/octet-stream' "$@"
}

# s3put BODY ARGS... URL: PUT BODY. curl before 8.x does not send x-amz-content-sha256 itself (moto does
# not check; SeaweedFS answers SignatureDoesNotMatch), so the body's hash is given and signed.
s3put() {
  body=$1
  shift
  printf '%s' "$body" | s3 -H "x-amz-content-sha256: $(printf '%s' "$body" | sha256sum | cut -d' ' -f1)" \
    -X PUT --data-binary @- "$@"
}

# urlenc TEXT: TEXT percent-encoded as SigV4 wants (all but A-Z a-z 0-9 - . _ ~).
urlenc() {
  printf '%s' "$1" | od -An -tu1 -v | awk '{ for (i = 1; i <= NF; i++) { c = $i
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 46 || c == 95 || c == 126)
      printf "%c", c; else printf "%%%02X", c } }'
}

start() {
  if [ -f "$DIR/s3.pid" ] && alive "$(cat "$DIR/s3.pid")" && [ -f "$DIR/s3.env" ]; then return 0; fi
  command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
  ensure_weed
  wait_s=${VGER_PEER_WAIT_S:-60}
  key=vger-test
  secret="vger-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  # Admin covers bucket creation; SigV4 is checked for every request (there is no anonymous identity).
  cat >"$DIR/s3.json" <<JSON
{
  "identities": [
    {
      "name": "vger-test",
      "credentials": [{ "accessKey": "$key", "secretKey": "$secret" }],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
JSON
  # Retry with new ports if another process took one between free_ports and weed binding it.
  for attempt in 1 2 3; do
    # shellcheck disable=SC2046
    set -- $(free_ports 8)
    [ $# = 8 ] || die "could not pick free ports"
    s3port=$1
    # weed puts its gRPC unix sockets in /tmp whatever TMPDIR says; stop removes them (a killed weed leaves them).
    echo "$3 $5 $7 $8" >"$DIR/weed.grpc-ports"
    rm -rf "$DIR/data"
    mkdir -p "$DIR/data"
    # One process for all four servers. Small volumes (64 MB) so a test machine's disk is plenty; -volume.max=0
    # lets the count follow the free space. Unix sockets and temporary files in DIR where weed lets us choose.
    # No telemetry; no Iceberg/Lance listeners; stop without the 10 s pre-stop grace.
    (cd "$DIR" && TMPDIR="$DIR" exec "$WEED" -logtostderr=true -vmodule=stats=2 server \
      -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$DIR/data" \
      -master.port="$2" -master.port.grpc="$3" -master.volumeSizeLimitMB=64 -master.telemetry=false \
      -volume.port="$4" -volume.port.grpc="$5" -volume.max=0 -volume.preStopSeconds=0 \
      -filer -filer.port="$6" -filer.port.grpc="$7" -filer.localSocket="$DIR/filer.sock" \
      -s3 -s3.port="$s3port" -s3.port.grpc="$8" -s3.config="$DIR/s3.json" -s3.localSocket="$DIR/s3.sock" \
      -s3.port.iceberg=0 -s3.port.lance=0) </dev/null >"$DIR/weed.log" 2>&1 &
    pid=$!
    echo "$pid" >"$DIR/s3.pid"
    deadline=$(($(date +%s) + wait_s))
    # Up when the gateway answers at all (403 to an unsigned request).
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$s3port/")" != 000 ]; do
      alive "$pid" || break
      [ "$(date +%s)" -lt "$deadline" ] || { stop_pidfile "$DIR/s3.pid"; die_log "$DIR/weed.log" "SeaweedFS S3 did not answer on port $s3port within ${wait_s}s"; }
      sleep 0.2
    done
    if alive "$pid"; then break; fi
    rm -f "$DIR/s3.pid"
    grep -qi 'address already in use' "$DIR/weed.log" && [ $attempt -lt 3 ] && continue
    die_log "$DIR/weed.log" "weed server exited during start-up"
  done
  watch_owner "$pid" "$DIR/s3.watch.pid" "$DIR"
  VGER_TEST_S3_ENDPOINT=http://127.0.0.1:$s3port VGER_TEST_S3_REGION=$REGION VGER_TEST_S3_KEY=$key VGER_TEST_S3_SECRET=$secret
  url="$VGER_TEST_S3_ENDPOINT/$BUCKET"
  # The gateway answers before the filer and volume server are ready: retry creating the bucket, then a
  # first object (which makes the master grow the bucket's volumes), until both succeed.
  until code=$(s3 -o "$DIR/bucket.out" -w '%{http_code}' -X PUT "$url") &&
    { [ "$code" = 200 ] || grep -q BucketAlreadyOwnedByYou "$DIR/bucket.out"; } &&
    [ "$(s3put ready -o /dev/null -w '%{http_code}' "$url/.peer-ready")" = 200 ]; do
    alive "$pid" || die_log "$DIR/weed.log" "weed server exited before bucket $BUCKET was writable"
    [ "$(date +%s)" -lt "$deadline" ] || {
      stop_pidfile "$DIR/s3.watch.pid"
      stop_pidfile "$DIR/s3.pid"
      die_log "$DIR/weed.log" "could not create and write bucket $BUCKET within ${wait_s}s (last: HTTP ${code:-?} $(cat "$DIR/bucket.out" 2>/dev/null))"
    }
    sleep 0.5
  done
  s3 -o /dev/null -X DELETE "$url/.peer-ready" || true
  rm -f "$DIR/bucket.out"
  cat >"$DIR/s3.env.tmp" <<ENV
VGER_TEST_S3_ENDPOINT=$VGER_TEST_S3_ENDPOINT
VGER_TEST_S3_BUCKET=$BUCKET
VGER_TEST_S3_REGION=$REGION
VGER_TEST_S3_KEY=$key
VGER_TEST_S3_SECRET=$secret
VGER_TEST_S3_PID=$pid
ENV
  mv "$DIR/s3.env.tmp" "$DIR/s3.env"
}

# A manual self-test of the running peer with curl's SigV4 signing (curl >= 7.75).
check() {
  [ -f "$DIR/s3.env" ] || die "no $DIR/s3.env; run start first"
  # shellcheck disable=SC1091
  . "$DIR/s3.env"
  url="$VGER_TEST_S3_ENDPOINT/$VGER_TEST_S3_BUCKET"
  name="check-$$"
  for i in 1 2 3; do
    code=$(s3put "body $i" -o /dev/null -w '%{http_code}' "$url/$name/$i")
    [ "$code" = 200 ] || die "PUT $name/$i: HTTP $code"
  done
  [ "$(s3 -f "$url/$name/2")" = "body 2" ] || die "GET $name/2 returned other bytes"
  code=$(s3 -o "$DIR/check.out" -w '%{http_code}' -H 'Range: bytes=2-3' "$url/$name/2")
  { [ "$code" = 206 ] && [ "$(cat "$DIR/check.out")" = "dy" ]; } || die "ranged GET $name/2: HTTP $code, '$(cat "$DIR/check.out")'"
  code=$(s3put again -o /dev/null -w '%{http_code}' -H 'If-None-Match: *' "$url/$name/1")
  [ "$code" = 412 ] || die "PUT If-None-Match:* over an existing object: HTTP $code, expected 412"
  [ "$(s3 -f "$url/$name/1")" = "body 1" ] || die "PUT If-None-Match:* answered 412 but replaced the object"
  code=$(s3put new -o /dev/null -w '%{http_code}' -H 'If-None-Match: *' "$url/$name/new")
  [ "$code" = 200 ] || die "PUT If-None-Match:* of a new key: HTTP $code, expected 200"
  # Racing conditional creates of one key: exactly one may win (the others 412, or 409 as AWS may answer).
  for i in 1 2 3 4 5 6 7 8; do
    (s3put "racer $i" -o /dev/null -w '%{http_code}\n' -H 'If-None-Match: *' "$url/$name/race" >"$DIR/race.$i") &
  done
  wait
  wins=$(cat "$DIR"/race.* | grep -c '^200$' || true)
  lost=$(cat "$DIR"/race.* | grep -Ec '^(409|412)$' || true)
  codes=$(cat "$DIR"/race.* | sort | uniq -c | tr -s ' \n' ' ')
  rm -f "$DIR"/race.* "$DIR/check.out"
  { [ "$wins" = 1 ] && [ "$lost" = 7 ]; } ||
    die "8 racing PUTs with If-None-Match:* of one key: want one 200 and seven 412 (or 409), got (count code):$codes"
  # The query is written out sorted and percent-encoded: curl 7.88 signs it as given (moto does not check).
  page=$(s3 -f "$url?list-type=2&max-keys=2&prefix=$(urlenc "$name/")")
  echo "$page" | grep -q '<IsTruncated>true</IsTruncated>' || die "ListObjectsV2 max-keys=2 not truncated: $page"
  token=$(echo "$page" | sed -n 's:.*<NextContinuationToken>\([^<]*\)</NextContinuationToken>.*:\1:p')
  page2=$(s3 -f "$url?continuation-token=$(urlenc "$token")&list-type=2&max-keys=2&prefix=$(urlenc "$name/")")
  echo "$page2" | grep -q "<Key>$name/3</Key>" || die "ListObjectsV2 second page lacks $name/3: $page2"
  code=$(curl -sS -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$VGER_TEST_S3_REGION:s3" \
    --user "$VGER_TEST_S3_KEY:wrong-$VGER_TEST_S3_SECRET" "$url/$name/1")
  [ "$code" = 403 ] || die "GET signed with a wrong secret: HTTP $code, expected 403"
  for k in 1 2 3 new race; do s3 -o /dev/null -X DELETE "$url/$name/$k" || true; done
  echo "peers: seaweedfs check passed ($VGER_TEST_S3_ENDPOINT; racing If-None-Match:* creates, count code:$codes)" >&2
}

case "$CMD" in
  start) start ;;
  stop)
    stop_pidfile "$DIR/s3.watch.pid"
    stop_pidfile "$DIR/s3.pid"
    rm -rf "$DIR/data"
    if [ -f "$DIR/weed.grpc-ports" ]; then
      read -r ports <"$DIR/weed.grpc-ports"
      for p in $ports; do rm -f /tmp/seaweedfs-*-grpc-"$p".sock; done
    fi
    ;;
  env) cat "$DIR/s3.env" ;;
  check) check ;;
  *) die "usage: $0 start|stop|env|check DIR" ;;
esac

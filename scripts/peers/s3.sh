#!/bin/sh
# An S3-compatible test peer: moto[server] on 127.0.0.1, in memory, any credentials accepted.
#   scripts/peers/s3.sh start DIR   start it (log, pid and s3.env in DIR); no-op if already running there
#   scripts/peers/s3.sh stop DIR    stop it
#   scripts/peers/s3.sh env DIR     print DIR/s3.env (KEY=VALUE lines)
#   scripts/peers/s3.sh check DIR   SigV4 round trip with curl: PUT, GET, If-None-Match:* -> 412, ListObjectsV2 pages
# moto is installed once into .ci/venv (gitignored) and reused while it holds the pinned version.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/peers/lib.sh
. "$HERE/lib.sh"
ROOT=$(cd "$HERE/../.." && pwd)
MOTO_VERSION=5.2.5
VENV="$ROOT/.ci/venv"
BUCKET=vger-test
CMD=${1:-}
DIR=$(abs_dir "${2:-}")

# Create or reuse the venv. flock serialises parallel first runs (e.g. several vitest workers).
ensure_venv() {
  mkdir -p "$VENV"
  (
    flock 9
    if [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null)" = "$MOTO_VERSION" ] &&
      [ -x "$VENV/bin/moto_server" ]; then
      exit 0
    fi
    command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
    # Debian's python3 lacks ensurepip unless python3-venv is installed.
    python3 -m venv "$VENV" >&2 || { apt_install python3-venv && python3 -m venv "$VENV" >&2; } ||
      die "python3 -m venv $VENV failed (remove $VENV and retry)"
    echo "peers: installing moto[server]==$MOTO_VERSION into $VENV" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2 ||
      die "pip install moto[server]==$MOTO_VERSION failed"
  ) 9>"$VENV/.lock"
}

start() {
  if [ -f "$DIR/s3.pid" ] && alive "$(cat "$DIR/s3.pid")" && [ -f "$DIR/s3.env" ]; then return 0; fi
  command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
  ensure_venv
  wait_s=${VGER_PEER_WAIT_S:-30}
  # Retry with a new port if another process took ours between free_port and moto binding it.
  for attempt in 1 2 3; do
    port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # From DIR: moto writes files such as its request recording (moto_recording) into its working directory.
    (cd "$DIR" && exec "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port") </dev/null >"$DIR/moto.log" 2>&1 &
    pid=$!
    echo "$pid" >"$DIR/s3.pid"
    deadline=$(($(date +%s) + wait_s))
    until curl -sf -o /dev/null "http://127.0.0.1:$port/moto-api/"; do
      alive "$pid" || break
      [ "$(date +%s)" -lt "$deadline" ] || { stop_pidfile "$DIR/s3.pid"; die_log "$DIR/moto.log" "moto did not answer on port $port within ${wait_s}s"; }
      sleep 0.2
    done
    if alive "$pid"; then break; fi
    rm -f "$DIR/s3.pid"
    grep -qi 'address already in use' "$DIR/moto.log" && [ $attempt -lt 3 ] && continue
    die_log "$DIR/moto.log" "moto_server exited during start-up"
  done
  watch_owner "$pid" "$DIR/s3.watch.pid" "$DIR"
  curl -sf -o /dev/null -X PUT "http://127.0.0.1:$port/$BUCKET" || die_log "$DIR/moto.log" "could not create bucket $BUCKET"
  cat >"$DIR/s3.env.tmp" <<ENV
VGER_TEST_S3_ENDPOINT=http://127.0.0.1:$port
VGER_TEST_S3_BUCKET=$BUCKET
VGER_TEST_S3_REGION=us-east-1
VGER_TEST_S3_KEY=test
VGER_TEST_S3_SECRET=testsecret
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
  # Content-Type matters: moto (Werkzeug) swallows a body sent as curl's default form type.
  s3() {
    curl -sS --aws-sigv4 "aws:amz:$VGER_TEST_S3_REGION:s3" --user "$VGER_TEST_S3_KEY:$VGER_TEST_S3_SECRET" \
      -H 'Content-Type: application/octet-stream' "$@"
  }
  name="check-$$"
  for i in 1 2 3; do
    code=$(printf 'body %s' "$i" | s3 -o /dev/null -w '%{http_code}' -X PUT --data-binary @- "$url/$name/$i")
    [ "$code" = 200 ] || die "PUT $name/$i: HTTP $code"
  done
  [ "$(s3 -f "$url/$name/2")" = "body 2" ] || die "GET $name/2 returned other bytes"
  code=$(printf 'again' | s3 -o /dev/null -w '%{http_code}' -X PUT -H 'If-None-Match: *' --data-binary @- "$url/$name/1")
  [ "$code" = 412 ] || die "PUT If-None-Match:* over an existing object: HTTP $code, expected 412"
  page=$(s3 -f "$url?list-type=2&max-keys=2&prefix=$name/")
  echo "$page" | grep -q '<IsTruncated>true</IsTruncated>' || die "ListObjectsV2 max-keys=2 not truncated: $page"
  token=$(echo "$page" | sed -n 's:.*<NextContinuationToken>\([^<]*\)</NextContinuationToken>.*:\1:p')
  page2=$(s3 -f -G "$url" -d list-type=2 -d max-keys=2 -d "prefix=$name/" --data-urlencode "continuation-token=$token")
  echo "$page2" | grep -q "<Key>$name/3</Key>" || die "ListObjectsV2 second page lacks $name/3: $page2"
  echo "peers: s3 check passed ($VGER_TEST_S3_ENDPOINT)" >&2
}

case "$CMD" in
  start) start ;;
  stop)
    stop_pidfile "$DIR/s3.watch.pid"
    stop_pidfile "$DIR/s3.pid"
    ;;
  env) cat "$DIR/s3.env" ;;
  check) check ;;
  *) die "usage: $0 start|stop|env|check DIR" ;;
esac

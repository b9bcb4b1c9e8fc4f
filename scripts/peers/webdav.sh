#!/bin/sh
# A WebDAV test peer: `rclone serve webdav` on 127.0.0.1 over a directory, with a user and password.
#   scripts/peers/webdav.sh start DIR   start it (log, pid and webdav.env in DIR); no-op if already running there
#   scripts/peers/webdav.sh stop DIR    stop it
#   scripts/peers/webdav.sh env DIR     print DIR/webdav.env (KEY=VALUE lines)
# rclone comes from Debian's package (installed when missing, as root). rclone is also the WebDAV
# client the browsing tests use.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/peers/lib.sh
. "$HERE/lib.sh"
CMD=${1:-}
DIR=$(abs_dir "${2:-}")
USER_NAME=vger
PASSWORD=webdav-test-password

start() {
  if [ -f "$DIR/webdav.pid" ] && alive "$(cat "$DIR/webdav.pid")" && [ -f "$DIR/webdav.env" ]; then return 0; fi
  command -v rclone >/dev/null 2>&1 || apt_install rclone
  command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
  mkdir -p "$DIR/webdav-root"
  wait_s=${VGER_PEER_WAIT_S:-30}
  for attempt in 1 2 3; do
    port=$(free_port)
    rclone serve webdav "$DIR/webdav-root" --addr "127.0.0.1:$port" --user "$USER_NAME" --pass "$PASSWORD" \
      --config /dev/null </dev/null >"$DIR/webdav.log" 2>&1 &
    pid=$!
    echo "$pid" >"$DIR/webdav.pid"
    deadline=$(($(date +%s) + wait_s))
    until curl -s -o /dev/null -u "$USER_NAME:$PASSWORD" -X PROPFIND -H 'Depth: 0' "http://127.0.0.1:$port/"; do
      alive "$pid" || break
      [ "$(date +%s)" -lt "$deadline" ] || { stop_pidfile "$DIR/webdav.pid"; die_log "$DIR/webdav.log" "rclone did not answer on port $port within ${wait_s}s"; }
      sleep 0.2
    done
    if alive "$pid"; then break; fi
    rm -f "$DIR/webdav.pid"
    grep -qi 'address already in use' "$DIR/webdav.log" && [ $attempt -lt 3 ] && continue
    die_log "$DIR/webdav.log" "rclone serve webdav exited during start-up"
  done
  watch_owner "$pid" "$DIR/webdav.watch.pid" "$DIR"
  cat >"$DIR/webdav.env.tmp" <<ENV
VGER_TEST_WEBDAV_HOST=127.0.0.1
VGER_TEST_WEBDAV_PORT=$port
VGER_TEST_WEBDAV_USER=$USER_NAME
VGER_TEST_WEBDAV_PASSWORD=$PASSWORD
VGER_TEST_WEBDAV_ROOT=$DIR/webdav-root
VGER_TEST_WEBDAV_PID=$pid
ENV
  mv "$DIR/webdav.env.tmp" "$DIR/webdav.env"
}

case $CMD in
  start) start ;;
  stop)
    stop_pidfile "$DIR/webdav.watch.pid"
    stop_pidfile "$DIR/webdav.pid"
    rm -f "$DIR/webdav.env"
    ;;
  env) cat "$DIR/webdav.env" ;;
  *) die "usage: $0 start|stop|env DIR" ;;
esac

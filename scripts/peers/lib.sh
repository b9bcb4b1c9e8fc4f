# Shared helpers for the test-peer scripts (sourced by s3.sh and sshd.sh; not run on its own).
# POSIX sh. Knobs: VGER_PEER_WAIT_S (seconds to wait for a peer to answer, default 30),
# VGER_PEERS_OWNER_PID (if set, a watcher stops the peer when that process exits, e.g. a crashed test run).

die() {
  echo "peers: $*" >&2
  exit 1
}

# die_log LOGFILE MESSAGE: fail with the last lines of a peer's log.
die_log() {
  echo "peers: $2" >&2
  if [ -f "$1" ]; then
    echo "--- last lines of $1 ---" >&2
    tail -n 30 "$1" >&2
  fi
  exit 1
}

# A TCP port that is free right now on 127.0.0.1 (callers retry if another process grabs it first).
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  elif command -v node >/dev/null 2>&1; then
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close() })'
  else
    die "need python3 or node to pick a free port"
  fi
}

# alive PID: the process exists and is not a zombie (an orphaned peer may wait a while for init to reap it).
alive() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# apt_install PKG...: install Debian packages as root, without prompts; runs apt-get update only if needed.
apt_install() {
  [ "$(id -u)" = 0 ] || die "missing $*; install it (apt-get install $*) or run as root so this script can"
  command -v apt-get >/dev/null 2>&1 || die "missing $* and there is no apt-get to install it"
  export DEBIAN_FRONTEND=noninteractive
  echo "peers: apt-get install $*" >&2
  apt-get install -y -q --no-install-recommends "$@" >&2 ||
    { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "$@" >&2; } ||
    die "apt-get install $* failed"
}

# watch_owner PID PIDFILE [DIR]: if VGER_PEERS_OWNER_PID is set, kill PID once that owner process is
# gone (TERM, then KILL after 10 s: weed can take longer to shut down), then remove DIR (the peer's
# state, which an owner that exits without stopping it, like a Rust test binary, leaves behind) unless
# VGER_KEEP_TMP=1. The watcher's own pid goes to PIDFILE so stop can end it too.
watch_owner() {
  [ -n "${VGER_PEERS_OWNER_PID:-}" ] || return 0
  (
    while kill -0 "$VGER_PEERS_OWNER_PID" 2>/dev/null && kill -0 "$1" 2>/dev/null; do sleep 1; done
    kill "$1" 2>/dev/null || true
    i=0
    while alive "$1" && [ $i -lt 100 ]; do
      sleep 0.1
      i=$((i + 1))
    done
    ! alive "$1" || kill -9 "$1" 2>/dev/null || true
    if [ -n "${3:-}" ] && [ "${VGER_KEEP_TMP:-}" != 1 ] && ! kill -0 "$VGER_PEERS_OWNER_PID" 2>/dev/null; then
      rm -rf "$3"
    fi
  ) </dev/null >/dev/null 2>&1 &
  echo $! >"$2"
}

# stop_pidfile FILE: TERM the process named in FILE, wait up to 5 s, then KILL; remove FILE. No-op without FILE.
stop_pidfile() {
  [ -f "$1" ] || return 0
  pid=$(cat "$1")
  if alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    i=0
    while alive "$pid" && [ $i -lt 50 ]; do
      sleep 0.1
      i=$((i + 1))
    done
    alive "$pid" && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$1"
}

# abs_dir DIR: create DIR if needed and print its absolute path.
abs_dir() {
  [ -n "${1:-}" ] || die "usage: $0 start|stop|env DIR"
  # Paths go unquoted into sshd_config, ssh options and the env files.
  case "$1" in *[[:space:]]*) die "DIR must not contain whitespace: '$1'" ;; esac
  mkdir -p "$1" && (cd "$1" && pwd -P)
}

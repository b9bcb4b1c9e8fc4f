#!/bin/sh
# An SFTP test peer: Debian's OpenSSH sshd on 127.0.0.1, key login only, for the current user.
#   scripts/peers/sshd.sh start DIR   start it (keys, config, log, pid and sftp.env in DIR); no-op if already running there
#   scripts/peers/sshd.sh stop DIR    stop it
#   scripts/peers/sshd.sh env DIR     print DIR/sftp.env (KEY=VALUE lines)
#   scripts/peers/sshd.sh check DIR   sftp -b round trip: put, ls, get, compare
# Installs openssh-server with apt-get when /usr/sbin/sshd is missing (root only).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/peers/lib.sh
. "$HERE/lib.sh"
CMD=${1:-}
DIR=$(abs_dir "${2:-}")
USER_NAME=$(id -un)

# Client options that ignore the caller's ~/.ssh/config and agent and trust only our known_hosts.
ssh_opts() {
  echo "-F /dev/null -i $DIR/client_ed25519 -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes" \
    "-o UserKnownHostsFile=$DIR/known_hosts -o StrictHostKeyChecking=yes -o ConnectTimeout=5"
}

start() {
  if [ -f "$DIR/sshd.pid" ] && alive "$(cat "$DIR/sshd.pid")" && [ -f "$DIR/sftp.env" ]; then return 0; fi
  if [ ! -x /usr/sbin/sshd ] || ! command -v sftp >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
    apt_install openssh-server openssh-client
  fi
  [ -f "$DIR/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C vger-test-host -f "$DIR/host_ed25519"
  [ -f "$DIR/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C vger-test-client -f "$DIR/client_ed25519"
  cp "$DIR/client_ed25519.pub" "$DIR/authorized_keys"
  chmod 600 "$DIR/authorized_keys"
  mkdir -p "$DIR/sftp-root"
  # As root, sshd refuses to start without its privilege separation directory.
  if [ "$(id -u)" = 0 ]; then install -d -m 755 /run/sshd; fi
  wait_s=${VGER_PEER_WAIT_S:-30}
  for attempt in 1 2 3; do
    port=$(free_port)
    cat >"$DIR/sshd_config" <<CFG
Port $port
ListenAddress 127.0.0.1
HostKey $DIR/host_ed25519
PidFile $DIR/sshd.daemon.pid
AuthorizedKeysFile $DIR/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowUsers $USER_NAME
Subsystem sftp internal-sftp
CFG
    # The known_hosts entry comes from the host key itself, so the login below also proves it is right.
    printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$DIR/host_ed25519.pub")" >"$DIR/known_hosts"
    /usr/sbin/sshd -t -f "$DIR/sshd_config" 2>"$DIR/sshd.log" || die_log "$DIR/sshd.log" "sshd -t rejected $DIR/sshd_config"
    # -D keeps sshd in the foreground of this background job, so $! is its pid and an early exit shows.
    # sshd must be started by absolute path (it re-executes itself).
    /usr/sbin/sshd -D -f "$DIR/sshd_config" -E "$DIR/sshd.log" </dev/null >/dev/null 2>&1 &
    pid=$!
    echo "$pid" >"$DIR/sshd.pid"
    deadline=$(($(date +%s) + wait_s))
    # shellcheck disable=SC2046
    until ssh $(ssh_opts) -p "$port" "$USER_NAME@127.0.0.1" true 2>"$DIR/ssh-check.err"; do
      alive "$pid" || break
      if [ "$(date +%s)" -ge "$deadline" ]; then
        cat "$DIR/ssh-check.err" >>"$DIR/sshd.log"
        stop_pidfile "$DIR/sshd.pid"
        die_log "$DIR/sshd.log" "no ssh login to $USER_NAME@127.0.0.1:$port within ${wait_s}s"
      fi
      sleep 0.2
    done
    if alive "$pid"; then break; fi
    rm -f "$DIR/sshd.pid"
    grep -qi 'address already in use' "$DIR/sshd.log" && [ $attempt -lt 3 ] && continue
    die_log "$DIR/sshd.log" "sshd exited during start-up"
  done
  watch_owner "$pid" "$DIR/sshd.watch.pid" "$DIR"
  cat >"$DIR/sftp.env.tmp" <<ENV
VGER_TEST_SFTP_HOST=127.0.0.1
VGER_TEST_SFTP_PORT=$port
VGER_TEST_SFTP_USER=$USER_NAME
VGER_TEST_SFTP_KEY=$DIR/client_ed25519
VGER_TEST_SFTP_KNOWN_HOSTS=$DIR/known_hosts
VGER_TEST_SFTP_ROOT=$DIR/sftp-root
VGER_TEST_SFTP_PID=$pid
ENV
  mv "$DIR/sftp.env.tmp" "$DIR/sftp.env"
}

check() {
  [ -f "$DIR/sftp.env" ] || die "no $DIR/sftp.env; run start first"
  # shellcheck disable=SC1091
  . "$DIR/sftp.env"
  head -c 100000 /dev/urandom >"$DIR/check.in"
  rm -f "$DIR/check.out"
  cat >"$DIR/check.batch" <<BATCH
-rm $VGER_TEST_SFTP_ROOT/check/blob
-mkdir $VGER_TEST_SFTP_ROOT/check
put $DIR/check.in $VGER_TEST_SFTP_ROOT/check/blob
ls -l $VGER_TEST_SFTP_ROOT/check
get $VGER_TEST_SFTP_ROOT/check/blob $DIR/check.out
BATCH
  # shellcheck disable=SC2046
  sftp $(ssh_opts) -P "$VGER_TEST_SFTP_PORT" -b "$DIR/check.batch" "$VGER_TEST_SFTP_USER@$VGER_TEST_SFTP_HOST" >&2 ||
    die_log "$DIR/sshd.log" "sftp batch failed"
  cmp "$DIR/check.in" "$DIR/check.out" || die "sftp round trip changed the bytes"
  echo "peers: sftp check passed ($VGER_TEST_SFTP_USER@$VGER_TEST_SFTP_HOST:$VGER_TEST_SFTP_PORT)" >&2
}

case "$CMD" in
  start) start ;;
  stop)
    stop_pidfile "$DIR/sshd.watch.pid"
    stop_pidfile "$DIR/sshd.pid"
    ;;
  env) cat "$DIR/sftp.env" ;;
  check) check ;;
  *) die "usage: $0 start|stop|env|check DIR" ;;
esac

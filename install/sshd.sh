#!/usr/bin/env bash
# Install OpenSSH's server and supervisor from Debian's packages and start an sshd on loopback
# for skynet's end-to-end deploy test (`fab staging pred deploy` against this machine).
# Idempotent: an sshd already answering on the port is left alone.
#
# Root may log in with the test key only (no passwords), on 127.0.0.1 only. Everything lives
# in $SKYNET_TEST_SSH_DIR: host key, client key (id_ed25519), authorized_keys, sshd_config, pid.
#
# Environment (defaults in brackets):
#   SKYNET_TEST_SSH_DIR [/tmp/skynet-test-ssh]   SKYNET_TEST_SSH_PORT [2222]
# Prints the variables the tests read as `export` lines: eval "$(install/sshd.sh)".
set -euo pipefail

SSH_DIR=${SKYNET_TEST_SSH_DIR:-/tmp/skynet-test-ssh}
PORT=${SKYNET_TEST_SSH_PORT:-2222}

log() { echo "[sshd] $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v supervisord >/dev/null 2>&1 || need+=(supervisor)   # the services' manager where systemd is not running
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >&2
  as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

mkdir -p "$SSH_DIR"
chmod 700 "$SSH_DIR"
[ -f "$SSH_DIR/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/ssh_host_ed25519_key" >&2
[ -f "$SSH_DIR/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C skynet-deploy-test -f "$SSH_DIR/id_ed25519" >&2
cp "$SSH_DIR/id_ed25519.pub" "$SSH_DIR/authorized_keys"
chmod 600 "$SSH_DIR/authorized_keys"

cat > "$SSH_DIR/sshd_config" <<CONF
# skynet's test sshd (install/sshd.sh): loopback only, key login only.
Port $PORT
ListenAddress 127.0.0.1
HostKey $SSH_DIR/ssh_host_ed25519_key
PidFile $SSH_DIR/sshd.pid
AuthorizedKeysFile $SSH_DIR/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The key files live under /tmp by default, which StrictModes rejects; loopback only, so no.
StrictModes no
Subsystem sftp internal-sftp
LogLevel ERROR
CONF

answering() {
  ssh -q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=3 \
      -i "$SSH_DIR/id_ed25519" -p "$PORT" root@127.0.0.1 true 2>/dev/null
}

if answering; then
  log "sshd already answering on 127.0.0.1:$PORT"
else
  as_root mkdir -p /run/sshd
  as_root /usr/sbin/sshd -t -f "$SSH_DIR/sshd_config"
  as_root /usr/sbin/sshd -f "$SSH_DIR/sshd_config" -E "$SSH_DIR/sshd.log"
  for _ in $(seq 1 50); do answering && break; sleep 0.2; done
  answering || { log "sshd did not start (see $SSH_DIR/sshd.log)"; exit 1; }
  log "sshd up on 127.0.0.1:$PORT (key $SSH_DIR/id_ed25519)"
fi

echo "export SKYNET_TEST_SSH_DIR='$SSH_DIR'"
echo "export SKYNET_TEST_SSH_PORT='$PORT'"

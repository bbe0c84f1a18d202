#!/usr/bin/env bash
# Install MariaDB, PostgreSQL, Redis and RabbitMQ from Debian's packages, and moto's standalone
# AWS server (S3, SQS, DynamoDB over real HTTP) from PyPI into its own virtualenv, and start
# them on loopback with the databases and users skynet's integration tests expect.
# Idempotent: safe to run twice; a server that is already answering is left alone.
#
# Environment (defaults in brackets):
#   SKYNET_TEST_DB_USER [skynet]  SKYNET_TEST_DB_PASSWORD [skynet]  SKYNET_TEST_DB_NAME [skynet_test]
#   SKYNET_MOTO_VENV [/opt/skynet-moto]  SKYNET_TEST_MOTO_PORT [5000]
# Prints the URLs the tests read (SKYNET_TEST_MYSQL_URL, SKYNET_TEST_POSTGRES_URL,
# SKYNET_TEST_REDIS_URL, SKYNET_TEST_AMQP_URL, SKYNET_TEST_AWS_ENDPOINT) as `export` lines, so
# `eval "$(install/servers.sh)"` works.
set -euo pipefail

DB_USER=${SKYNET_TEST_DB_USER:-skynet}
DB_PASSWORD=${SKYNET_TEST_DB_PASSWORD:-skynet}
DB_NAME=${SKYNET_TEST_DB_NAME:-skynet_test}

log() { echo "[servers] $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server mariadb-client)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >&2
  as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

wait_for() {  # wait_for NAME CMD...: up to 30 s
  local name=$1; shift
  for _ in $(seq 1 60); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  log "$name did not start"; return 1
}

# --- MariaDB -----------------------------------------------------------------------------
if ! mariadb-admin --protocol=socket ping >/dev/null 2>&1; then
  log "starting MariaDB on 127.0.0.1:3306"
  as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld
  if [ ! -d /var/lib/mysql/mysql ]; then
    as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  fi
  (as_root /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 --port=3306 \
      --socket=/run/mysqld/mysqld.sock >/tmp/skynet-mariadb.log 2>&1 &)
  wait_for MariaDB mariadb-admin --protocol=socket ping
fi
as_root mariadb --protocol=socket <<SQL
CREATE DATABASE IF NOT EXISTS ${DB_NAME} CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '${DB_USER}'@'127.0.0.1' IDENTIFIED BY '${DB_PASSWORD}';
CREATE USER IF NOT EXISTS '${DB_USER}'@'localhost' IDENTIFIED BY '${DB_PASSWORD}';
GRANT ALL PRIVILEGES ON *.* TO '${DB_USER}'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO '${DB_USER}'@'localhost';
FLUSH PRIVILEGES;
SQL

# --- PostgreSQL --------------------------------------------------------------------------
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PG_DATA=${SKYNET_PG_DATA:-/var/lib/postgresql/skynet-test}
if ! "$PG_BIN/pg_isready" -h 127.0.0.1 -p 5432 -q; then
  log "starting PostgreSQL on 127.0.0.1:5432"
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    as_root mkdir -p "$PG_DATA" && as_root chown postgres:postgres "$PG_DATA"
    as_root su postgres -c "$PG_BIN/initdb -D $PG_DATA -A trust -U postgres" >/dev/null
  fi
  as_root mkdir -p /var/run/postgresql && as_root chown postgres:postgres /var/run/postgresql
  as_root su postgres -c "$PG_BIN/pg_ctl -D $PG_DATA -l /tmp/skynet-postgres.log \
      -o '-c listen_addresses=127.0.0.1 -p 5432' start" >/dev/null
  wait_for PostgreSQL "$PG_BIN/pg_isready" -h 127.0.0.1 -p 5432 -q
fi
psql_su() { as_root su postgres -c "psql -h 127.0.0.1 -p 5432 -U postgres -tAc \"$1\""; }
[ "$(psql_su "SELECT 1 FROM pg_roles WHERE rolname='${DB_USER}'")" = 1 ] \
  || psql_su "CREATE ROLE ${DB_USER} LOGIN SUPERUSER PASSWORD '${DB_PASSWORD}'" >/dev/null
[ "$(psql_su "SELECT 1 FROM pg_database WHERE datname='${DB_NAME}'")" = 1 ] \
  || psql_su "CREATE DATABASE ${DB_NAME} OWNER ${DB_USER}" >/dev/null

# --- Redis -------------------------------------------------------------------------------
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis on 127.0.0.1:6379"
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save '' --appendonly no \
      --logfile /tmp/skynet-redis.log
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
fi

# --- RabbitMQ (Celery's broker) ------------------------------------------------------------
# Every listener on loopback: AMQP :5672, Erlang distribution :25672, epmd :4369.
RMQ_ENV=(RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672
         ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_DIST_PORT=25672
         "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}")
rmqctl() { as_root env "${RMQ_ENV[@]}" rabbitmqctl "$@"; }
if ! rmqctl -q status >/dev/null 2>&1; then
  log "starting RabbitMQ on 127.0.0.1:5672"
  as_root su rabbitmq -s /bin/sh -c "$(printf '%q ' env "${RMQ_ENV[@]}" rabbitmq-server -detached)"
  wait_for RabbitMQ rmqctl -q await_startup --timeout 5 || { rmqctl -q await_startup --timeout 60 >&2; }
fi
rmqctl -q list_users | grep -q "^${DB_USER}\b" || rmqctl -q add_user "$DB_USER" "$DB_PASSWORD" >/dev/null
rmqctl -q list_vhosts | grep -qx "$DB_NAME" || rmqctl -q add_vhost "$DB_NAME" >/dev/null
rmqctl -q set_permissions -p "$DB_NAME" "$DB_USER" '.*' '.*' '.*' >/dev/null

# --- moto's standalone AWS server (S3, SQS, DynamoDB) ---------------------------------------
MOTO_VENV=${SKYNET_MOTO_VENV:-/opt/skynet-moto}
MOTO_PORT=${SKYNET_TEST_MOTO_PORT:-5000}
moto_up() { curl -sf -o /dev/null "http://127.0.0.1:${MOTO_PORT}/moto-api/"; }
if ! moto_up; then
  if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
    log "installing moto[server] into $MOTO_VENV"
    PY=${PYTHON:-python3.11}
    as_root "$PY" -m venv "$MOTO_VENV" >&2
    as_root "$MOTO_VENV/bin/pip" install -q 'moto[server]==5.2.5' >&2
  fi
  log "starting moto's AWS server on 127.0.0.1:${MOTO_PORT}"
  (nohup "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >/tmp/skynet-moto.log 2>&1 &)
  wait_for moto moto_up
fi

log "MariaDB, PostgreSQL, Redis, RabbitMQ and moto are up on loopback"
echo "export SKYNET_TEST_MYSQL_URL='mysql+pymysql://${DB_USER}:${DB_PASSWORD}@127.0.0.1:3306/${DB_NAME}'"
echo "export SKYNET_TEST_POSTGRES_URL='postgresql+psycopg://${DB_USER}:${DB_PASSWORD}@127.0.0.1:5432/${DB_NAME}'"
echo "export SKYNET_TEST_REDIS_URL='redis://127.0.0.1:6379/15'"
echo "export SKYNET_TEST_AMQP_URL='amqp://${DB_USER}:${DB_PASSWORD}@127.0.0.1:5672/${DB_NAME}'"
echo "export SKYNET_TEST_AWS_ENDPOINT='http://127.0.0.1:${MOTO_PORT}'"

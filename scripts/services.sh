#!/usr/bin/env bash
# Real services for Shipshape's tests and benchmarks: PostgreSQL 15, MariaDB 10.11 and Redis 7
# from Debian packages, each started as OUR OWN instance on 127.0.0.1, a non-default port and a
# throwaway data directory. Services already running on the default ports are never touched.
#
#   scripts/services.sh up       install what is missing, start what is not running (idempotent)
#   scripts/services.sh status   print each instance, its state and URL (exit 1 if one is down)
#   scripts/services.sh down     stop our instances (data directories are kept)
#   scripts/services.sh purge    stop our instances and delete their data directories
#   scripts/services.sh env      print the env file (KEY=VALUE lines) for `set -a; . <(...)`
#
# Environment (all optional):
#   SHIPSHAPE_SERVICES_DIR   data, sockets, logs and the env file   (/var/tmp/shipshape-services)
#   SHIPSHAPE_POSTGRES_PORT  (55432)   SHIPSHAPE_MARIADB_PORT (53306)   SHIPSHAPE_REDIS_PORT (56379)
#
# Data lives outside the repository on purpose: the servers run as the `postgres`/`mysql`/`redis`
# users, which may not be able to traverse the checkout.
set -euo pipefail

readonly BASE_DIR="${SHIPSHAPE_SERVICES_DIR:-/var/tmp/shipshape-services}"
readonly PG_PORT="${SHIPSHAPE_POSTGRES_PORT:-55432}"
readonly MARIADB_PORT="${SHIPSHAPE_MARIADB_PORT:-53306}"
readonly REDIS_PORT="${SHIPSHAPE_REDIS_PORT:-56379}"
readonly PG_BIN=/usr/lib/postgresql/15/bin
readonly PG_DIR="$BASE_DIR/postgres"
readonly MARIADB_DIR="$BASE_DIR/mariadb"
readonly REDIS_DIR="$BASE_DIR/redis"
readonly ENV_FILE="$BASE_DIR/env"
# Upper bound for any readiness wait, in polls of 0.2 s (60 s).
readonly READY_POLLS=300

readonly PG_URL="postgres://shipshape@127.0.0.1:$PG_PORT/shipshape"
readonly MARIADB_URL="mysql://shipshape@127.0.0.1:$MARIADB_PORT/shipshape"
readonly REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

log() { printf 'services: %s\n' "$*" >&2; }
die() {
  printf 'services: error: %s\n' "$*" >&2
  exit 3
}
is_root() { [[ $(id -u) -eq 0 ]]; }

# Runs a command as a service user when we are root; as ourselves otherwise (a non-root user can
# run all three servers in directories it owns).
as_user() {
  local user=$1
  shift
  if is_root; then runuser -u "$user" -- "$@"; else "$@"; fi
}

# Is something accepting TCP connections on 127.0.0.1:$1?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the pid recorded in file $1 (first line) when that process is alive and its command
# name is $2: after a crash or reboot the pid may belong to an unrelated process.
live_pid() {
  local file=$1 comm=$2 pid
  [[ -r $file ]] || return 1
  pid=$(head -n 1 "$file" 2>/dev/null | tr -dc '0-9')
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
  # A killed server whose parent has not reaped it yet is a zombie: dead.
  [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 1
  printf '%s' "$pid"
}

# A server killed hard stays a zombie until its parent (often pid 1) reaps it, and PostgreSQL
# refuses to start while its old postmaster pid still exists. Waits (bounded) for the reaping.
wait_reaped() {
  local file=$1 pid i
  pid=$(head -n 1 "$file" 2>/dev/null | tr -dc '0-9') || return 0
  [[ -n $pid ]] || return 0
  for ((i = 0; i < READY_POLLS; i++)); do
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] || return 0
    sleep 0.2
  done
}

# Polls "$@" every 0.2 s until it succeeds, at most READY_POLLS times.
wait_until() {
  local what=$1 i
  shift
  for ((i = 0; i < READY_POLLS; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

# Waits until pid $2 has exited (bounded); $1 names it for the error.
wait_exit() {
  local what=$1 pid=$2 i
  for ((i = 0; i < READY_POLLS; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  die "$what (pid $pid) did not stop within 60 s"
}

# Fails when our port is taken by a process that is not our instance.
claim_port() {
  local name=$1 port=$2 env_name=$3
  if port_open "$port"; then
    die "port $port is in use by another process, not our $name instance; stop it or set $env_name to a free port"
  fi
}

# ---------------------------------------------------------------------------------------------
# Installation

# Package → a file it installs that we need. Only packages whose file is missing get installed.
readonly -a PACKAGES=(
  "postgresql-15:$PG_BIN/initdb"
  "postgresql-client-15:$PG_BIN/psql"
  "mariadb-server:/usr/sbin/mariadbd"
  "mariadb-client:/usr/bin/mariadb"
  "redis-server:/usr/bin/redis-server"
  "redis-tools:/usr/bin/redis-cli"
  # Headless browser for test/drill/report-browser.test.ts (driven by playwright-core).
  "chromium:/usr/bin/chromium"
)

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_BACKUP=""
POLICY_RC_CREATED=0

# Debian starts a freshly installed server on its default port unless policy-rc.d says no (101).
# Install ours for the duration of the install; put back whatever was there before.
block_autostart() {
  if [[ -e $POLICY_RC ]]; then
    local rc=0
    "$POLICY_RC" >/dev/null 2>&1 || rc=$?
    [[ $rc -eq 101 ]] && return 0 # already denies every start
    POLICY_RC_BACKUP="$POLICY_RC.shipshape-backup.$$"
    mv "$POLICY_RC" "$POLICY_RC_BACKUP"
  fi
  printf '#!/bin/sh\n# Temporary, written by shipshape scripts/services.sh: no auto-start during install.\nexit 101\n' >"$POLICY_RC"
  chmod 0755 "$POLICY_RC"
  POLICY_RC_CREATED=1
}

restore_autostart() {
  if [[ $POLICY_RC_CREATED -eq 1 ]]; then
    rm -f "$POLICY_RC"
    POLICY_RC_CREATED=0
  fi
  if [[ -n $POLICY_RC_BACKUP ]]; then
    mv "$POLICY_RC_BACKUP" "$POLICY_RC"
    POLICY_RC_BACKUP=""
  fi
}

install_missing() {
  local entry missing=()
  for entry in "${PACKAGES[@]}"; do
    [[ -x ${entry#*:} ]] || missing+=("${entry%%:*}")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  is_root || die "missing packages: ${missing[*]}; run this script as root once to install them"
  log "installing ${missing[*]}"
  block_autostart
  trap restore_autostart EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  restore_autostart
  trap - EXIT
  for entry in "${PACKAGES[@]}"; do
    [[ -x ${entry#*:} ]] || die "package ${entry%%:*} installed but ${entry#*:} is missing"
  done
}

# Creates $1 owned by user $2 (when root), mode 0700.
own_dir() {
  local dir=$1 user=$2
  mkdir -p "$dir"
  if is_root; then chown "$user:" "$dir"; fi
  chmod 0700 "$dir"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

pg_pid() { live_pid "$PG_DIR/data/postmaster.pid" postgres; }

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres -U postgres; }

# Runs SQL from stdin as the bootstrap superuser.
pg_psql() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres
}

pg_up() {
  if pg_pid >/dev/null; then
    log "postgresql: reusing running instance (pid $(pg_pid))"
  else
    claim_port postgresql "$PG_PORT" SHIPSHAPE_POSTGRES_PORT
    wait_reaped "$PG_DIR/data/postmaster.pid"
    if [[ ! -s $PG_DIR/data/PG_VERSION ]]; then
      # initdb into a scratch directory and rename, so a failed init never looks initialised.
      log "postgresql: initialising $PG_DIR/data"
      rm -rf "$PG_DIR/data.init"
      own_dir "$PG_DIR/data.init" postgres
      as_user postgres "$PG_BIN/initdb" -D "$PG_DIR/data.init" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=trust >"$PG_DIR/initdb.log" 2>&1 ||
        die "initdb failed; see $PG_DIR/initdb.log"
      mv "$PG_DIR/data.init" "$PG_DIR/data"
    fi
    own_dir "$PG_DIR/run" postgres
    log "postgresql: starting on 127.0.0.1:$PG_PORT"
    # setsid: the server must not share our process group (a test runner may kill that group).
    as_user postgres setsid -w "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR/run -c max_connections=200" \
      start >/dev/null 9>&- || die "postgresql did not start; see $PG_DIR/server.log"
  fi
  wait_until postgresql pg_ready || die "postgresql is not ready after 60 s; see $PG_DIR/server.log"
  pg_psql <<'SQL'
SELECT 'CREATE ROLE shipshape LOGIN SUPERUSER'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'shipshape') \gexec
SELECT 'CREATE DATABASE shipshape OWNER shipshape'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'shipshape') \gexec
SQL
}

pg_down() {
  local pid
  if pid=$(pg_pid); then
    log "postgresql: stopping (pid $pid)"
    as_user postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null ||
      die "postgresql (pid $pid) did not stop"
  fi
}

# ---------------------------------------------------------------------------------------------
# MariaDB

# Every MariaDB command gets --no-defaults first: Debian's /etc/mysql config points at the
# system instance's datadir, socket and pid file.
mariadb_pid() { live_pid "$MARIADB_DIR/run/mariadbd.pid" mariadbd; }

mariadb_ready() {
  mariadb-admin --no-defaults --protocol=socket --socket="$MARIADB_DIR/run/mariadbd.sock" \
    --user=root --connect-timeout=2 ping
}

mariadb_up() {
  local pid
  if pid=$(mariadb_pid); then
    log "mariadb: reusing running instance (pid $pid)"
  else
    claim_port mariadb "$MARIADB_PORT" SHIPSHAPE_MARIADB_PORT
    if [[ ! -d $MARIADB_DIR/data/mysql ]]; then
      log "mariadb: initialising $MARIADB_DIR/data"
      rm -rf "$MARIADB_DIR/data.init"
      own_dir "$MARIADB_DIR/data.init" mysql
      mariadb-install-db --no-defaults --user="$(is_root && echo mysql || id -un)" \
        --datadir="$MARIADB_DIR/data.init" --auth-root-authentication-method=socket \
        --skip-test-db >"$MARIADB_DIR/install-db.log" 2>&1 ||
        die "mariadb-install-db failed; see $MARIADB_DIR/install-db.log"
      mv "$MARIADB_DIR/data.init" "$MARIADB_DIR/data"
    fi
    own_dir "$MARIADB_DIR/run" mysql
    local user_flag=()
    is_root && user_flag=(--user=mysql)
    log "mariadb: starting on 127.0.0.1:$MARIADB_PORT"
    # setsid + nohup: the server must outlive this script and the shell that ran it.
    setsid nohup mariadbd --no-defaults "${user_flag[@]}" --datadir="$MARIADB_DIR/data" \
      --socket="$MARIADB_DIR/run/mariadbd.sock" --pid-file="$MARIADB_DIR/run/mariadbd.pid" \
      --port="$MARIADB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
      --log-error="$MARIADB_DIR/server.log" --max-connections=200 \
      </dev/null >>"$MARIADB_DIR/stdout.log" 2>&1 9>&- &
    pid=$!
    # Fail fast if it dies during start-up instead of waiting out the whole bound.
    local i
    for ((i = 0; i < READY_POLLS; i++)); do
      mariadb_ready >/dev/null 2>&1 && break
      kill -0 "$pid" 2>/dev/null || die "mariadbd exited during start-up; see $MARIADB_DIR/server.log"
      sleep 0.2
    done
  fi
  wait_until mariadb mariadb_ready || die "mariadb is not ready after 60 s; see $MARIADB_DIR/server.log"
  mariadb --no-defaults --protocol=socket --socket="$MARIADB_DIR/run/mariadbd.sock" --user=root <<'SQL'
CREATE USER IF NOT EXISTS 'shipshape'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'shipshape'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS shipshape CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
SQL
}

mariadb_down() {
  local pid
  if pid=$(mariadb_pid); then
    log "mariadb: stopping (pid $pid)"
    kill -TERM "$pid"
    wait_exit mariadb "$pid"
  fi
}

# ---------------------------------------------------------------------------------------------
# Redis

redis_user() { if is_root && id redis >/dev/null 2>&1; then echo redis; else id -un; fi; }

redis_pid() { live_pid "$REDIS_DIR/redis.pid" redis-server; }

redis_ready() { [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }

redis_up() {
  local pid
  if pid=$(redis_pid); then
    log "redis: reusing running instance (pid $pid)"
  else
    claim_port redis "$REDIS_PORT" SHIPSHAPE_REDIS_PORT
    own_dir "$REDIS_DIR" "$(redis_user)"
    log "redis: starting on 127.0.0.1:$REDIS_PORT"
    as_user "$(redis_user)" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
      --dir "$REDIS_DIR" --daemonize yes --pidfile "$REDIS_DIR/redis.pid" \
      --logfile "$REDIS_DIR/server.log" 9>&- ||
      die "redis-server did not start; see $REDIS_DIR/server.log"
  fi
  wait_until redis redis_ready || die "redis is not ready after 60 s; see $REDIS_DIR/server.log"
}

redis_down() {
  local pid
  if pid=$(redis_pid); then
    log "redis: stopping (pid $pid)"
    kill -TERM "$pid"
    wait_exit redis "$pid"
  fi
}

# ---------------------------------------------------------------------------------------------

write_env() {
  local tmp="$ENV_FILE.tmp.$$"
  {
    printf 'SHIPSHAPE_TEST_POSTGRES_URL=%s\n' "$PG_URL"
    printf 'SHIPSHAPE_TEST_MARIADB_URL=%s\n' "$MARIADB_URL"
    printf 'SHIPSHAPE_TEST_REDIS_URL=%s\n' "$REDIS_URL"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv "$tmp" "$ENV_FILE"
}

status_line() {
  local name=$1 pid_fn=$2 url=$3 pid
  if pid=$($pid_fn); then
    printf '%-11s running  pid %-8s %s\n' "$name" "$pid" "$url"
  else
    printf '%-11s stopped  %-12s %s\n' "$name" '' "$url"
    return 1
  fi
}

cmd_status() {
  local rc=0
  status_line postgresql pg_pid "$PG_URL" || rc=1
  status_line mariadb mariadb_pid "$MARIADB_URL" || rc=1
  status_line redis redis_pid "$REDIS_URL" || rc=1
  printf 'data: %s   env: %s\n' "$BASE_DIR" "$ENV_FILE"
  return $rc
}

# One `up`/`down` at a time: two test runs starting at once must not both initdb. Every server is
# started with `9>&-` so it does not inherit (and hold forever) the lock's file descriptor.
take_lock() {
  mkdir -p "$BASE_DIR"
  chmod 0755 "$BASE_DIR" # the service users must traverse it to reach their own directories
  exec 9>"$BASE_DIR/.lock"
  flock -w 120 9 || die "another services.sh holds $BASE_DIR/.lock"
}

main() {
  local cmd=${1:-}
  case $cmd in
  up)
    take_lock
    install_missing
    own_dir "$PG_DIR" postgres
    own_dir "$MARIADB_DIR" mysql
    pg_up
    mariadb_up
    redis_up
    write_env
    cmd_status
    ;;
  down)
    take_lock
    pg_down
    mariadb_down
    redis_down
    ;;
  purge)
    take_lock
    pg_down
    mariadb_down
    redis_down
    rm -rf "$PG_DIR" "$MARIADB_DIR" "$REDIS_DIR" "$ENV_FILE"
    log "removed data under $BASE_DIR"
    ;;
  status) cmd_status ;;
  env)
    [[ -r $ENV_FILE ]] || die "no $ENV_FILE yet; run: scripts/services.sh up"
    cat "$ENV_FILE"
    ;;
  *)
    printf 'usage: %s up|down|status|purge|env\n' "$0" >&2
    exit 2
    ;;
  esac
}

main "$@"

#!/usr/bin/env bash
# Project-local PostgreSQL: its own data folder, its own port on 127.0.0.1,
# run as an unprivileged OS user when invoked as root (initdb refuses root).
#
#   scripts/pg.sh start   start (initialising on first use); prints DATABASE_URL
#   scripts/pg.sh stop    stop it
#   scripts/pg.sh url     print DATABASE_URL of the running cluster
#   scripts/pg.sh status  say whether it runs
#
# Safe to call from several processes at once (flock): concurrent test
# packages all call "start" and get the same cluster.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { echo "pg.sh: $*" >&2; }

find_pgbin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

pgbin=$(find_pgbin || true)
if [ -z "$pgbin" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "PostgreSQL 15+ is not installed and I am not root: run 'sudo apt-get install postgresql' or set DATABASE_URL."
    exit 1
  fi
  log "installing PostgreSQL from apt"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >&2
  # Debian starts its own cluster on 5432; we use our own on another port.
  pgbin=$(find_pgbin)
fi

# The OS user that owns the cluster.
if [ "$(id -u)" -eq 0 ]; then
  pguser=postgres
  id -u "$pguser" >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$pguser"
  as_pg() { runuser -u "$pguser" -- "$@"; }
else
  pguser=$(id -un)
  as_pg() { "$@"; }
fi

# The data folder: under the repo's ignored .data/ when the cluster's user
# can reach it; otherwise (a clone under a 0700 home) under the system temp
# folder, keyed by the repo path so two clones never share a cluster.
datadir="$repo/.data/pg"
if [ "$(id -u)" -eq 0 ] && ! runuser -u "$pguser" -- test -x "$repo"; then
  key=$(printf '%s' "$repo" | sha256sum | cut -c1-12)
  datadir="${TMPDIR:-/tmp}/wardsync-pg-$key"
fi
mkdir -p "$(dirname "$datadir")"
lockfile="$(dirname "$datadir")/.pg-$(basename "$datadir").lock"

url_of() {
  local port pass
  port=$(cat "$datadir/wardsync.port")
  pass=$(cat "$datadir/wardsync.secret")
  echo "postgres://wardsync:${pass}@127.0.0.1:${port}/wardsync?sslmode=disable"
}

running() { [ -f "$datadir/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" -D "$datadir" status >/dev/null 2>&1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  exec 9>"$lockfile"
  flock 9
  if [ ! -f "$datadir/PG_VERSION" ]; then
    log "initialising a new cluster in $datadir"
    mkdir -p "$datadir"
    chmod 0700 "$datadir"
    chown "$pguser" "$datadir"
    local pwfile secret
    secret=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | cut -c1-20)
    pwfile=$(mktemp)
    echo "$secret" >"$pwfile"
    chown "$pguser" "$pwfile"
    as_pg "$pgbin/initdb" -D "$datadir" -U wardsync --pwfile="$pwfile" -A scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$datadir.initdb.log" 2>&1 || { cat "$datadir.initdb.log" >&2; rm -f "$pwfile"; exit 1; }
    rm -f "$pwfile"
    # Secrets and port are kept beside (not inside) the cluster files, but in
    # the same private folder.
    echo "$secret" >"$datadir/wardsync.secret"
    chmod 0600 "$datadir/wardsync.secret"
    # A port derived from the path, moved on while taken.
    local port=$(( 20000 + $(printf '%s' "$datadir" | cksum | cut -d' ' -f1) % 20000 ))
    while ! port_free "$port"; do port=$((port + 1)); done
    echo "$port" >"$datadir/wardsync.port"
    cat >>"$datadir/postgresql.conf" <<EOF
# wardsync project-local cluster
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$datadir'
max_connections = 300
shared_buffers = 256MB
synchronous_commit = on
idle_in_transaction_session_timeout = '10min'
log_min_messages = warning
EOF
    chown "$pguser" "$datadir/postgresql.conf"
  fi
  if ! running; then
    local port
    port=$(cat "$datadir/wardsync.port")
    if ! port_free "$port"; then
      while ! port_free "$port"; do port=$((port + 1)); done
      echo "$port" >"$datadir/wardsync.port"
      sed -i "s/^port = .*/port = $port/" "$datadir/postgresql.conf"
    fi
    as_pg "$pgbin/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 start >/dev/null 9>&- || {
      tail -20 "$datadir/server.log" >&2; exit 1; }
    log "PostgreSQL $(cat "$datadir/PG_VERSION") running on 127.0.0.1:$port (data: $datadir)"
  fi
  local psql=("$pgbin/psql" -X -q -h 127.0.0.1 -p "$(cat "$datadir/wardsync.port")" -U wardsync -d postgres -tA)
  if [ "$(PGPASSWORD=$(cat "$datadir/wardsync.secret") "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='wardsync'")" != 1 ]; then
    PGPASSWORD=$(cat "$datadir/wardsync.secret") "${psql[@]}" -c "CREATE DATABASE wardsync" >&2
  fi
  url_of
}

case "${1:-start}" in
  start) start ;;
  stop)
    if running; then as_pg "$pgbin/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null && log "stopped"; else log "not running"; fi ;;
  url) running || { log "not running: run scripts/pg.sh start"; exit 1; }; url_of ;;
  status) if running; then log "running: $(url_of)"; else log "not running"; exit 3; fi ;;
  datadir) echo "$datadir" ;;
  *) echo "usage: $0 start|stop|url|status|datadir" >&2; exit 2 ;;
esac

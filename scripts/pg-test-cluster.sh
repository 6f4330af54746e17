#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the Postgres store tests and bench: loopback only, trust auth,
# data under a temp dir, gone after `stop`. CI (.ci/run) uses it; developers run the same:
#
#   eval "$(scripts/pg-test-cluster.sh start)"   # installs postgresql (Debian) if missing, starts,
#                                                # prints `export RELAY_TEST_POSTGRES_URL=...`
#   deno task test                               # now runs the Postgres store contract too
#   scripts/pg-test-cluster.sh stop              # stops the cluster and deletes its data
#
# PG_TEST_DIR (default /tmp/coder-relay-pg) and PG_TEST_PORT (default 55432) choose where.
set -euo pipefail

DIR=${PG_TEST_DIR:-/tmp/coder-relay-pg}
PORT=${PG_TEST_PORT:-55432}
DB=relay_test
URL="postgres://postgres@127.0.0.1:$PORT/$DB"

say() { echo "pg-test-cluster: $*" >&2; }

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$d" ] && command -v pg_config >/dev/null; then d=$(pg_config --bindir); fi
  echo "$d"
}

# Runs a server binary as the `postgres` user when we are root (the server refuses root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install() {
  [ -n "$(bindir)" ] && [ -x "$(bindir)/initdb" ] && return 0
  [ "$(id -u)" = 0 ] || { say "postgresql is not installed; install it (apt-get install postgresql)"; exit 1; }
  say "installing postgresql from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
}

start() {
  install
  local bin
  bin=$(bindir)
  if [ -f "$DIR/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    say "already running in $DIR on port $PORT"
  else
    rm -rf "$DIR"
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
    as_pg "$bin/initdb" -D "$DIR/data" -U postgres --auth=trust --no-sync -E UTF8 >"$DIR/initdb.log" 2>&1 ||
      { cat "$DIR/initdb.log" >&2; exit 1; }
    # max_connections: three relay replicas plus tests and the bench, each with a small pool.
    as_pg "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null ||
      { cat "$DIR/server.log" >&2; exit 1; }
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
    say "started in $DIR on 127.0.0.1:$PORT"
  fi
  echo "export RELAY_TEST_POSTGRES_URL=$URL"
}

stop() {
  local bin
  bin=$(bindir)
  if [ -n "$bin" ] && [ -f "$DIR/data/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true
    say "stopped"
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 64
  ;;
esac

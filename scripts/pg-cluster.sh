#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests, owned by the test run: initdb + pg_ctl under a
# directory the caller names (under target/), a unix socket in DIR/sock and 127.0.0.1 on a free
# port. Never a system-wide service.
#
#   scripts/pg-cluster.sh start DIR   prints `PGHOST=DIR/sock PGPORT=N` (idempotent: a running
#                                      cluster in DIR is reused)
#   scripts/pg-cluster.sh stop DIR
#
# The superuser is `postgres` (trust on the socket); role `synapse` (password `synapse`, over
# 127.0.0.1 with scram-sha-256) owns database `synapse`, created as Synapse requires it
# (UTF8, C collation, template0). As root, the server runs as the `postgres` system user
# (initdb refuses root).
set -euo pipefail

cmd="${1:-}"; dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

bindir=""
if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
  bindir="$(pg_config --bindir)"
else
  bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
fi
[ -x "$bindir/initdb" ] || { echo "pg-cluster: no PostgreSQL server binaries (run scripts/setup.sh)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

data="$dir/data"; sock="$dir/sock"
running() { [ -f "$data/postmaster.pid" ] && as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; }

case "$cmd" in
  start)
    if ! running; then
      if [ ! -f "$data/PG_VERSION" ]; then
        rm -rf "$data"
        mkdir -p "$data" "$sock"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$dir" "$data" "$sock"
        chmod 700 "$data"
        pwfile="$dir/.pw"; printf 'postgres\n' > "$pwfile"
        [ "$(id -u)" -eq 0 ] && chown postgres: "$pwfile"
        as_pg "$bindir/initdb" -D "$data" -U postgres --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
          --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
        rm -f "$pwfile"
      fi
      port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
      echo "$port" > "$dir/port"
      [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/port"
      as_pg "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
        -o "-k $sock -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB" \
        start >/dev/null || { tail -n 30 "$dir/server.log" >&2; exit 1; }
      if ! as_pg "$bindir/psql" -h "$sock" -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname='synapse'" | grep -q 1; then
        as_pg "$bindir/psql" -q -h "$sock" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
          -c "CREATE ROLE synapse LOGIN PASSWORD 'synapse'" \
          -c "CREATE DATABASE synapse OWNER synapse ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE template0" >/dev/null
      fi
    fi
    echo "PGHOST=$sock PGPORT=$(cat "$dir/port")"
    ;;
  stop)
    if running; then as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null; fi
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

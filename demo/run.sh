#!/usr/bin/env bash
# demo/run.sh - THE demo command: build + install durable, start a throwaway
# PostgreSQL 15 cluster with durable preloaded, run demo/demo.sql in it, then
# stop the cluster and delete it (also on failure).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}"
export LANG=C.UTF-8 LC_ALL=C.UTF-8   # same UTF8 cluster on every machine

. "$ROOT/test/lib.sh"

TMP="$(mktemp -d /tmp/durable-demo.XXXXXX)"
PGDATA="$TMP/data"
STARTED=0
BINDIR="$("$PG_CONFIG" --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)"
cleanup() {
    local rc=$?
    cd /
    if [ "$STARTED" = 1 ]; then
        if [ "$rc" -ne 0 ] && [ -f "$TMP/server.log" ]; then
            echo "---- tail of the demo server log ----" >&2
            as_pg tail -n 40 "$TMP/server.log" >&2
        fi
        as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    as_root rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Build output is noise for a demo; show it only if the build fails.
echo "== installing packages (if missing), building and installing durable"
bash "$ROOT/test/setup.sh" >"$TMP/setup.log" 2>&1 || {
    cat "$TMP/setup.log" >&2
    echo "demo: setup/build failed" >&2
    exit 1
}
BINDIR="$("$PG_CONFIG" --bindir)"   # now surely installed
as_root chown postgres: "$TMP"

# Pick a free port: nothing answering there over TCP or the usual socket dirs
# (pg_isready exit code 2 = no response).  The server itself only listens on
# a socket in $TMP, so this merely avoids confusing clashes.
port_free() {
    local h
    if command -v ss >/dev/null 2>&1 && [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; then
        return 1
    fi
    local rc
    for h in 127.0.0.1 /var/run/postgresql /tmp; do
        rc=0
        "$BINDIR/pg_isready" -q -t 1 -h "$h" -p "$1" >/dev/null 2>&1 || rc=$?
        [ "$rc" -eq 2 ] || return 1
    done
}
PORT=""
for p in $(seq 55432 55531); do
    if port_free "$p"; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "demo: no free port in 55432-55531" >&2; exit 1; }

echo "== creating a scratch cluster in $PGDATA (port $PORT)"
as_pg "$BINDIR/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 \
    --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log" >&2; exit 1; }
{
    echo "# added by demo/run.sh"
    echo "shared_preload_libraries = 'durable'"
    echo "port = $PORT"
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$TMP'"
    if [ -f "$ROOT/demo/demo.conf" ]; then
        echo "# durable.* settings from demo/demo.conf"
        grep -E '^[[:space:]]*durable\.' "$ROOT/demo/demo.conf" || true
    fi
} | as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null

STARTED=1
as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -l "$TMP/server.log" -w -t 60 start >/dev/null

# Copy the script so postgres can read it wherever the repo lives.
as_root install -m 644 -o postgres "$ROOT/demo/demo.sql" "$TMP/demo.sql"
echo "== running demo/demo.sql"
echo
as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -P pager=off -P format=aligned \
    -h "$TMP" -p "$PORT" -U postgres -d postgres -f "$TMP/demo.sql"
echo
echo "== demo finished; removing the scratch cluster"

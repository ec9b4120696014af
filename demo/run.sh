#!/usr/bin/env bash
# demo/run.sh - THE demo command: build + install durable, start a throwaway
# PostgreSQL 15 cluster with durable preloaded and the mock HTTP server
# (test/mock/mock_http.py, the LLM and the mailer), run the ticket triage of
# examples/ticket_triage.sql through the background workers (demo/demo.sql),
# answer its agent review the way a ticketing system would (another client),
# show the outcome (demo/resolved.sql), then stop everything and delete the
# cluster (also on failure).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}"
export LANG=C.UTF-8 LC_ALL=C.UTF-8   # same UTF8 cluster on every machine

. "$ROOT/test/lib.sh"

TMP="$(mktemp -d /tmp/durable-demo.XXXXXX)"
PGDATA="$TMP/data"
STARTED=0
MOCK_PID=""
MOCK="$(mktemp -d /tmp/durable-demo-mock.XXXXXX)"   # the mock's files: ours, not postgres's
BINDIR="$("$PG_CONFIG" --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)"
cleanup() {
    local rc=$?
    cd /
    if [ -n "$MOCK_PID" ]; then
        kill "$MOCK_PID" 2>/dev/null || true
        wait "$MOCK_PID" 2>/dev/null || true
    fi
    if [ "$STARTED" = 1 ]; then
        if [ "$rc" -ne 0 ] && [ -f "$TMP/server.log" ]; then
            echo "---- tail of the demo server log ----" >&2
            as_pg tail -n 40 "$TMP/server.log" >&2
        fi
        as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    as_root rm -rf "$TMP"
    rm -rf "$MOCK"
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
FIRST_PORT="${DEMO_PORT:-55432}"   # DEMO_PORT: the first port to try
for p in $(seq "$FIRST_PORT" $((FIRST_PORT + 99))); do
    if port_free "$p"; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "demo: no free port in $FIRST_PORT-$((FIRST_PORT + 99))" >&2; exit 1; }

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

echo "== starting the mock HTTP server (an OpenAI-style LLM and a mailer) on 127.0.0.1"
python3 "$ROOT/test/mock/mock_http.py" --port 0 --port-file "$MOCK/port" \
    --log "$MOCK/requests.log" >"$MOCK/output" 2>&1 &
MOCK_PID=$!
for _ in $(seq 300); do
    [ -s "$MOCK/port" ] && break
    kill -0 "$MOCK_PID" 2>/dev/null || break
    sleep 0.1
done
[ -s "$MOCK/port" ] || { cat "$MOCK/output" >&2; echo "demo: the mock did not start" >&2; exit 1; }
MOCK_URL="http://127.0.0.1:$(cat "$MOCK/port")"

# Copy the scripts so postgres can read them wherever the repo lives.
for f in demo/demo.sql demo/resolved.sql examples/ticket_triage.sql; do
    as_root install -m 644 -o postgres "$ROOT/$f" "$TMP/$(basename "$f")"
done
demo_psql() {
    as_pg "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -P pager=off -P format=aligned \
        -h "$TMP" -p "$PORT" -U postgres -d postgres "$@"
}

echo "== running demo/demo.sql"
echo
demo_psql -v mock="$MOCK_URL" -f "$TMP/demo.sql"

echo
echo "### 5. The agent answers in the ticketing system, another client: it"
echo "    completes the callback whose id is on the ticket."
AGENT_SQL="SELECT durable_callback_success(review_callback_id,
         '{\"agent\": \"ana\", \"approved\": true, \"reply\": \"We refunded the duplicate charge.\"}')
  FROM triage.tickets WHERE id = 'TKT-1001';"
echo "$AGENT_SQL" | sed 's/^/    /'
demo_psql -c "$AGENT_SQL" >/dev/null
echo
demo_psql -f "$TMP/resolved.sql"

echo
echo "### 9. What the mock server received (time, peer, method, target, status, bytes):"
sed 's/^/    /' "$MOCK/requests.log"
echo
echo "== demo finished; stopping the mock and removing the scratch cluster"

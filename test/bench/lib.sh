# shellcheck shell=bash
# test/bench/lib.sh - the scratch cluster of test/bench/{throughput,latency,timers}.
# Source it; it defines functions and the variables they share.
#
#   BENCH=name; . "$ROOT/test/bench/lib.sh"
#   bench_build                          build + install (test/setup.sh)
#   bench_cluster <<'CONF' ... CONF      initdb, append CONF (stdin), start
#   bench_psql [psql args]               psql as postgres on the cluster
#   bench_header "title"                 machine, server and settings
#   bench_log_check                      the server log's complaints
#
# Like test/bench/replay: the cluster lives in a temp dir, listens only on a
# socket there, runs as the postgres OS user with fsync and
# synchronous_commit on, and is always stopped and removed on exit (a trap),
# also on failure or ^C, after showing the end of its log on failure.
#
# Environment:
#   PG_CONFIG      the PostgreSQL to build for and run (default: the system's)
#   BENCH_PORTS    "first-last": where to look for a free port
#                  (default 55632-55731, as test/bench/replay)
#   BENCH_PROFILE  1: also preload pg_stat_statements (track = all) and print
#                  the worker statements that took the most time at the end
#   BENCH_CONF     more postgresql.conf lines, added last (experiments, e.g.
#                  BENCH_CONF='synchronous_commit = off'); the header shows
#                  the settings in force

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}"
# Same UTF8 cluster and the same number formatting ("." decimals) everywhere.
export LANG=C.UTF-8 LC_ALL=C.UTF-8

# as_pg, as_root
# shellcheck source=test/lib.sh
. "$ROOT/test/lib.sh"

TMP="$(mktemp -d /tmp/durable-bench.XXXXXX)"
PGDATA="$TMP/data"
STARTED=0
BINDIR="$("$PG_CONFIG" --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)"
PORT=""
PSQL=()

bench_cleanup() {
    local rc=$?
    cd /
    # stop any background job of the script (concurrent clients)
    local j
    for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done
    if [ "$STARTED" = 1 ]; then
        if [ "$rc" -ne 0 ] && [ -f "$TMP/server.log" ]; then
            echo "---- tail of the bench server log ----" >&2
            as_pg tail -n 40 "$TMP/server.log" >&2 || true
        fi
        # After a failure stop at once (see test/bench/replay: a fast
        # shutdown during crash recovery can wait a minute).
        local stopped=0
        if [ "$rc" -eq 0 ]; then
            as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null 2>&1 && stopped=1
        fi
        if [ "$stopped" = 0 ]; then
            as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
        fi
    fi
    as_root rm -rf "$TMP"
    exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

bench_fail() {
    echo "$BENCH: FAILED: $*" >&2
    exit 1
}

bench_build() {
    echo "== building and installing durable (test/setup.sh)" >&2
    bash "$ROOT/test/setup.sh" >"$TMP/setup.log" 2>&1 || {
        cat "$TMP/setup.log" >&2
        bench_fail "setup/build failed"
    }
    BINDIR="$("$PG_CONFIG" --bindir)"
    as_root chown postgres: "$TMP"
}

# A port nobody answers on (pg_isready exit code 2 = no response).
bench_port_free() {
    local h rc
    if command -v ss >/dev/null 2>&1 && [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; then
        return 1
    fi
    for h in 127.0.0.1 /var/run/postgresql /tmp; do
        rc=0
        "$BINDIR/pg_isready" -q -t 1 -h "$h" -p "$1" >/dev/null 2>&1 || rc=$?
        [ "$rc" -eq 2 ] || return 1
    done
}

# bench_cluster: creates and starts the cluster; postgresql.conf lines to add
# come on stdin.
bench_cluster() {
    local range="${BENCH_PORTS:-55632-55731}" first last p extra
    [[ "$range" =~ ^([0-9]{4,5})-([0-9]{4,5})$ ]] || bench_fail "BENCH_PORTS '$range' is not first-last"
    first=${BASH_REMATCH[1]}; last=${BASH_REMATCH[2]}
    for p in $(seq "$first" "$last"); do
        if bench_port_free "$p"; then PORT=$p; break; fi
    done
    [ -n "$PORT" ] || bench_fail "no free port in $range"

    echo "== creating a scratch cluster in $PGDATA (port $PORT)" >&2
    as_pg "$BINDIR/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log" >&2; exit 1; }
    extra="$(cat)"
    {
        echo "# added by test/bench/$BENCH"
        if [ "${BENCH_PROFILE:-0}" = 1 ]; then
            echo "shared_preload_libraries = 'durable,pg_stat_statements'"
            echo "pg_stat_statements.track = all"
            echo "pg_stat_statements.max = 1000"
        else
            echo "shared_preload_libraries = 'durable'"
        fi
        echo "port = $PORT"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$TMP'"
        echo "max_connections = 50"
        # fsync and synchronous_commit stay on: commits cost what they cost
        # on this disk, in the durable figures and the floors alike.
        echo "synchronous_commit = on"
        echo "$extra"
        if [ -n "${BENCH_CONF:-}" ]; then
            echo "# BENCH_CONF"
            echo "$BENCH_CONF"
        fi
    } | as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null

    STARTED=1
    as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -l "$TMP/server.log" -w -t 60 start >/dev/null
    PSQL=("$BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -P pager=off
          -h "$TMP" -p "$PORT" -U postgres -d postgres)
    if [ "${BENCH_PROFILE:-0}" = 1 ]; then
        bench_psql -c "CREATE EXTENSION pg_stat_statements" >/dev/null
    fi
}

bench_psql() {
    as_pg "${PSQL[@]}" "$@"
}

# pgbench on the cluster; arguments as for pgbench
bench_pgbench() {
    as_pg "$BINDIR/pgbench" -h "$TMP" -p "$PORT" -U postgres "$@" postgres
}

bench_header() {
    local settings
    settings="$(bench_psql -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name)
        FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method',
        'durable.synchronous_commit', 'durable.max_workers', 'shared_preload_libraries')")"
    echo
    echo "$1"
    echo "  nproc:      $(nproc)   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "  postgres:   $(bench_psql -c 'SELECT version()')"
    echo "  cluster on: $(df -PT "$TMP" 2>/dev/null | awk 'NR == 2 { print $2 }') ($TMP)"
    echo "  settings:   $settings"
    if [ -n "${BENCH_CONF:-}" ]; then
        echo "  BENCH_CONF: $(echo "$BENCH_CONF" | tr '\n' ';')"
    fi
    echo
}

# The statements (worker SQL included: track = all) that took the most time;
# blks: shared buffers a call touched, a cost the load of a shared machine
# does not blur as it does the times.
bench_profile_report() {
    [ "${BENCH_PROFILE:-0}" = 1 ] || return 0
    echo
    echo "pg_stat_statements, top 15 by total time (BENCH_PROFILE=1):"
    bench_psql -P format=aligned -P tuples_only=off -c "
        SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
               round(mean_exec_time::numeric * 1000, 1) AS mean_us,
               round((shared_blks_hit + shared_blks_read)::numeric / calls, 1) AS blks,
               wal_records AS wal_rec, left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query
          FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15" | sed 's/^/  /'
}

# Anything the server complained about: these workloads should log no
# WARNING, error or crash.
bench_log_check() {
    local pat='(WARNING|ERROR|FATAL|PANIC):|terminated by signal' n
    echo
    n="$(as_pg grep -cE "$pat" "$TMP/server.log" || true)"
    if [ "${n:-0}" -gt 0 ]; then
        echo "server log: $n WARNING/ERROR/FATAL/PANIC/crash line(s):"
        as_pg grep -E -A1 "$pat" "$TMP/server.log" | head -n 40 | sed 's/^/  /'
        return 1
    fi
    echo "server log: no WARNING/ERROR/FATAL/PANIC/crash lines"
}

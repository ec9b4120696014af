#!/usr/bin/env bash
# test/check.sh - THE test command: build + install the extension, run the
# pg_regress suite (sql/*.sql vs expected/*.out) and, if any, the TAP tests
# (test/t/*.pl), scan the server log for unexpected warnings/crashes, and end
# with a single "N passed, N failed" line.  Exit status 0 only if all passed.
#
# Env knobs: PG_CONFIG, REGRESS_TIMEOUT / TAP_TIMEOUT (seconds per phase),
# KEEP_TMPDIR=1 (keep the scratch copy for inspection), and for a quick run
# of a part while developing: ONLY_REGRESS="http secrets" (those pg_regress
# tests, "none" for none) and ONLY_TAP="test/t/011_http.pl" (those TAP
# files, "none" for none).  CI sets neither and runs everything.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}"
REGRESS_TIMEOUT="${REGRESS_TIMEOUT:-600}"
TAP_TIMEOUT="${TAP_TIMEOUT:-1800}"
# Deterministic UTF8 cluster encoding and C-like sorting on every machine
# (a fresh Debian container has no LANG; C.UTF-8 always exists in glibc).
export LANG=C.UTF-8 LC_ALL=C.UTF-8

passed=0
failed=0
WORK=""   # scratch dir, owned by the invoking user (our own output files)
TREE=""   # $WORK/tree: the postgres-owned copy of the repo the tests run in

. "$ROOT/test/lib.sh"

MOCK_PID=""   # the mock HTTP server of the pg_regress phase

# Stop the mock HTTP server and any server a killed/timed-out test left
# behind, then drop the copy.
cleanup() {
    if [ -n "$MOCK_PID" ]; then
        kill "$MOCK_PID" 2>/dev/null || true
        wait "$MOCK_PID" 2>/dev/null || true
        MOCK_PID=""
    fi
    [ -n "$WORK" ] && [ -d "$WORK" ] || return 0
    cd /   # we may be inside $TREE
    local pid datadir
    while IFS= read -r pid; do
        datadir="$(dirname "$pid")"
        as_pg "$("$PG_CONFIG" --bindir)/pg_ctl" -D "$datadir" \
            -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    done < <(as_pg find "$WORK" -name postmaster.pid 2>/dev/null)
    if [ "${KEEP_TMPDIR:-0}" = 1 ]; then
        echo "check.sh: scratch copy kept in $WORK"
    else
        as_root rm -rf "$WORK"
    fi
    WORK=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {  # finish <exit-code>: clean up first so the summary is the last line
    cleanup
    echo "$passed passed, $failed failed"
    exit "$1"
}

section() { printf '\n===== %s =====\n' "$*"; }

# ---------------------------------------------------------- the layers ---
# The shape of src/ (src/README.md): no file uses a layer above its own,
# no two files use each other, single-file functions are static.
section "layers of src/"
if perl "$ROOT/test/layers.pl" "$ROOT/src"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
fi

# ---------------------------------------------------------------- build ---
section "setup: packages, build, install"
if ! bash "$ROOT/test/setup.sh"; then
    echo "check.sh: setup/build failed" >&2
    failed=$((failed + 1))
    finish 1
fi

# ----------------------------------------------------- scratch copy -------
# pg_regress writes results/ and a temporary instance into the source tree,
# and initdb refuses root: run from a postgres-owned copy (without .git and
# without leftovers of earlier local runs).
WORK="$(mktemp -d /tmp/durable-check.XXXXXX)"
chmod 755 "$WORK"   # mktemp makes it 0700; postgres must reach $TREE
TREE="$WORK/tree"
mkdir "$TREE"
tar -C "$ROOT" -cf - \
    --exclude=./.git --exclude=./results --exclude=./tmp_check \
    --exclude=./tmp_check_regress --exclude=./log \
    --exclude=./regression.diffs --exclude=./regression.out . \
    | tar -C "$TREE" -xf -
# Private TMPDIR for pg_regress/TAP socket dirs: whatever a failed or killed
# run leaves there goes away with $WORK.
mkdir "$WORK/tmp"
as_root chown -R postgres: "$TREE" "$WORK/tmp"
cd "$TREE"
echo "test tree: $TREE"

# --------------------------------------------------- mock HTTP server -----
# test/mock/mock_http.py on a free port of 127.0.0.1, for the pg_regress
# tests of durable_http: they find its URL in the custom setting mock.url
# (current_setting('mock.url')), which an extra --temp-config sets for the
# temporary instance (PG15's pg_regress appends every --temp-config given).
# The URL contains the port: expected outputs must never show it.  The TAP
# tests start their own mocks (test/perl/DurableMock.pm).
start_mock() {
    local deadline=$((SECONDS + 30)) port
    python3 "$TREE/test/mock/mock_http.py" --port 0 \
        --port-file "$WORK/mock.port" --log "$WORK/mock.log" \
        >"$WORK/mock.out" 2>&1 &
    MOCK_PID=$!
    until [ -s "$WORK/mock.port" ]; do
        if ! kill -0 "$MOCK_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            echo "check.sh: the mock HTTP server did not start:" >&2
            cat "$WORK/mock.out" >&2
            return 1
        fi
        sleep 0.1
    done
    port="$(cat "$WORK/mock.port")"
    MOCK_URL="http://127.0.0.1:$port"
    printf "# added by test/check.sh: the mock HTTP server\nmock.url = '%s'\n" \
        "$MOCK_URL" >"$WORK/mock.conf"
    chmod 644 "$WORK/mock.conf"
    echo "mock HTTP server: $MOCK_URL (pid $MOCK_PID, log $WORK/mock.log)"
}

# -------------------------------------------------------- pg_regress ------
regress_tests=$(find sql -maxdepth 1 -name '*.sql' ! -name 'durable--*' | wc -l)
regress_only=()
if [ -n "${ONLY_REGRESS:-}" ]; then
    if [ "$ONLY_REGRESS" = none ]; then regress_tests=0; else
        regress_only=("REGRESS=$ONLY_REGRESS"); fi
fi
regress_rc=0
if [ "$regress_tests" -gt 0 ]; then
    section "pg_regress ($regress_tests tests)"
    if ! start_mock; then
        failed=$((failed + 1))
        finish 1
    fi
    # TAP_TESTS= : run only pg_regress here; TAP gets its own phase below.
    # timeout signals the whole process group (make, pg_regress, postmaster).
    set +e
    as_pg env TMPDIR="$WORK/tmp" timeout -k 30 "$REGRESS_TIMEOUT" \
        make installcheck PG_CONFIG="$PG_CONFIG" TAP_TESTS= "${regress_only[@]}" \
        EXTRA_REGRESS_OPTS="--temp-config=$WORK/mock.conf" 2>&1 \
        | tee "$WORK/regress-output.txt"
    regress_rc=${PIPESTATUS[0]}
    set -e
    # the mock is for this phase only
    kill "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
    MOCK_PID=""
    [ "$regress_rc" -eq 124 ] && echo "check.sh: pg_regress timed out after ${REGRESS_TIMEOUT}s" >&2

    # Count per-test result lines.  PG <= 15 prints
    #   "test foo    ... ok   12 ms" / "     foo ... FAILED" (parallel groups)
    # PG >= 16 prints TAP-ish "ok 1 - foo  12 ms" / "not ok 1 - foo".
    r_pass=$(grep -cE '^(test +| +)?[^ ]+ +\.\.\. ok( |$)|^ok [0-9]+ +[-+] ' \
             "$WORK/regress-output.txt" || true)
    r_fail=$(grep -cE '^(test +| +)?[^ ]+ +\.\.\. (FAILED|failed \(ignored\))|^not ok [0-9]+ ' \
             "$WORK/regress-output.txt" || true)
    passed=$((passed + r_pass))
    failed=$((failed + r_fail))
    # A non-zero exit without a failed test means the harness itself broke
    # (initdb/postmaster start failure, timeout, ...): count that as a failure.
    if [ "$regress_rc" -ne 0 ] && [ "$r_fail" -eq 0 ]; then
        failed=$((failed + 1))
    fi
else
    echo "check.sh: no sql/*.sql regression tests found"
fi

# The regress server's log.  PG15's pg_regress keeps logs in <outputdir>/log
# and deletes the temporary instance (tmp_check_regress) on success; newer
# versions may log under the instance dir.  Take whichever exists.
REGRESS_LOG=""
for f in "$TREE/log/postmaster.log" "$TREE/tmp_check_regress/log/postmaster.log"; do
    if [ -f "$f" ]; then REGRESS_LOG="$f"; break; fi
done

# ------------------------------------------------ server log scan ---------
scan_rc=0
if [ "$regress_tests" -gt 0 ]; then
    section "server log scan"
    if [ -z "$REGRESS_LOG" ]; then
        echo "check.sh: regress server log not found" >&2
        scan_rc=1
    else
        echo "scanning $REGRESS_LOG"
        # Tests mark deliberate warnings with "(expected warning)" in the text.
        bad="$( { grep -E 'WARNING:' "$REGRESS_LOG" | grep -vF '(expected warning)' || true
                  grep -E 'PANIC|server process .* was terminated by signal|TRAP:' \
                      "$REGRESS_LOG" || true; } | sort -u )"
        if [ -n "$bad" ]; then
            echo "check.sh: unexpected warnings/crashes in the server log:" >&2
            printf '%s\n' "$bad" | head -n 50 >&2
            scan_rc=1
        else
            echo "no unexpected WARNING/PANIC/TRAP/crash lines"
        fi
    fi
    [ "$scan_rc" -eq 0 ] || failed=$((failed + 1))
fi

# -------------------------------------------------------------- TAP -------
tap_rc=0
tap_only=()
[ -n "${ONLY_TAP:-}" ] && tap_only=("PROVE_TESTS=$ONLY_TAP")
if compgen -G "test/t/*.pl" >/dev/null && [ "${ONLY_TAP:-}" != none ]; then
    section "TAP tests (prove)"
    # PGXS has no separate prove target: `make installcheck` runs prove when
    # TAP_TESTS is set; REGRESS= skips the pg_regress part we already ran.
    # PERL5LIB: the Makefile's PROVE_FLAGS (-I test/perl) is reset to empty by
    # PGXS's Makefile.global, which is included after it; make helper modules
    # in test/perl visible anyway.
    set +e
    as_pg env TMPDIR="$WORK/tmp" PERL5LIB="$TREE/test/perl${PERL5LIB:+:$PERL5LIB}" \
        timeout -k 30 "$TAP_TIMEOUT" \
        make installcheck PG_CONFIG="$PG_CONFIG" REGRESS= "${tap_only[@]}" 2>&1 \
        | tee "$WORK/tap-output.txt"
    tap_rc=${PIPESTATUS[0]}
    set -e
    [ "$tap_rc" -eq 124 ] && echo "check.sh: TAP tests timed out after ${TAP_TIMEOUT}s" >&2

    # prove's summary: "Files=2, Tests=17, ..." and, for failing files,
    #   "t/x.pl (Wstat: 256 (exited 1) Tests: 5 Failed: 2)".
    # A file that failed without a failed subtest (died, bad plan) counts 1.
    t_total=$(sed -nE 's/^Files=[0-9]+, Tests=([0-9]+),.*/\1/p' "$WORK/tap-output.txt" | tail -n 1)
    t_fail_sub=0
    t_fail=0
    while IFS= read -r n; do
        t_fail_sub=$((t_fail_sub + n))
        if [ "$n" -eq 0 ]; then t_fail=$((t_fail + 1)); else t_fail=$((t_fail + n)); fi
    done < <(sed -nE 's/^.* \(Wstat: .* Tests: [0-9]+ Failed: ([0-9]+)\)$/\1/p' "$WORK/tap-output.txt")
    if [ -n "$t_total" ]; then
        passed=$((passed + t_total - t_fail_sub))
    fi
    if [ "$tap_rc" -ne 0 ] && [ "$t_fail" -eq 0 ]; then
        t_fail=1   # prove crashed or timed out before its summary
    fi
    failed=$((failed + t_fail))
fi

# ------------------------------------------------------ diagnostics -------
if [ "$failed" -gt 0 ] || [ "$regress_rc" -ne 0 ] || [ "$tap_rc" -ne 0 ]; then
    if [ -s "$TREE/regression.diffs" ]; then
        section "regression.diffs"
        cat "$TREE/regression.diffs"
    fi
    if [ -n "$REGRESS_LOG" ]; then
        section "tail of $REGRESS_LOG"
        tail -n 80 "$REGRESS_LOG"
    fi
    if [ -s "$WORK/mock.out" ]; then
        section "mock HTTP server output"
        tail -n 40 "$WORK/mock.out"
    fi
    for f in "$TREE"/log/initdb.log "$TREE"/tmp_check/log/*; do
        [ -f "$f" ] || continue
        section "tail of $f"
        tail -n 60 "$f"
    done
    [ "$failed" -gt 0 ] || failed=1
fi

if [ $((passed + failed)) -eq 0 ]; then
    echo "check.sh: no tests were found/run" >&2
    failed=1
fi

if [ "$failed" -eq 0 ]; then finish 0; else finish 1; fi

#!/usr/bin/env bash
# test/setup.sh - install the build/test dependencies and build + install the
# durable extension.  Used by test/check.sh and demo/run.sh; safe to re-run.
#
#   bash test/setup.sh            (PG_CONFIG may be overridden from the env)
#
# Everything runs in a subshell so that, if this file is sourced instead of
# executed, it neither changes the caller's directory nor exits the caller
# (a failure makes the subshell, and hence the `source`, return non-zero).
set -euo pipefail

durable_setup() (
    set -euo pipefail

    local root pg_config sudo missing p
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    # Pin the server version: a machine may have several pg_configs on PATH.
    pg_config="${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}"

    # apt-get and `make install` need root; use sudo when we are not root.
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "setup.sh: not root and sudo is not available" >&2
            return 1
        }
        sudo="sudo"
    fi

    # --- 1. system packages (skipped when all are present: fast re-runs) ---
    local packages=(
        postgresql-15 postgresql-server-dev-15 postgresql-client-15
        libcurl4-openssl-dev libssl-dev libipc-run-perl make gcc curl postgresql-15-cron
        python3 python3-psycopg2 prometheus-postgres-exporter
    )
    missing=()
    for p in "${packages[@]}"; do
        if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" \
             != "install ok installed" ]; then
            missing+=("$p")
        fi
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "setup.sh: installing ${missing[*]}"
        # Fresh CI machines have empty apt lists; noninteractive because CI
        # has no stdin for debconf prompts.
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
        $sudo env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q "${packages[@]}"
    fi

    # --- 2. build and install the extension from the repo root ---
    cd "$root"
    make -j2 PG_CONFIG="$pg_config"
    $sudo make install PG_CONFIG="$pg_config"
)

durable_setup "$@"

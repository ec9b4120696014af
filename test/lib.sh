# test/lib.sh - helpers shared by test/check.sh, demo/run.sh and test/bench/*.
# Source it; it defines functions only.

# Run a command as the postgres OS user: initdb/postgres refuse to run as root.
as_pg() {
    if [ "$(id -un)" = postgres ]; then
        "$@"
    elif [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        sudo -u postgres -- "$@"
    fi
}

# Root-only steps (chown, rm of postgres-owned files) when we are not root.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -- "$@"; fi
}

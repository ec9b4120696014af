#!/usr/bin/env bash
# examples/llm_worker.sh: the external LLM worker of examples/usage_report.sql.
#
# Takes jobs from usage_report.llm_jobs (FOR UPDATE SKIP LOCKED, so several
# workers can run side by side), POSTs each job's request to its LLM URL,
# and completes the job's durable callback with the LLM's answer
# (durable_callback_success), or with the error (durable_callback_failure)
# once the job is out of attempts.  429, 5xx and connection errors are
# retried (after Retry-After when the server sends one).
#
#   LLM_API_KEY=sk-... bash examples/llm_worker.sh [-d CONNINFO] [-n MAX_JOBS] [-i IDLE_EXIT]
#
#   -d CONNINFO   where the database is (default: the PG* environment)
#   -n MAX_JOBS   stop after settling this many jobs (default: no limit)
#   -i SECONDS    stop when no job was ready for this long (default: never)
#   -a ATTEMPTS   attempts per job (default 3)
#
# Needs bash, curl and psql.  A claimed job is leased for LEASE seconds
# (default 300): if this worker dies, another worker takes it again then.
set -euo pipefail

CONNINFO=""
MAX_JOBS=0
IDLE_EXIT=0
ATTEMPTS=3
LEASE="${LEASE:-300}"
POLL="${POLL:-0.5}"
PSQL="${PSQL:-psql}"

while getopts "d:n:i:a:" opt; do
    case "$opt" in
        d) CONNINFO="$OPTARG" ;;
        n) MAX_JOBS="$OPTARG" ;;
        i) IDLE_EXIT="$OPTARG" ;;
        a) ATTEMPTS="$OPTARG" ;;
        *) sed -n '2,20p' "$0" >&2; exit 2 ;;
    esac
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

log() { echo "llm_worker: $*" >&2; }

# psql reading SQL from stdin; -v name=value pairs are quoted safely in
# the SQL as :'name'.
sql() { "$PSQL" -X -q -At -v ON_ERROR_STOP=1 ${CONNINFO:+-d "$CONNINFO"} "$@"; }

# Take one ready job: a queued one whose time has come, or a running one
# whose lease has run out.  Prints "id<TAB>attempt<TAB>url<TAB>request".
claim() {
    sql -F $'\t' -v lease="$LEASE" <<'SQL'
UPDATE usage_report.llm_jobs j
   SET status = 'running', attempts = attempts + 1,
       available_at = now() + make_interval(secs => :'lease')
 WHERE id = (SELECT id FROM usage_report.llm_jobs
              WHERE status IN ('queued', 'running') AND available_at <= now()
              ORDER BY available_at, id
              LIMIT 1
                FOR UPDATE SKIP LOCKED)
RETURNING id, attempts, url, request::text;
SQL
}

# The job succeeded: complete its callback with the LLM's answer (JSON).
succeed() {  # id response-file
    sql -v id="$1" -v file="$2" >/dev/null <<'SQL'
\set response `cat :'file'`
BEGIN;
SELECT durable_callback_success(callback_id, :'response'::jsonb)
  FROM usage_report.llm_jobs WHERE id = :'id';
UPDATE usage_report.llm_jobs SET status = 'done', finished_at = now(), last_error = NULL
 WHERE id = :'id';
COMMIT;
SQL
}

# Try again later.
requeue() {  # id delay-seconds error
    sql -v id="$1" -v delay="$2" -v error="$3" <<'SQL'
UPDATE usage_report.llm_jobs
   SET status = 'queued', available_at = now() + make_interval(secs => :'delay'), last_error = :'error'
 WHERE id = :'id';
SQL
}

# Out of attempts, or not retryable: the workflow sees the error (WF002).
fail() {  # id error
    if ! sql -v id="$1" -v error="$2" >/dev/null 2>&1 <<'SQL'
BEGIN;
SELECT durable_callback_failure(callback_id, jsonb_build_object('message', :'error'))
  FROM usage_report.llm_jobs WHERE id = :'id';
UPDATE usage_report.llm_jobs SET status = 'failed', finished_at = now(), last_error = :'error'
 WHERE id = :'id';
COMMIT;
SQL
    then
        # the callback is no longer pending (completed by another worker
        # after this one's lease ran out, timed out, its execution stopped)
        sql -v id="$1" -v error="$2" <<'SQL'
UPDATE usage_report.llm_jobs SET status = 'failed', finished_at = now(), last_error = :'error'
 WHERE id = :'id' AND status = 'running';
SQL
    fi
}

# Call the LLM for one job and settle it; returns 1 when the job was put
# back for another attempt.
run_job() {  # id attempt url request
    local id="$1" attempt="$2" url="$3" request="$4" code retry_after delay error
    printf '%s' "$request" >"$TMP/request.json"
    code="$(curl -sS -o "$TMP/response.json" -D "$TMP/headers.txt" -w '%{http_code}' \
                 --connect-timeout 10 --max-time 120 -X POST \
                 -H 'Content-Type: application/json' \
                 -H "Authorization: Bearer ${LLM_API_KEY:-}" \
                 -H "Idempotency-Key: llm-job-$id" \
                 --data-binary "@$TMP/request.json" "$url" 2>"$TMP/curl.err")" || code=000
    case "$code" in
        2??)
            if succeed "$id" "$TMP/response.json" 2>"$TMP/psql.err"; then
                log "job $id: done (HTTP $code)"
                return
            fi
            error="could not complete the callback: $(head -c 300 "$TMP/psql.err")"
            fail "$id" "$error"
            log "job $id: failed: $error"
            return ;;
        000) error="connection error: $(head -c 300 "$TMP/curl.err")" ;;
        *)   error="HTTP $code: $(head -c 300 "$TMP/response.json")" ;;
    esac
    if [[ "$code" =~ ^(000|429|5..)$ ]] && [ "$attempt" -lt "$ATTEMPTS" ]; then
        retry_after="$(sed -nE 's/^[Rr]etry-[Aa]fter:[[:space:]]*([0-9]+).*/\1/p' "$TMP/headers.txt" 2>/dev/null | tail -n 1 || true)"
        delay="${retry_after:-$((attempt * 2))}"
        requeue "$id" "$delay" "$error"
        log "job $id: attempt $attempt: $error; again in ${delay}s"
        return 1
    else
        fail "$id" "$error"
        log "job $id: failed: $error"
    fi
}

done_jobs=0
idle_since=$SECONDS
while [ "$MAX_JOBS" -eq 0 ] || [ "$done_jobs" -lt "$MAX_JOBS" ]; do
    job="$(claim)" || { log "cannot take a job; trying again"; sleep 1; continue; }
    if [ -z "$job" ]; then
        if [ "$IDLE_EXIT" -gt 0 ] && [ $((SECONDS - idle_since)) -ge "$IDLE_EXIT" ]; then
            break
        fi
        sleep "$POLL"
        continue
    fi
    IFS=$'\t' read -r id attempt url request <<<"$job"
    if run_job "$id" "$attempt" "$url" "$request"; then
        done_jobs=$((done_jobs + 1))
    fi
    idle_since=$SECONDS
done

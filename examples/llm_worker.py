#!/usr/bin/python3
"""examples/llm_worker.py: the external LLM worker of examples/usage_report.sql.

A worker of a durable task queue, with nothing but SQL: it claims tasks of
the queue "llm" (durable_task_claim, waiting up to 30 seconds for one, no
polling), POSTs each task's request to its LLM URL with the API key, and
completes the task with the LLM's answer (durable_task_complete).  A 429,
a 5xx or a connection error fails the attempt as retryable
(durable_task_fail): the task comes back after the backoff of its options,
to this worker or another, until its max_attempts.  Any other error fails
it for good.  While a request runs, a second connection renews the lease
every third of it (durable_task_heartbeat); a worker that dies loses its
lease, and the task goes to another worker when the lease ends.

    LLM_API_KEY=sk-... python3 examples/llm_worker.py [-d CONNINFO] [-q QUEUE]
                                                     [-n MAX_TASKS] [-i IDLE_EXIT]

Needs Python 3 and psycopg2 (Debian: python3-psycopg2).  The role it
connects as must be allowed to claim the queue: the owner of the reports,
or a role it granted with durable_task_queue_grant('llm', '<role>').
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

import psycopg2

LEASE_SECONDS = 60


def log(msg):
    print("llm_worker: " + msg, file=sys.stderr, flush=True)


def heartbeat(conninfo, task_id, stop):
    """Renews the lease of task_id every third of it until stop is set."""
    conn = psycopg2.connect(conninfo)
    conn.autocommit = True
    try:
        while not stop.wait(LEASE_SECONDS / 3):
            with conn.cursor() as cur:
                cur.execute("SELECT durable_task_heartbeat(%s)", (task_id,))
    except psycopg2.Error as e:
        log("heartbeat stopped: %s" % e.pgerror)
    finally:
        conn.close()


def call_llm(task_id, payload, attempt, key):
    """POSTs the request; returns (status, body as text, retryable)."""
    req = urllib.request.Request(
        payload["url"], data=json.dumps(payload["request"]).encode(), method="POST",
        headers={"Content-Type": "application/json",
                 "Authorization": "Bearer " + key,
                 # the same key for every attempt of the task
                 "Idempotency-Key": "llm-task-%s" % payload["taskKey"]})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, resp.read().decode(), False
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace"), e.code == 429 or e.code >= 500
    except (urllib.error.URLError, socket.timeout, ConnectionError) as e:
        return 0, str(e), True


def run(args):
    key = os.environ.get("LLM_API_KEY")
    if not key:
        sys.exit("llm_worker: set LLM_API_KEY")
    conn = psycopg2.connect(args.d)
    conn.autocommit = True      # each call its own transaction: a claim is seen at once
    worker = "llm_worker.py@%s:%d" % (socket.gethostname(), os.getpid())
    done = 0
    idle_since = time.monotonic()
    while args.n == 0 or done < args.n:
        with conn.cursor() as cur:
            cur.execute("SELECT task_id, payload, attempt FROM durable_task_claim(%s, %s, %s, 1, %s)",
                        (args.q, worker, "%d seconds" % LEASE_SECONDS, "30 seconds"))
            tasks = cur.fetchall()
        if not tasks:
            if args.i and time.monotonic() - idle_since >= args.i:
                log("no task for %d seconds: exiting" % args.i)
                return
            continue
        for task_id, payload, attempt in tasks:
            label = "task %s attempt %d" % (payload.get("style", "?"), attempt)
            stop = threading.Event()
            beat = threading.Thread(target=heartbeat, args=(args.d, task_id, stop), daemon=True)
            beat.start()
            try:
                status, body, retryable = call_llm(task_id, payload, attempt, key)
            finally:
                stop.set()
                beat.join()
            with conn.cursor() as cur:
                try:
                    if 200 <= status < 300:
                        cur.execute("SELECT durable_task_complete(%s, %s)", (task_id, body))
                        log("%s: done (HTTP %d)" % (label, status))
                        done += 1
                    else:
                        error = {"message": "HTTP %d from the LLM" % status if status else body,
                                 "status": status, "body": body[:500]}
                        cur.execute("SELECT durable_task_fail(%s, %s, %s)",
                                    (task_id, json.dumps(error), retryable))
                        log("%s: HTTP %d, %s" % (label, status,
                                                 "retried after the backoff" if retryable else "failed"))
                except psycopg2.Error as e:
                    # 55000: the lease moved on (this worker was too slow); drop it
                    log("%s: refused: %s" % (label, (e.pgerror or "").strip()))
            idle_since = time.monotonic()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-d", default="", help="libpq connection string (default: the PG* environment)")
    p.add_argument("-q", default="llm", help="the task queue (default llm)")
    p.add_argument("-n", type=int, default=0, help="stop after completing this many tasks")
    p.add_argument("-i", type=int, default=0, help="stop when no task came for this many seconds")
    run(p.parse_args())


if __name__ == "__main__":
    main()

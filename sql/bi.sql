-- The BI and operations queries of docs/bi.md ("BI and operations
-- queries"), run as written against executions of one role, so that they
-- stay true.  Row level security shows a role only its own executions:
-- run as regress_bi_frank, the queries see exactly the executions made
-- here.  Durations and times vary: the outputs show shapes and counts.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

CREATE ROLE regress_bi_frank;
CREATE FUNCTION wf_bi_order(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('reserve', 'SELECT pg_sleep(0.01)');
  PERFORM durable_step('charge', 'SELECT 1 / ($1->>''amount'')::int', input, '{"max_attempts": 1}');
  PERFORM durable_step('ship', 'SELECT 1');
  RETURN '"shipped"';
END $$;
CREATE FUNCTION wf_bi_report(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('reserve', 'SELECT 1');
  IF input ? 'wait' THEN
    PERFORM durable_wait_for_event('approval', 'approved');
  END IF;
  RETURN '"reported"';
END $$;
SET ROLE regress_bi_frank;
SELECT count(durable_start('wf_bi_order', jsonb_build_object('amount', a), name => 'bi-order-' || i)) AS started
  FROM unnest(ARRAY[1, 2, 0, 3, 0]) WITH ORDINALITY AS t(a, i);
SELECT durable_start('wf_bi_report', '{}', name => 'bi-report') IS NOT NULL AS started;
SELECT durable_start('wf_bi_report', '{"wait": true}', name => 'bi-stuck') IS NOT NULL AS started;
SELECT durable_start('wf_bi_report', '{"wait": true}', name => 'bi-stopped') IS NOT NULL AS started;
SELECT durable_start('wf_bi_report', '{}', name => 'bi-pending') IS NOT NULL AS started;
SELECT name, durable_drive(name) FROM durable.executions WHERE name <> 'bi-pending' ORDER BY name;
SELECT durable_stop('bi-stopped');
SELECT count(*) AS frank_sees FROM durable.executions;

-- throughput per hour: finished executions per hour and status (summed
-- over the hours here: the test may straddle the turn of an hour)
SELECT status, sum(executions) AS executions, count(DISTINCT hour) BETWEEN 1 AND 2 AS hours
  FROM (SELECT date_trunc('hour', finished_at) AS hour, status, count(*) AS executions
          FROM durable.executions
         WHERE finished_at >= now() - interval '24 hours'
         GROUP BY 1, 2
         ORDER BY 1, 2) q
 GROUP BY status ORDER BY status;

-- failure rate per workflow
SELECT workflow, count(*) AS finished,
       count(*) FILTER (WHERE status IN ('FAILED', 'TIMED_OUT')) AS failed,
       round(100.0 * count(*) FILTER (WHERE status IN ('FAILED', 'TIMED_OUT')) / count(*), 1) AS failure_pct
  FROM durable.executions
 WHERE finished_at >= now() - interval '7 days'
 GROUP BY workflow
 ORDER BY failure_pct DESC, workflow;

-- p50 and p95 duration per step name (retry delays included)
SELECT name, steps, p50 <= p95 AND p95 <= max AS ordered, p95 > '0'::interval AS positive,
       pg_typeof(p95) AS type
  FROM (SELECT name, count(*) AS steps,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY duration) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY duration) AS p95,
               max(duration) AS max
          FROM durable.operations
         WHERE kind = 'step' AND status = 'SUCCEEDED' AND finished_at >= now() - interval '1 day'
         GROUP BY name
         ORDER BY p95 DESC) q
 ORDER BY name;
SELECT min(p95) >= interval '10 ms' AS reserve_waited
  FROM (SELECT name, percentile_cont(0.95) WITHIN GROUP (ORDER BY duration) AS p95
          FROM durable.operations WHERE kind = 'step' AND name = 'reserve' GROUP BY name) q;

-- stuck executions, for every role: no change for an hour while RUNNING
-- or SUSPENDED, or ready (PENDING, a timer due) for 5 minutes; with the
-- operation it is at.  Nothing is stuck yet.
SELECT e.id, e.name, e.workflow, e.status, e.updated_at, e.wake_at,
       cur.kind || ' ' || cur.name AS current_operation
  FROM durable.executions e
  LEFT JOIN LATERAL (
       SELECT o.kind, o.name FROM durable.operations o
        WHERE o.execution_id = e.id AND o.run_no = e.run_no AND o.status IN ('STARTED', 'PENDING')
        ORDER BY o.op_id DESC LIMIT 1) cur ON true
 WHERE (e.status IN ('RUNNING', 'SUSPENDED') AND e.updated_at < now() - interval '1 hour'
     OR e.status = 'PENDING' AND e.created_at < now() - interval '5 minutes'
     OR e.status = 'SUSPENDED' AND e.wake_at < now() - interval '5 minutes')
   AND NOT EXISTS (SELECT 1 FROM durable.activity a WHERE a.execution_id = e.id)
 ORDER BY e.updated_at;
RESET ROLE;
-- an hour later (the test moves the timestamps back instead)
UPDATE durable.executions SET updated_at = updated_at - interval '2 hours' WHERE name = 'bi-stuck';
UPDATE durable.executions SET created_at = created_at - interval '10 minutes' WHERE name = 'bi-pending';
UPDATE durable.queue SET due_at = due_at - interval '10 minutes'
 WHERE execution_id = durable.execution_id('bi-pending');
SET ROLE regress_bi_frank;
SELECT name, workflow, status, current_operation, updated_at < now() - interval '1 hour' AS idle
  FROM (
SELECT e.id, e.name, e.workflow, e.status, e.updated_at, e.wake_at,
       cur.kind || ' ' || cur.name AS current_operation
  FROM durable.executions e
  LEFT JOIN LATERAL (
       SELECT o.kind, o.name FROM durable.operations o
        WHERE o.execution_id = e.id AND o.run_no = e.run_no AND o.status IN ('STARTED', 'PENDING')
        ORDER BY o.op_id DESC LIMIT 1) cur ON true
 WHERE (e.status IN ('RUNNING', 'SUSPENDED') AND e.updated_at < now() - interval '1 hour'
     OR e.status = 'PENDING' AND e.created_at < now() - interval '5 minutes'
     OR e.status = 'SUSPENDED' AND e.wake_at < now() - interval '5 minutes')
   AND NOT EXISTS (SELECT 1 FROM durable.activity a WHERE a.execution_id = e.id)
 ORDER BY e.updated_at
  ) stuck;
-- durable.queue is readable by superusers only
SELECT count(*) FROM durable.queue;
RESET ROLE;
-- as a superuser: executions due in the queue for 5 minutes that no driver took
SELECT name, status, current_operation
  FROM (
SELECT e.id, e.name, e.workflow, e.status, q.due_at, now() - q.due_at AS overdue,
       (SELECT o.kind || ' ' || o.name FROM durable.operations o
         WHERE o.execution_id = e.id AND o.run_no = e.run_no AND o.status IN ('STARTED', 'PENDING')
         ORDER BY o.op_id DESC LIMIT 1) AS current_operation
  FROM durable.queue q JOIN durable.executions e ON e.id = q.execution_id
 WHERE q.due_at < now() - interval '5 minutes'
 ORDER BY q.due_at
  ) overdue
 WHERE name LIKE 'bi-%';

-- the columns docs/bi.md documents, with their types
SELECT table_name, column_name, data_type, is_generated
  FROM information_schema.columns
 WHERE table_schema = 'durable' AND table_name IN ('executions', 'operations', 'history')
 ORDER BY table_name, ordinal_position;

SELECT durable_stop('bi-stuck'), durable_stop('bi-pending');
DROP OWNED BY regress_bi_frank;
DROP ROLE regress_bi_frank;

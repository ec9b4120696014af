-- What the workers run now (issue 14): the durable.activity view, its
-- shape and who may read it, and the stuck-executions query that leaves
-- out what a worker drives.  No worker runs here (durable.max_workers = 0):
-- test/t/025_activity.pl shows a worker's row while a step runs, and who
-- sees its execution.  Then the NOTICE of durable_start when nothing will
-- drive the executions of this database: once per session.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default
CREATE ROLE regress_act_eve NOLOGIN;
RESET client_min_messages;

-- the view's columns
SELECT attnum, attname, format_type(atttypid, atttypmod) AS type
  FROM pg_attribute
 WHERE attrelid = 'durable.activity'::regclass AND attnum > 0
 ORDER BY attnum;

-- the library is preloaded here; no worker runs
SELECT durable.library_preloaded();
SELECT count(*) AS workers FROM durable.activity WHERE kind = 'worker';

-- any role may read it (what concerns others' executions is NULL)
SET ROLE regress_act_eve;
SELECT count(*) >= 0 AS readable FROM durable.activity;
SELECT count(*) AS workers FROM durable.activity WHERE kind = 'worker';
RESET ROLE;

-- the stuck-executions query: an execution ready that no worker drives is
-- flagged (thresholds of 0 here: its creation committed before this query)
CREATE FUNCTION act_wf(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('one', 'SELECT 1');
END $$;
SELECT durable_start('act_wf', '{}', 'act-stuck') IS NOT NULL AS started;
SELECT e.name, e.status, cur.kind || ' ' || cur.name AS current_operation
  FROM durable.executions e
  LEFT JOIN LATERAL (
       SELECT o.kind, o.name FROM durable.operations o
        WHERE o.execution_id = e.id AND o.run_no = e.run_no AND o.status IN ('STARTED', 'PENDING')
        ORDER BY o.op_id DESC LIMIT 1) cur ON true
 WHERE (e.status IN ('RUNNING', 'SUSPENDED') AND e.updated_at < now() - interval '0 seconds'
     OR e.status = 'PENDING' AND e.created_at < now() - interval '0 seconds'
     OR e.status = 'SUSPENDED' AND e.wake_at < now() - interval '0 seconds')
   AND NOT EXISTS (SELECT 1 FROM durable.activity a WHERE a.execution_id = e.id)
   AND e.name = 'act-stuck'
 ORDER BY e.updated_at;
SELECT durable_drive('act-stuck');

-- nothing drives this database's executions by itself (no worker, no
-- pg_cron): the first durable_start of a session says so, the next do not
SET durable.notice_undriven = on;
SELECT durable_start('act_wf', '{}', 'act-n1') IS NOT NULL AS started;
SELECT durable_start('act_wf', '{}', 'act-n2') IS NOT NULL AS started;
-- an idempotent start of an existing name stores nothing: no notice either
SELECT durable_start('act_wf', '{}', 'act-n1') IS NOT NULL AS started;
SELECT count(*) AS pending FROM durable.executions WHERE name IN ('act-n1', 'act-n2') AND status = 'PENDING';
SELECT durable_drive_pending() >= 2 AS drove;
RESET durable.notice_undriven;

-- the setting: any role may silence the notice in its own session
SELECT name, setting, context, vartype FROM pg_settings WHERE name = 'durable.notice_undriven';

SET client_min_messages = warning;
DROP FUNCTION act_wf(jsonb);
DROP ROLE regress_act_eve;
RESET client_min_messages;

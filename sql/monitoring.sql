-- Monitoring without power (issue 14): members of durable_monitor, and of
-- pg_monitor, read every execution, operation, history event, branch,
-- queue row and statistic of every role, and steer none of them.  Roles:
-- alice owns the workflows, watch is a member of durable_monitor, pgmon of
-- pg_monitor, eve of neither.  Then durable.workflow_stats and
-- durable_stats_reset.  No worker runs: durable_drive drives.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

CREATE ROLE regress_mon_alice NOLOGIN;
CREATE ROLE regress_mon_watch NOLOGIN IN ROLE durable_monitor;
CREATE ROLE regress_mon_pgmon NOLOGIN IN ROLE pg_monitor;
CREATE ROLE regress_mon_eve NOLOGIN;
CREATE SCHEMA mon_alice AUTHORIZATION regress_mon_alice;
RESET client_min_messages;

-- the role and its place
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = 'durable_monitor';
SELECT pg_has_role('pg_monitor', 'durable_monitor', 'USAGE') AS pg_monitor_is_member;

-- mon_err(sql): 'ok', or the SQLSTATE and message of the error it raised
CREATE FUNCTION mon_err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
GRANT EXECUTE ON FUNCTION mon_err(text) TO PUBLIC;
-- everything durable keeps about alice's executions: what a refused call
-- must not change (superusers only)
CREATE FUNCTION mon_digest() RETURNS text LANGUAGE sql AS $$
  SELECT md5(concat_ws('|',
    (SELECT string_agg(e::text, ';' ORDER BY id) FROM durable.executions e
      WHERE owner = 'regress_mon_alice'::regrole),
    (SELECT string_agg(o::text, ';' ORDER BY execution_id, run_no, op_id) FROM durable.operations o
      WHERE owner = 'regress_mon_alice'::regrole),
    (SELECT string_agg(h::text, ';' ORDER BY execution_id, event_id) FROM durable.history h
      WHERE owner = 'regress_mon_alice'::regrole),
    (SELECT string_agg(q::text, ';' ORDER BY execution_id) FROM durable.queue q
      WHERE owner = 'regress_mon_alice'::regrole),
    (SELECT string_agg(i::text, ';' ORDER BY message_id) FROM durable.inbox i
      WHERE owner = 'regress_mon_alice'::regrole),
    (SELECT string_agg(c::text, ';' ORDER BY token_hash) FROM durable.callbacks c
      WHERE owner = 'regress_mon_alice'::regrole),
    (SELECT string_agg(v::text, ';' ORDER BY execution_id, event_id) FROM durable.events v
      WHERE owner = 'regress_mon_alice'::regrole),
    (SELECT string_agg(c::text, ';' ORDER BY parent_id, run_no, op_id, idx) FROM durable.children c
      WHERE owner = 'regress_mon_alice'::regrole)))
$$;

-- ----------------------------------------------------------------------
-- alice's executions: one succeeds, one fails after two attempts, one
-- waits for a callback, one for an event, one waits on a child
-- ----------------------------------------------------------------------
SET ROLE regress_mon_alice;
CREATE TABLE mon_alice.outbox (cb text);
CREATE FUNCTION mon_alice.wf_ok(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('one', 'SELECT 1');
END $$;
CREATE FUNCTION mon_alice.wf_fail(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('boom', 'SELECT 1/0', NULL,
                      '{"max_attempts": 2, "initial_delay": "0 s", "jitter": "none"}');
END $$;
CREATE FUNCTION mon_alice.wf_callback(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_callback('approval', 'INSERT INTO mon_alice.outbox VALUES ($1)');
END $$;
CREATE FUNCTION mon_alice.wf_event(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_event('wait-go', 'go');
END $$;
CREATE FUNCTION mon_alice.wf_parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_invoke('kid', 'mon_alice.wf_event', '{}');
END $$;
SELECT durable_start('mon_alice.wf_ok', '{}', 'mon-ok') IS NOT NULL AS started,
       durable_start('mon_alice.wf_fail', '{}', 'mon-fail') IS NOT NULL AS started,
       durable_start('mon_alice.wf_callback', '{}', 'mon-cb') IS NOT NULL AS started,
       durable_start('mon_alice.wf_event', '{}', 'mon-event') IS NOT NULL AS started,
       durable_start('mon_alice.wf_parent', '{}', 'mon-parent') IS NOT NULL AS started;
SELECT durable_drive('mon-ok'), durable_drive('mon-fail'), durable_drive('mon-cb'),
       durable_drive('mon-event'), durable_drive('mon-parent');
SELECT name, status FROM durable.executions ORDER BY name NULLS LAST;
RESET ROLE;
-- an HTTP request in flight, as the HTTP worker would hold it
INSERT INTO durable.http_requests (execution_id, run_no, op_id, attempt, owner, request,
                                   options, idempotency_key, at_most_once, created_at)
SELECT id, 1, 1, 1, owner, '{"url": "http://127.0.0.1:1/", "headers": {"authorization": "inline"}}',
       '{}', 'k', false, now()
  FROM durable.executions WHERE name = 'mon-event';
SELECT count(*) AS alice_executions FROM durable.executions
 WHERE owner = 'regress_mon_alice'::regrole;

-- ----------------------------------------------------------------------
-- what each role reads of alice's
-- ----------------------------------------------------------------------
CREATE FUNCTION mon_seen() RETURNS TABLE (what text, n bigint) LANGUAGE sql AS $$
  SELECT 'executions', count(*) FROM durable.executions WHERE owner = 'regress_mon_alice'::regrole
  UNION ALL SELECT 'operations', count(*) FROM durable.operations WHERE owner = 'regress_mon_alice'::regrole
  UNION ALL SELECT 'history', count(*) FROM durable.history WHERE owner = 'regress_mon_alice'::regrole
  UNION ALL SELECT 'children', count(*) FROM durable.children WHERE owner = 'regress_mon_alice'::regrole
  UNION ALL SELECT 'queue', count(*) FROM durable.queue WHERE owner = 'regress_mon_alice'::regrole
  UNION ALL SELECT 'http_requests', count(*) FROM durable.http_requests WHERE owner = 'regress_mon_alice'::regrole
  UNION ALL SELECT 'workflow_stats', count(*) FROM durable.workflow_stats WHERE workflow LIKE 'mon_alice.%'
$$;
GRANT EXECUTE ON FUNCTION mon_seen() TO PUBLIC;
CREATE TEMP TABLE mon_truth AS SELECT * FROM mon_seen();
GRANT SELECT ON mon_truth TO PUBLIC;
SELECT * FROM mon_truth;
-- a monitor sees what a superuser sees, through durable_monitor or pg_monitor
SET ROLE regress_mon_watch;
SELECT what, n, n = (SELECT t.n FROM mon_truth t WHERE t.what = s.what) AS all_of_it
  FROM mon_seen() s;
SELECT name, status, workflow FROM durable.executions
 WHERE owner = 'regress_mon_alice'::regrole ORDER BY name NULLS LAST;
SELECT e.name, o.name AS operation, o.status, o.attempt
  FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id
 WHERE o.owner = 'regress_mon_alice'::regrole ORDER BY 1, 2;
SET ROLE regress_mon_pgmon;
SELECT what, n, n = (SELECT t.n FROM mon_truth t WHERE t.what = s.what) AS all_of_it
  FROM mon_seen() s;
-- a role with neither sees none of alice's rows, and no statistics
SET ROLE regress_mon_eve;
SELECT count(*) AS eve_sees FROM durable.executions;
SELECT mon_err('SELECT count(*) FROM durable.workflow_stats') AS eve_stats;
RESET ROLE;

-- what a monitor may not read: secrets, callbacks (token hashes), events,
-- inbox, names, the request column of the HTTP requests
SET ROLE regress_mon_watch;
SELECT t, mon_err(format('SELECT count(*) FROM durable.%I', t)) AS outcome
  FROM unnest(ARRAY['secrets', 'secret_grants', 'callbacks', 'events', 'inbox', 'names']) t;
SELECT mon_err('SELECT request FROM durable.http_requests') AS request_column,
       mon_err('SELECT request_id, execution_id, options, taken_at FROM durable.http_requests') AS other_columns;
RESET ROLE;

-- ----------------------------------------------------------------------
-- steering: every call refused (or a no-op), and nothing changed
-- ----------------------------------------------------------------------
SELECT cb AS mon_cb FROM mon_alice.outbox \gset
CREATE TEMP TABLE mon_before AS SELECT mon_digest() AS digest;
GRANT SELECT ON mon_before TO PUBLIC;
CREATE TEMP TABLE mon_calls (call text);
INSERT INTO mon_calls VALUES
  ('SELECT durable_stop(''mon-event'', ''watch says so'')'),
  ('SELECT durable_stop(''mon-parent'')'),
  ('SELECT durable_send_event(''mon-event'', ''go'', ''{}'')'),
  ('SELECT durable_redrive(''mon-fail'')'),
  ('SELECT durable_drive(''mon-event'')'),
  ('SELECT durable_drive(id::text) FROM durable.executions WHERE parent_id IS NOT NULL'),
  ('SELECT durable_drive_pending(''1 second'')'),
  ('SELECT durable_await(''mon-ok'', ''0 seconds'')'),
  ('SELECT durable_status(''mon-ok'')'),
  ('SELECT durable_result(''mon-ok'')'),
  ('SELECT durable_purge(''0 seconds'')'),
  ('SELECT durable_stats_reset()'),
  ('CALL durable_tick()'),
  ('SELECT durable_start(''mon_alice.wf_ok'', ''{}'', ''mon-ok'')'),
  ('SELECT durable_unschedule(''mon-nightly'')');
GRANT SELECT ON mon_calls TO PUBLIC;
SET ROLE regress_mon_watch;
SELECT call, regexp_replace(mon_err(call), '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<id>')
       AS outcome FROM mon_calls;
SET ROLE regress_mon_pgmon;
SELECT call, regexp_replace(mon_err(call), '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}', '<id>')
       AS outcome FROM mon_calls;
-- the purges above deleted nothing of alice's; the callback id is a
-- capability: without it a monitor completes nothing
SELECT mon_err('SELECT durable_callback_success(''cb_00000000000000000000000000000000'')') AS guessed_callback;
RESET ROLE;
SELECT mon_digest() = (SELECT digest FROM mon_before) AS nothing_changed;
SELECT name, status FROM durable.executions WHERE owner = 'regress_mon_alice'::regrole
 ORDER BY name NULLS LAST;

-- ----------------------------------------------------------------------
-- durable.workflow_stats: counted at commit, per workflow
-- ----------------------------------------------------------------------
SELECT workflow, started, succeeded, failed, timed_out, stopped, retries, steps, finished,
       p50_ms <= p95_ms AND p95_ms <= p99_ms AND p99_ms <= max_ms AND mean_ms <= max_ms
         AS ordered,
       stats_reset <= now() AS reset_before
  FROM durable.workflow_stats WHERE workflow LIKE 'mon_alice.%' ORDER BY 1;
-- a rolled-back start is not counted
BEGIN;
SELECT durable_start('mon_alice.wf_ok', '{}', 'mon-rolled-back') IS NOT NULL AS started;
ROLLBACK;
-- alice's callback completes, her stopped event wait counts as stopped
SELECT durable_callback_success(:'mon_cb', '"yes"') AS completed;
SELECT durable_drive('mon-cb');
SET ROLE regress_mon_alice;
SELECT durable_stop('mon-event', 'enough');
RESET ROLE;
SELECT workflow, started, succeeded, failed, stopped, finished
  FROM durable.workflow_stats WHERE workflow LIKE 'mon_alice.%' ORDER BY 1;
-- a finished execution's duration is in its percentiles: one only, so
-- every percentile is that duration
SELECT p50_ms = max_ms AND p99_ms = max_ms AS one_duration, max_ms >= 0 AS nonnegative
  FROM durable.workflow_stats WHERE workflow = 'mon_alice.wf_ok';

-- the reset: durable_admin and superusers only
SET ROLE regress_mon_alice;
SELECT mon_err('SELECT durable_stats_reset()') AS alice_resets;
RESET ROLE;
SELECT durable_stats_reset() >= now() AS reset;
SELECT count(*) AS rows_after_reset FROM durable.workflow_stats;
SELECT started, succeeded, failed, steps, retries FROM durable.stats;
SELECT durable_start('mon_alice.wf_ok', '{}', 'mon-after-reset') IS NOT NULL AS started;
SELECT workflow, started, stats_reset > now() - interval '1 hour' AS recent
  FROM durable.workflow_stats;

-- ----------------------------------------------------------------------
-- clean up
-- ----------------------------------------------------------------------
SET client_min_messages = warning;
SELECT count(durable_stop(name)) AS stopped FROM durable.executions
 WHERE owner = 'regress_mon_alice'::regrole
   AND status NOT IN ('SUCCEEDED', 'FAILED', 'TIMED_OUT', 'STOPPED') AND parent_id IS NULL;
DROP FUNCTION mon_err(text), mon_digest(), mon_seen();
DROP SCHEMA mon_alice CASCADE;
DROP OWNED BY regress_mon_alice, regress_mon_watch, regress_mon_pgmon, regress_mon_eve;
DROP ROLE regress_mon_alice, regress_mon_watch, regress_mon_pgmon, regress_mon_eve;

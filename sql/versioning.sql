-- Versioning (durable_patched), repair (durable_redrive), retention
-- (durable_purge, durable.retention, the tick) and the bounded history.
\set VERBOSITY default
SET durable.tick_duration = 0;	-- the tick here only purges

-- every execution of this file carries this tag
CREATE TABLE vtags AS SELECT '{"tags": {"suite": "versioning"}}'::jsonb AS o;

-- ---------------------------------------------------------------------
-- durable_patched
-- ---------------------------------------------------------------------
CREATE FUNCTION wf_ver(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('a', 'SELECT 1');
  PERFORM durable_wait_for_event('go', 'go');
  PERFORM durable_step('b', 'SELECT 2');
  RETURN '"v1"';
END $$;
SELECT durable_start('wf_ver', '{}', 'ver-old', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('ver-old');
SELECT workflow, length(workflow_hash) AS hash_length FROM durable.executions WHERE name = 'ver-old';

-- a deploy inserts a step without a patch: the old history no longer fits
CREATE OR REPLACE FUNCTION wf_ver(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('a', 'SELECT 1');
  PERFORM durable_step('x', 'SELECT 10');
  PERFORM durable_wait_for_event('go', 'go');
  PERFORM durable_step('b', 'SELECT 2');
  RETURN '"v2"';
END $$;
SELECT durable_send_event('ver-old', 'go');
SELECT durable_drive('ver-old');
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS message
  FROM durable_status('ver-old');

-- fixed with durable_patched: the old execution is redriven and takes the
-- old path; a new one takes the new path and checkpoints the marker
CREATE OR REPLACE FUNCTION wf_ver(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  patched boolean;
BEGIN
  PERFORM durable_step('a', 'SELECT 1');
  patched := durable_patched('add-x');
  IF patched THEN
    PERFORM durable_step('x', 'SELECT 10');
  END IF;
  PERFORM durable_wait_for_event('go', 'go');
  PERFORM durable_step('b', 'SELECT 2');
  RETURN jsonb_build_object('patched', patched, 'again', durable_patched('add-x'));
END $$;
SELECT durable_redrive('ver-old');
SELECT durable_drive('ver-old');
-- false on the old path; the second call is past the end of the old
-- history, a new position, so it is true and checkpoints a marker
SELECT status, result FROM durable_status('ver-old');
SELECT position, name, kind, status FROM durable_operations('ver-old') ORDER BY op_id;
SELECT event, details->'operations' AS operations, details->>'from_status' AS from_status,
       details->>'redrive_count' AS redrive_count
  FROM durable_history('ver-old') WHERE event = 'redriven';
SELECT redrive_count, workflow_hash <> md5('') AS hashed FROM durable.executions WHERE name = 'ver-old';

SELECT durable_start('wf_ver', '{}', 'ver-new', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('ver-new');
SELECT position, name, kind, status FROM durable_operations('ver-new') ORDER BY op_id;

-- once no old execution is left, the patch call can go: the marker of an
-- execution in flight is passed over
CREATE OR REPLACE FUNCTION wf_ver(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('a', 'SELECT 1');
  PERFORM durable_step('x', 'SELECT 10');
  PERFORM durable_wait_for_event('go', 'go');
  PERFORM durable_step('b', 'SELECT 2');
  RETURN '"v3"';
END $$;
SELECT durable_send_event('ver-new', 'go');
SELECT durable_drive('ver-new');
SELECT status, result FROM durable_status('ver-new');
SELECT position, name, kind, status FROM durable_operations('ver-new') ORDER BY op_id;

-- durable_patched in a durable_child context, and on bad input
CREATE FUNCTION wf_patch_inner(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object('patched', durable_patched('inner-fix'));
END $$;
CREATE FUNCTION wf_patch_child(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_child('c', 'wf_patch_inner');
END $$;
SELECT durable_start('wf_patch_child', '{}', 'patch-child', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('patch-child');
SELECT result FROM durable_status('patch-child');
SELECT parent_op_id IS NOT NULL AS nested, name, kind FROM durable_operations('patch-child') ORDER BY op_id;

CREATE FUNCTION wf_patch_bad(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN to_jsonb(durable_patched(input->>'id'));
END $$;
SELECT durable_start('wf_patch_bad', '{"id": null}', 'patch-null', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('patch-null');
SELECT error->>'message' AS message FROM durable_status('patch-null');
SELECT durable_start('wf_patch_bad', jsonb_build_object('id', repeat('p', 300)), 'patch-long',
                     (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('patch-long');
SELECT error->>'message' AS message FROM durable_status('patch-long');
SELECT durable_patched('outside');

-- ---------------------------------------------------------------------
-- durable_redrive
-- ---------------------------------------------------------------------
CREATE TABLE flaky (ok boolean NOT NULL);
INSERT INTO flaky VALUES (false);
CREATE FUNCTION wf_flaky(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  a jsonb;
  b jsonb;
BEGIN
  a := durable_step('a', 'SELECT 1');
  b := durable_step('b', 'SELECT 2 / ok::int FROM flaky', NULL,
                    '{"max_attempts": 2, "initial_delay": "0 s"}');
  RETURN jsonb_build_object('a', a, 'b', b);
END $$;
SELECT durable_start('wf_flaky', '{}', 'flaky', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('flaky');
SELECT durable_drive('flaky');
SELECT status, error->>'operation' AS operation FROM durable.executions WHERE name = 'flaky';
-- the cause is fixed; the failed step runs again from attempt 1, the
-- succeeded one is not run again
UPDATE flaky SET ok = true;
SELECT durable_redrive('flaky');
SELECT status, error, finished_at FROM durable_status('flaky');
SELECT durable_drive('flaky');
SELECT status, result FROM durable_status('flaky');
SELECT name, status, attempt FROM durable_operations('flaky') ORDER BY op_id;
SELECT event, name FROM durable_history('flaky') ORDER BY event_id;
SELECT redrive_count FROM durable.executions WHERE name = 'flaky';

-- inside a durable_child context: the context is entered again, the
-- checkpoints before the failure stay
UPDATE flaky SET ok = false;
CREATE FUNCTION wf_inner_flaky(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('before', 'SELECT 1');
  RETURN durable_step('fragile', 'SELECT 2 / ok::int FROM flaky', NULL, '{"max_attempts": 1}');
END $$;
CREATE FUNCTION wf_outer(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('first', 'SELECT 1');
  RETURN durable_child('inner', 'wf_inner_flaky');
END $$;
SELECT durable_start('wf_outer', '{}', 'outer', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('outer');
SELECT name, status FROM durable_operations('outer') ORDER BY op_id;
UPDATE flaky SET ok = true;
SELECT durable_redrive('outer');
SELECT details->'operations' AS operations FROM durable_history('outer') WHERE event = 'redriven';
SELECT name, status FROM durable_operations('outer') ORDER BY op_id;
SELECT durable_drive('outer');
SELECT status, result FROM durable_status('outer');
SELECT name, status, attempt FROM durable_operations('outer') ORDER BY op_id;

-- a failure the workflow caught (a saga) is part of its history: the
-- redrive replays it and the execution fails the same way again
UPDATE flaky SET ok = false;
CREATE FUNCTION wf_v_saga(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    PERFORM durable_step('charge', 'SELECT 2 / ok::int FROM flaky', NULL, '{"max_attempts": 1}');
  EXCEPTION WHEN SQLSTATE 'WF001' THEN
    PERFORM durable_step('refund', 'SELECT 0');
    RAISE EXCEPTION 'order abandoned';
  END;
  RETURN '"charged"';
END $$;
SELECT durable_start('wf_v_saga', '{}', 'v-saga', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('v-saga');
UPDATE flaky SET ok = true;
SELECT durable_redrive('v-saga');
SELECT details->'operations' AS operations FROM durable_history('v-saga') WHERE event = 'redriven';
SELECT durable_drive('v-saga');
SELECT status, error->>'message' AS message FROM durable_status('v-saga');
SELECT name, status FROM durable_operations('v-saga') ORDER BY op_id;

-- TIMED_OUT: a new deadline, and the callback it waited on is made anew
CREATE TABLE v_outbox (callback_id text);
CREATE FUNCTION wf_approval(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_callback('approve', 'INSERT INTO v_outbox VALUES ($1)');
END $$;
SELECT durable_start('wf_approval', '{}', 'approval',
                     (SELECT o || '{"execution_timeout": "1 minute"}' FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('approval');
SET durable.clock_offset = '2 minutes';
SELECT durable_drive('approval');
SELECT status, error->>'message' AS message FROM durable_status('approval');
SELECT durable_redrive('approval');
SELECT deadline > durable_clock() + interval '50 seconds' AS new_deadline
  FROM durable.executions WHERE name = 'approval';
SELECT durable_drive('approval');
SELECT count(*) AS callback_ids FROM v_outbox;
-- the id of the callback that timed out is void
SELECT durable_callback_success((SELECT callback_id FROM v_outbox ORDER BY ctid LIMIT 1), '"early"');
SELECT durable_callback_success((SELECT callback_id FROM v_outbox ORDER BY ctid DESC LIMIT 1), '"yes"');
SELECT durable_drive('approval');
SELECT status, result FROM durable_status('approval');
RESET durable.clock_offset;

-- a callback of durable_create_callback that the failure cancelled is
-- pending again after a redrive
CREATE FUNCTION wf_v_split(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  cb text;
BEGIN
  cb := durable_create_callback('cb');
  PERFORM durable_step('hand over', 'INSERT INTO v_outbox VALUES ($1 #>> ''{}'')', to_jsonb(cb));
  PERFORM durable_step('check', 'SELECT 2 / ok::int FROM flaky', NULL, '{"max_attempts": 1}');
  RETURN durable_await_callback('wait', cb);
END $$;
TRUNCATE v_outbox;
UPDATE flaky SET ok = false;
SELECT durable_start('wf_v_split', '{}', 'v-split', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('v-split');
SELECT c.status FROM durable.callbacks c JOIN durable.executions e ON e.id = c.execution_id
 WHERE e.name = 'v-split';
UPDATE flaky SET ok = true;
SELECT durable_redrive('v-split');
SELECT c.status FROM durable.callbacks c JOIN durable.executions e ON e.id = c.execution_id
 WHERE e.name = 'v-split';
SELECT durable_drive('v-split');
SELECT durable_callback_success((SELECT callback_id FROM v_outbox), '"done"');
SELECT durable_drive('v-split');
SELECT status, result FROM durable_status('v-split');

-- bad input, each changing nothing
CREATE FUNCTION vstate() RETURNS text LANGUAGE sql AS $$
  SELECT md5(concat_ws('|',
    (SELECT string_agg(e.id::text || e.status || e.redrive_count, ',' ORDER BY e.id)
       FROM durable.executions e),
    (SELECT count(*) FROM durable.operations), (SELECT count(*) FROM durable.history),
    (SELECT count(*) FROM durable.queue), (SELECT count(*) FROM durable.callbacks)))
$$;
SELECT durable_start('wf_ver', '{}', 'ver-waiting', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('ver-waiting');
CREATE FUNCTION wf_child_fails(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'child broke';
END $$;
CREATE FUNCTION wf_invoker(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_invoke('kid', 'wf_child_fails');
END $$;
SELECT durable_start('wf_invoker', '{}', 'invoker', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('invoker');
SELECT durable_drive(child_id::text) FROM durable.children c
  JOIN durable.executions e ON e.id = c.parent_id WHERE e.name = 'invoker';
SELECT durable_drive('invoker');
SELECT status FROM durable_status('invoker');
SELECT c.child_id AS kid FROM durable.children c
  JOIN durable.executions e ON e.id = c.parent_id WHERE e.name = 'invoker' \gset
SELECT set_config('v.kid', :'kid', false) IS NOT NULL AS kid_set;
CREATE FUNCTION wf_gone(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'no';
END $$;
SELECT durable_start('wf_gone', '{}', 'gone', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('gone');
DROP FUNCTION wf_gone(jsonb);
CREATE ROLE regress_versioning_mallory;
GRANT USAGE ON SCHEMA public TO regress_versioning_mallory;

SELECT vstate() AS before \gset
SELECT durable_redrive(NULL);
SELECT durable_redrive('no-such-execution');
SELECT durable_redrive('01890a5d-ac96-774b-bcce-b302099a8057');
SELECT durable_redrive('flaky');			-- SUCCEEDED
SELECT durable_redrive('ver-waiting');		-- SUSPENDED
-- a child: the parent is what gets redriven
DO $$
BEGIN
  PERFORM durable_redrive(current_setting('v.kid'));
EXCEPTION WHEN object_not_in_prerequisite_state THEN
  RAISE NOTICE '%', regexp_replace(SQLERRM, '[0-9a-f-]{36}', '<id>');
END $$;
SELECT durable_redrive('gone');				-- its workflow was dropped
SET ROLE regress_versioning_mallory;		-- another role's execution
SELECT durable_redrive('invoker');
RESET ROLE;
SELECT vstate() = :'before' AS unchanged;
SELECT durable_stop('ver-waiting');
SELECT vstate() AS before \gset
SELECT durable_redrive('ver-waiting');		-- STOPPED
SELECT vstate() = :'before' AS unchanged;
-- not from a workflow or step
CREATE FUNCTION wf_redriver(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('redrive', 'SELECT durable_redrive(''invoker'')', NULL, '{"max_attempts": 1}');
END $$;
SELECT durable_start('wf_redriver', '{}', 'redriver', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('redriver');
SELECT error->>'message' AS message FROM durable_status('redriver');
SELECT status, redrive_count FROM durable.executions WHERE name = 'invoker';

-- ---------------------------------------------------------------------
-- retention and durable_purge
-- ---------------------------------------------------------------------
SHOW durable.retention;
CREATE FUNCTION wf_quick(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('one', 'SELECT 1');
END $$;
SELECT durable_start('wf_quick', '{}', 'keep-1h',
                     (SELECT o || '{"retention": "1 hour"}' FROM vtags)) IS NOT NULL AS started;
SELECT durable_start('wf_quick', '{}', 'keep-default', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('keep-1h'), durable_drive('keep-default');
-- the tick purges what is past its retention, with every row it has
SET durable.clock_offset = '2 hours';
CALL durable_tick();
SELECT name FROM durable.executions WHERE name IN ('keep-1h', 'keep-default') ORDER BY name;
SELECT count(*) AS names FROM durable.names WHERE name = 'keep-1h';
-- the name is free again
SELECT durable_start('wf_quick', '{"again": true}', 'keep-1h', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('keep-1h');
-- the default retention (durable.retention) applies to the others
SET durable.retention = '1h';
SET durable.clock_offset = '4 hours';
CALL durable_tick();
SELECT count(*) AS left_after_default FROM durable.executions WHERE name IN ('keep-1h', 'keep-default');
SET durable.retention = -1;
RESET durable.clock_offset;
SET durable.retention = '-2';
SET durable.retention = 'forever';
RESET durable.retention;

-- durable_purge: by age and status, whatever the retention
SELECT durable_start('wf_quick', '{}', 'purge-ok', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('purge-ok');
SELECT durable_purge('1 hour');
SELECT vstate() AS before \gset
SELECT durable_purge('0 seconds', '{FAILED}') > 0 AS purged_failed;
SELECT count(*) AS failed_left FROM durable.executions WHERE status = 'FAILED';
SELECT count(*) > 0 AS others_left FROM durable.executions WHERE status <> 'FAILED';
-- another role purges only its own
SET ROLE regress_versioning_mallory;
SELECT durable_purge('0 seconds');
RESET ROLE;
SELECT count(*) > 0 AS still_there FROM durable.executions WHERE name = 'purge-ok';
-- bad input
SELECT vstate() AS before \gset
SELECT durable_purge(NULL);
SELECT durable_purge('1 hour', NULL);
SELECT durable_purge('-1 hour');
SELECT durable_purge('1 hour', '{}');
SELECT durable_purge('1 hour', '{NULL}');
SELECT durable_purge('1 hour', '{RUNNING}');
SELECT durable_purge('1 hour', '{bogus}');
SELECT durable_purge('1 hour', '{{SUCCEEDED}}');
SELECT vstate() = :'before' AS unchanged;

-- ---------------------------------------------------------------------
-- the history of an execution stays bounded
-- ---------------------------------------------------------------------
SET durable.max_history_events = 40;
CREATE FUNCTION wf_long(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..60 LOOP
    PERFORM durable_step('s' || i, 'SELECT $1', to_jsonb(i));
  END LOOP;
  PERFORM durable_log('info', 'last words');
  RETURN '"long"';
END $$;
SELECT durable_start('wf_long', '{}', 'long', (SELECT o FROM vtags)) IS NOT NULL AS started;
SELECT durable_drive('long');
SELECT count(*) <= 40 AS bounded, count(*) >= 30 AS recent_kept FROM durable_history('long');
SELECT event, details->'count' AS count, details->'events' AS events
  FROM durable_history('long') ORDER BY event_id LIMIT 1;
SELECT event FROM durable_history('long') ORDER BY event_id DESC LIMIT 2;
-- the summary counts every event it replaced
SELECT (SELECT (details->>'count')::int FROM durable_history('long') WHERE event = 'history_summarized')
       + (SELECT count(*) FROM durable_history('long') WHERE event <> 'history_summarized')
       AS all_events;
SET durable.max_history_events = -1;
RESET durable.max_history_events;

DROP TABLE vtags, flaky, v_outbox;
DROP FUNCTION vstate();
REVOKE USAGE ON SCHEMA public FROM regress_versioning_mallory;
DROP ROLE regress_versioning_mallory;

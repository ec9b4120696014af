-- Outside workflows: status functions, stop, drive functions, CALL
-- durable_run, the clock, privileges and isolation.
\set VERBOSITY default

-- status functions on bad input
SELECT * FROM durable_status('no-such-execution');
SELECT * FROM durable_status('01890a5d-ac96-774b-bcce-b302099a8057');
SELECT * FROM durable_status(NULL);
SELECT * FROM durable_operations('no-such-execution');
SELECT * FROM durable_history('no-such-execution');
SELECT durable_result('no-such-execution');
SELECT durable_drive('no-such-execution');
SELECT durable_drive(NULL);
SELECT durable_stop('no-such-execution');
SELECT durable_stop(NULL);
SELECT durable_drive_pending(NULL);
SELECT durable_drive_pending('-1 second');

-- an execution is found by id as well as by name
SELECT id AS once_id FROM durable.executions WHERE name = 'once' \gset
SELECT name, status FROM durable_status(:'once_id');
SELECT count(*) AS ops FROM durable_operations(:'once_id');
SELECT durable_result(:'once_id');

-- durable_status columns
CREATE FUNCTION wf_sleepy(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('prepare', 'SELECT 1');
  PERFORM durable_wait('nap', interval '1 day');
  RETURN '"rested"';
END $$;
SELECT durable_start('wf_sleepy', '{"who": "me"}', name => 'sleepy',
                     options => '{"tags": {"team": "ops"}}') IS NOT NULL AS started;
SELECT name, workflow, status, run_no, result, error, tags, created_at IS NOT NULL AS created,
       started_at IS NULL AS not_started, finished_at, current_operation, wake_at
  FROM durable_status('sleepy');
SELECT durable_drive('sleepy');
SELECT status, started_at >= created_at AS started, finished_at, current_operation,
       wake_at > now() + interval '23 hours' AS wakes_tomorrow
  FROM durable_status('sleepy');
SELECT position, name, kind, status, attempt, result, duration >= '0' AS timed
  FROM durable_operations('sleepy');
SELECT durable_result('sleepy');

-- durable_stop: STOPPED, waits cancelled, the timer gone; once only
SELECT durable_stop('sleepy', 'customer cancelled');
SELECT status, error, finished_at IS NOT NULL AS finished FROM durable_status('sleepy');
SELECT name, status FROM durable_operations('sleepy');
SELECT count(*) AS queued FROM durable.queue q JOIN durable.executions e ON e.id = q.execution_id
 WHERE e.name = 'sleepy';
SELECT durable_stop('sleepy');
SELECT durable_stop('once');
SET durable.clock_offset = '2 days';
SELECT durable_drive('sleepy');
RESET durable.clock_offset;
SELECT event FROM durable_history('sleepy');
-- a PENDING execution can be stopped before it ever runs
SELECT durable_start('wf_sleepy', '{}', name => 'never-run') IS NOT NULL AS started;
SELECT durable_stop('never-run');
SELECT durable_drive('never-run');
SELECT count(*) AS ops FROM durable_operations('never-run');

-- durable_drive in the caller's transaction: a rollback undoes everything
SELECT durable_start('wf_sleepy', '{}', name => 'rolled-back') IS NOT NULL AS started;
BEGIN;
SELECT durable_drive('rolled-back');
ROLLBACK;
SELECT status FROM durable_status('rolled-back');
SELECT count(*) AS ops FROM durable_operations('rolled-back');

-- durable_drive_pending drives every ready execution, once each
CREATE FUNCTION wf_add(input jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT durable_step('add', 'SELECT ($1->>''a'')::int + ($1->>''b'')::int', input)
$$;
SELECT durable_start('wf_add', jsonb_build_object('a', g, 'b', g), name => 'add-' || g) IS NOT NULL
  FROM generate_series(1, 5) g;
SELECT durable_drive_pending() >= 5 AS advanced_all;
SELECT count(*) AS ready_left FROM durable.queue WHERE due_at <= durable_clock();
SELECT sum(durable_result('add-' || g)::int) AS total FROM generate_series(1, 5) g;

-- CALL durable_run commits after every operation
SELECT durable_start('wf_add', jsonb_build_object('a', g, 'b', 1), name => 'run-' || g) IS NOT NULL
  FROM generate_series(1, 3) g;
SELECT durable_start('wf_once', '{}', name => 'run-once') IS NOT NULL AS started;
CALL durable_run();
SELECT name, status, result FROM durable.executions WHERE name LIKE 'run-%' ORDER BY name;
SELECT count(*) AS ready_left FROM durable.queue WHERE due_at <= durable_clock();
CALL durable_run(NULL);
CALL durable_run('-1 second');
BEGIN;
CALL durable_run();
ROLLBACK;

-- the durable clock and its offset (superusers only)
SELECT durable_clock() - clock_timestamp() < interval '1 second' AS now_ish;
SET durable.clock_offset = '1 day';
SELECT durable_clock() - clock_timestamp() > interval '23 hours' AS tomorrow;
SET durable.clock_offset = '1 month';
SET durable.clock_offset = 'later';
RESET durable.clock_offset;
SET ROLE regress_durable_alice;
SET durable.clock_offset = '1 day';
SET durable.max_payload_size = '10MB';
RESET ROLE;

-- privileges: executions run as their owner, with the owner's rights;
-- other roles see and control nothing of them
CREATE ROLE regress_durable_bob;
CREATE TABLE secrets (s text);
INSERT INTO secrets VALUES ('top secret');
CREATE TABLE alice_notes (who text, note text);
GRANT INSERT, SELECT ON alice_notes TO regress_durable_alice;
CREATE FUNCTION wf_whoami(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object(
    'body_user', current_user,
    'step_user', durable_step('who', 'INSERT INTO alice_notes SELECT current_user, ''hi'' RETURNING who'));
END $$;
CREATE FUNCTION wf_peek_secret(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('peek', 'SELECT s FROM secrets', NULL, '{"max_attempts": 1}');
END $$;
SET ROLE regress_durable_alice;
SELECT durable_start('wf_whoami', '{}', name => 'alice-who') IS NOT NULL AS started;
SELECT durable_start('wf_peek_secret', '{}', name => 'alice-peek') IS NOT NULL AS started;
SELECT count(*) AS alice_sees FROM durable.executions;
RESET ROLE;
-- driven by a superuser, they still run as alice
SELECT durable_drive('alice-who'), durable_drive('alice-peek');
SELECT durable_result('alice-who');
SELECT error->>'message' AS error FROM durable_status('alice-peek');
SELECT * FROM alice_notes;
-- bob can neither see, drive nor stop alice's executions
SET ROLE regress_durable_bob;
SELECT count(*) AS bob_sees FROM durable.executions;
SELECT * FROM durable_status('alice-who');
SELECT durable_drive('alice-peek');
SELECT durable_stop('alice-who');
SELECT durable_drive_pending();
-- names are per owner: bob's start of her name is his own execution
BEGIN;
SELECT durable_start('wf_sleepy', '{}', name => 'alice-who') AS bob_who \gset
SELECT durable.execution_id('alice-who') = :'bob_who' AS his_own;
ROLLBACK;
RESET ROLE;
-- alice sees her own, and members of her role or durable_admin see them too
SET ROLE regress_durable_alice;
SELECT name, status FROM durable.executions ORDER BY name;
SELECT count(*) AS alice_history FROM durable.history;
RESET ROLE;
GRANT durable_admin TO regress_durable_bob;
SET ROLE regress_durable_bob;
SELECT count(*) > 2 AS admin_sees_all FROM durable.executions;
SELECT status FROM durable_status('alice-who');
RESET ROLE;
REVOKE durable_admin FROM regress_durable_bob;

-- the body runs in security-restricted mode, and setting changes made by
-- a workflow or its steps do not leak into the caller's session
CREATE FUNCTION wf_settings(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('work_mem', '7MB', false);
  PERFORM durable_step('set', 'SELECT set_config(''statement_timeout'', ''7s'', false)');
  RETURN NULL;
END $$;
SELECT durable_start('wf_settings', '{}', name => 'settings') IS NOT NULL AS started;
SELECT durable_drive('settings');
SHOW work_mem;
SHOW statement_timeout;
CREATE FUNCTION wf_set_role(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('set-role', 'SET ROLE regress_durable_bob', NULL, '{"max_attempts": 1}');
END $$;
SELECT durable_start('wf_set_role', '{}', name => 'set-role') IS NOT NULL AS started;
SELECT durable_drive('set-role');
SELECT error->>'message' AS error FROM durable_status('set-role');

-- a workflow started under a search_path resolves names with it
CREATE SCHEMA shop;
CREATE TABLE shop.items (n int);
INSERT INTO shop.items VALUES (1), (2);
CREATE FUNCTION shop.wf_count(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('count', 'SELECT count(*) FROM items');
END $$;
SET search_path = shop, public;
SELECT durable_start('wf_count', '{}', name => 'shop-count') IS NOT NULL AS started;
RESET search_path;
SELECT durable_drive('shop-count');
SELECT durable_result('shop-count');

-- a workflow whose function was dropped fails with a clear error
CREATE FUNCTION wf_doomed(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT input $$;
SELECT durable_start('wf_doomed', '{}', name => 'doomed') IS NOT NULL AS started;
DROP FUNCTION wf_doomed(jsonb);
SELECT durable_drive('doomed');
SELECT error->>'message' AS error FROM durable_status('doomed');

-- execution_timeout: an execution past its deadline is TIMED_OUT
SELECT durable_start('wf_sleepy', '{}', name => 'deadline',
                     options => '{"execution_timeout": "1 hour"}') IS NOT NULL AS started;
SELECT durable_drive('deadline');
SELECT wake_at <= now() + interval '1 hour 1 minute' AS wakes_at_deadline FROM durable_status('deadline');
SET durable.clock_offset = '2 hours';
SELECT durable_drive('deadline');
RESET durable.clock_offset;
SELECT status, error->>'message' AS error FROM durable_status('deadline');
SELECT name, status FROM durable_operations('deadline');

-- the BI tables
SELECT status, count(*) FROM durable.executions GROUP BY status ORDER BY status;
SELECT kind, count(*) FROM durable.operations GROUP BY kind ORDER BY kind;

-- clean up the roles this suite made
DROP TABLE alice_notes;
DROP ROLE regress_durable_bob;
REVOKE USAGE ON SCHEMA app FROM regress_durable_alice;
DROP ROLE regress_durable_alice;

-- The scheduler without workers (issue 13, F1 and F2): claims take turns
-- between owners, a continue_as_new ends a committing drive, an error that
-- escapes a drive is charged to its execution (backoff, then WF018) while
-- the session drivers and the tick go on with the others, durable_await is
-- refused inside a workflow or step, and the new settings are not a role's
-- to change.  In a database of its own, so that no other test's work is
-- ready here.
\set VERBOSITY default
CREATE DATABASE regress_durable_scheduling;
\c regress_durable_scheduling
SET client_min_messages = warning;
CREATE EXTENSION durable;
RESET client_min_messages;

CREATE ROLE regress_sched_alice NOLOGIN;
CREATE ROLE regress_sched_bob NOLOGIN;
CREATE SCHEMA sched_alice AUTHORIZATION regress_sched_alice;
CREATE SCHEMA sched_bob AUTHORIZATION regress_sched_bob;

SET ROLE regress_sched_alice;
CREATE FUNCTION sched_alice.noop(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN input; END $$;
-- runs n = 0, 1, ... 3 as new runs of one execution
CREATE FUNCTION sched_alice.spin(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE n int := coalesce((input->>'n')::int, 0);
BEGIN
  IF n < 3 THEN
    PERFORM durable_continue_as_new(jsonb_build_object('n', n + 1));
  END IF;
  RETURN to_jsonb(n);
END $$;
CREATE FUNCTION sched_alice.waiter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN durable_wait_for_event('e', 'go'); END $$;
CREATE FUNCTION sched_alice.await_in_body(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN to_jsonb(durable_await('fair-a1', '1 second')); END $$;
CREATE FUNCTION sched_alice.await_in_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('await', 'SELECT to_jsonb(durable_await(''fair-a1'', ''1 second''))',
                      NULL, '{"max_attempts": 1}');
END $$;
RESET ROLE;
SET ROLE regress_sched_bob;
CREATE FUNCTION sched_bob.noop(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN input; END $$;
RESET ROLE;

-- the order in which executions named like a pattern were first driven
CREATE FUNCTION started_order(pattern text) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(e.name, ' ' ORDER BY h.event_id)
    FROM durable.history h JOIN durable.executions e ON e.id = h.execution_id
   WHERE h.event = 'started' AND e.name LIKE pattern $$;
CREATE FUNCTION finished_order(pattern text) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(e.name, ' ' ORDER BY h.event_id)
    FROM durable.history h JOIN durable.executions e ON e.id = h.execution_id
   WHERE h.event IN ('succeeded', 'failed') AND e.name LIKE pattern $$;

-- ----------------------------------------------------------------------
-- claims take turns between owners: alice's three executions were ready
-- first, yet bob's are not driven after all of hers
-- ----------------------------------------------------------------------
SET ROLE regress_sched_alice;
SELECT count(durable_start('sched_alice.noop', '{}', name => 'fair-a' || g)) FROM generate_series(1, 3) g;
SET ROLE regress_sched_bob;
SELECT count(durable_start('sched_bob.noop', '{}', name => 'fair-b' || g)) FROM generate_series(1, 2) g;
RESET ROLE;
SELECT durable_drive_pending() AS drove;
SELECT started_order('fair-%');

-- ----------------------------------------------------------------------
-- a continue_as_new ends a committing drive: bob's execution, ready after
-- alice's spin, finishes before it
-- ----------------------------------------------------------------------
SET ROLE regress_sched_alice;
SELECT durable_start('sched_alice.spin', '{}', name => 'yield-spin') IS NOT NULL AS started;
SET ROLE regress_sched_bob;
SELECT durable_start('sched_bob.noop', '{}', name => 'yield-bob') IS NOT NULL AS started;
RESET ROLE;
CALL durable_run('30 seconds');
SELECT finished_order('yield-%');
SELECT status, result, run_no FROM durable.executions WHERE name = 'yield-spin';

-- ----------------------------------------------------------------------
-- an error that escapes a drive: a malformed message (an event whose
-- parking collides with a row already there) poisons alice's execution
-- ----------------------------------------------------------------------
SET ROLE regress_sched_alice;
SELECT durable_start('sched_alice.waiter', '{}', name => 'poison') IS NOT NULL AS started;
SELECT durable_drive('poison');
RESET ROLE;
INSERT INTO durable.events (execution_id, event_id, name, owner, sent_at)
  SELECT id, 1000000000, 'junk', owner, now() FROM durable.executions WHERE name = 'poison';
INSERT INTO durable.inbox (execution_id, message_id, kind, payload, owner, created_at)
  OVERRIDING SYSTEM VALUE
  SELECT id, 1000000000, 'event', '{"event": "junk"}', owner, now()
    FROM durable.executions WHERE name = 'poison';
-- durable_drive of that one execution raises the error
\set VERBOSITY terse
SELECT durable_drive('poison');
\set VERBOSITY default
SELECT status FROM durable.executions WHERE name = 'poison';

-- a session driver charges it to the execution and drives the others
SET ROLE regress_sched_alice;
SELECT durable_start('sched_alice.noop', '{}', name => 'p-alice') IS NOT NULL AS started;
SET ROLE regress_sched_bob;
SELECT durable_start('sched_bob.noop', '{}', name => 'p-bob1') IS NOT NULL AS started;
RESET ROLE;
SELECT durable_drive_pending() > 0 AS drove;
SELECT name, status FROM durable.executions WHERE name LIKE 'p-%' OR name = 'poison' ORDER BY name;
SELECT q.drive_errors, q.retry_at > now() AS backing_off, q.retry_at = q.due_at AS due_then,
       q.retry_at < now() + interval '2 seconds' AS first_delay_1s
  FROM durable.queue q JOIN durable.executions e ON e.id = q.execution_id WHERE e.name = 'poison';
SELECT h.details->>'errors' AS errors, h.details->>'sqlstate' AS sqlstate, h.details->>'message' AS message
  FROM durable.history h JOIN durable.executions e ON e.id = h.execution_id
 WHERE e.name = 'poison' AND h.event = 'drive_error' ORDER BY h.event_id;

-- while it backs off, no driver takes it, by its queue row or its message
SELECT durable_drive_pending() AS drove;
SELECT q.drive_errors FROM durable.queue q JOIN durable.executions e ON e.id = q.execution_id
 WHERE e.name = 'poison';

-- 2 seconds later it is tried again, and backs off 2 seconds
SET durable.clock_offset = '2 seconds';
SELECT durable_drive_pending() AS drove;
SELECT q.drive_errors, q.retry_at > now() + interval '3 seconds' AS second_delay_2s
  FROM durable.queue q JOIN durable.executions e ON e.id = q.execution_id WHERE e.name = 'poison';

-- the tick drives the others and fails it at durable.max_drive_errors (3)
SET ROLE regress_sched_bob;
SELECT durable_start('sched_bob.noop', '{}', name => 'p-bob2') IS NOT NULL AS started;
RESET ROLE;
SET durable.clock_offset = '10 seconds';
CALL durable_tick();
SELECT name, status FROM durable.executions WHERE name LIKE 'p-%' OR name = 'poison' ORDER BY name;
SELECT error->>'sqlstate' AS sqlstate, error->>'message' AS message, error->>'detail' AS detail,
       error->>'hint' AS hint
  FROM durable.executions WHERE name = 'poison';
SELECT count(*) AS drive_error_events FROM durable.history h JOIN durable.executions e ON e.id = h.execution_id
 WHERE e.name = 'poison' AND h.event = 'drive_error';
-- its queue row is gone, and the next claim drops the message
SELECT count(*) AS queued FROM durable.queue q JOIN durable.executions e ON e.id = q.execution_id
 WHERE e.name = 'poison';
SELECT durable_drive_pending() AS drove;
SELECT count(*) AS messages FROM durable.inbox;
RESET durable.clock_offset;

-- ----------------------------------------------------------------------
-- durable_await is refused inside a workflow body and inside a step
-- ----------------------------------------------------------------------
SET ROLE regress_sched_alice;
SELECT durable_start('sched_alice.await_in_body', '{}', name => 'await-body') IS NOT NULL AS started;
SELECT durable_drive('await-body');
SELECT error->>'message' AS message, error->>'hint' AS hint FROM durable_status('await-body');
SELECT durable_start('sched_alice.await_in_step', '{}', name => 'await-step') IS NOT NULL AS started;
SELECT durable_drive('await-step');
SELECT error->>'sqlstate' AS sqlstate, error->>'detail' AS detail FROM durable_status('await-step');
RESET ROLE;

-- ----------------------------------------------------------------------
-- settings: documented defaults, and no role sets its own
-- ----------------------------------------------------------------------
SHOW durable.drive_slice;
SHOW durable.max_drive_errors;
SET ROLE regress_sched_alice;
SET durable.drive_slice = '1h';
SET durable.max_drive_errors = 1000;
RESET ROLE;
SET durable.max_drive_errors = 0;

-- ----------------------------------------------------------------------
-- on a schema of 1.1 (before ALTER EXTENSION UPDATE) claims work, and a
-- drive error is raised as before: there is nowhere to count it
-- ----------------------------------------------------------------------
CREATE DATABASE regress_durable_sched11;
\c regress_durable_sched11
SET client_min_messages = warning;
CREATE EXTENSION durable VERSION '1.1';
RESET client_min_messages;
CREATE FUNCTION noop(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN input; END $$;
CREATE FUNCTION waiter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN durable_wait_for_event('e', 'go'); END $$;
SELECT durable_start('noop', '{}', name => 'v11-noop') IS NOT NULL AS started;
SELECT durable_start('waiter', '{}', name => 'v11-poison') IS NOT NULL AS started;
SELECT durable_drive_pending() AS drove;
SELECT name, status FROM durable.executions ORDER BY name;
INSERT INTO durable.events (execution_id, event_id, name, owner, sent_at)
  SELECT id, 1000000000, 'junk', owner, now() FROM durable.executions WHERE name = 'v11-poison';
INSERT INTO durable.inbox (execution_id, message_id, kind, payload, owner, created_at)
  OVERRIDING SYSTEM VALUE
  SELECT id, 1000000000, 'event', '{"event": "junk"}', owner, now()
    FROM durable.executions WHERE name = 'v11-poison';
\set VERBOSITY terse
SELECT durable_drive_pending() AS drove;
\set VERBOSITY default
-- after the update it is counted
ALTER EXTENSION durable UPDATE;
SELECT durable_drive_pending() AS drove;
SELECT q.drive_errors FROM durable.queue q JOIN durable.executions e ON e.id = q.execution_id
 WHERE e.name = 'v11-poison';

\c contrib_regression
DROP DATABASE regress_durable_scheduling;
DROP DATABASE regress_durable_sched11;
DROP ROLE regress_sched_alice;
DROP ROLE regress_sched_bob;

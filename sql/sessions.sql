-- Session drivers (durable_drive, durable_drive_pending, CALL durable_run) leave
-- the caller's session as they found it; DROP ROLE of a role with executions in
-- flight, system functions as workflows, durable_purge of a huge interval.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
RESET client_min_messages;
\set VERBOSITY default
CREATE ROLE regress_sessions_alice;
CREATE ROLE regress_sessions_bob;
CREATE SCHEMA sessions;
GRANT USAGE ON SCHEMA sessions TO PUBLIC;
CREATE SEQUENCE sessions.seq START 424242;
GRANT USAGE ON SEQUENCE sessions.seq TO PUBLIC;

-- a step that leaves an advisory lock (4242), takes the caller's lock (4243) once
-- more, uses a sequence, seeds random() and plants a function in pg_temp
CREATE FUNCTION sessions.leaky(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('leak', $q$SELECT pg_advisory_lock(4242), pg_advisory_lock(4243),
                                  nextval('sessions.seq'), setseed(0.5)$q$);
  PERFORM durable_step('plant', $q$CREATE FUNCTION pg_temp.planted() RETURNS int
                                  LANGUAGE sql AS 'SELECT 1'$q$);
  RETURN '"leaked"';
END $$;
-- a step that lets go of every advisory lock of the session
CREATE FUNCTION sessions.unlocker(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('unlock', 'SELECT pg_advisory_unlock_all()');
  RETURN '"unlocked"';
END $$;
-- a step that takes a lock and then fails the drive with an error
CREATE FUNCTION sessions.crasher(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('lock', 'SELECT pg_advisory_lock(4244), setseed(0.5)');
  PERFORM durable_step('spin', 'SELECT pg_sleep(5)');
  RETURN '"never"';
END $$;
CREATE FUNCTION sessions.waiter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('nap', interval '1 hour');
  RETURN '"woke"';
END $$;

-- what random() returns right after setseed(0.5)
SELECT setseed(0.5);
SELECT random() AS seeded \gset

-- the caller: its own temporary table, its own advisory lock 4243 held twice,
-- no lastval()
CREATE TEMP TABLE mine (x int);
SELECT pg_advisory_lock(4243), pg_advisory_lock(4243);
SET ROLE regress_sessions_alice;
SELECT durable_start('sessions.leaky', '{}', 'sessions-leaky-1') IS NOT NULL AS started;
RESET ROLE;
DISCARD SEQUENCES;

-- durable_drive
SELECT durable_drive('sessions-leaky-1');
SELECT result FROM durable.executions WHERE name = 'sessions-leaky-1';
-- its own lock is still held, twice; the step's is not
SELECT objid, mode FROM pg_locks
 WHERE pid = pg_backend_pid() AND locktype = 'advisory' ORDER BY objid;
SELECT pg_advisory_unlock(4243) AS first, pg_advisory_unlock(4243) AS second;
SELECT count(*) AS advisory_left FROM pg_locks
 WHERE pid = pg_backend_pid() AND locktype = 'advisory';
-- no sequence value of the drive is visible
SELECT lastval();
SELECT currval('sessions.seq');
-- random() is not what setseed(0.5) makes it
SELECT random() <> :seeded AS unpredictable;
-- the planted function is gone, the caller's temporary table is not
SELECT count(*) AS temp_functions FROM pg_proc WHERE pronamespace = pg_my_temp_schema();
SELECT count(*) AS mine FROM mine;

-- a step that releases the caller's lock: the lock is taken back
SELECT pg_advisory_lock(4245);
SET ROLE regress_sessions_alice;
SELECT durable_start('sessions.unlocker', '{}', 'sessions-unlocker') IS NOT NULL AS started;
RESET ROLE;
SELECT durable_drive('sessions-unlocker');
SELECT objid FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory';
SELECT pg_advisory_unlock(4245);

-- durable_drive_pending and CALL durable_run, as alice with a lock of her own
SET ROLE regress_sessions_alice;
SELECT durable_start('sessions.leaky', '{}', 'sessions-leaky-' || i) IS NOT NULL AS started
  FROM generate_series(2, 3) i;
SELECT pg_advisory_lock(4243);
SELECT durable_drive_pending('1 minute');
SELECT objid FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory';
SELECT lastval();
SELECT random() <> :seeded AS unpredictable;
SELECT durable_start('sessions.leaky', '{}', 'sessions-leaky-' || i) IS NOT NULL AS started
  FROM generate_series(4, 5) i;
CALL durable_run('1 minute');
SELECT objid FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory';
SELECT lastval();
SELECT random() <> :seeded AS unpredictable;
SELECT name, status FROM durable.executions WHERE name LIKE 'sessions-leaky-%' ORDER BY name;
SELECT pg_advisory_unlock(4243);
RESET ROLE;

-- one execution's session state does not reach the next one of the same call:
-- bob's step, driven right after alice's leaky one, sees no advisory lock and
-- no seeded random()
CREATE FUNCTION sessions.probe(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('probe', $q$SELECT jsonb_build_object(
    'locks', (SELECT count(*) FROM pg_locks
               WHERE pid = pg_backend_pid() AND locktype = 'advisory'),
    'seeded', random() = ($1->>'seeded')::float8)$q$, input);
END $$;
CREATE ROLE regress_sessions_ops IN ROLE regress_sessions_alice, regress_sessions_bob;
SET ROLE regress_sessions_alice;
SELECT durable_start('sessions.leaky', '{}', 'sessions-leaky-6') IS NOT NULL AS started;
SET ROLE regress_sessions_bob;
SELECT durable_start('sessions.probe', jsonb_build_object('seeded', :seeded),
                     'sessions-probe') IS NOT NULL AS started;
SET ROLE regress_sessions_ops;
SELECT durable_drive_pending('1 minute');
RESET ROLE;
SELECT name, status, result FROM durable.executions
 WHERE name IN ('sessions-leaky-6', 'sessions-probe') ORDER BY name;
DROP ROLE regress_sessions_ops;

-- a drive that ends in an error: the step's lock is released all the same
SET ROLE regress_sessions_alice;
SELECT durable_start('sessions.crasher', '{}', 'sessions-crasher') IS NOT NULL AS started;
RESET ROLE;
SET statement_timeout = '1s';
SELECT durable_drive('sessions-crasher');
RESET statement_timeout;
SELECT count(*) AS advisory_left FROM pg_locks
 WHERE pid = pg_backend_pid() AND locktype = 'advisory';
SELECT random() <> :seeded AS unpredictable;
SELECT durable_stop('sessions-crasher') IS NOT NULL AS stopped;

-- DROP ROLE of a role that owns an unfinished execution is refused
SET ROLE regress_sessions_bob;
SELECT durable_start('sessions.waiter', '{}', 'sessions-bob') IS NOT NULL AS started;
RESET ROLE;
SELECT durable_drive('sessions-bob');
DROP ROLE regress_sessions_bob;
DROP ROLE IF EXISTS regress_sessions_nobody, regress_sessions_bob;
DO $$
BEGIN
  DROP ROLE regress_sessions_bob;
EXCEPTION WHEN dependent_objects_still_exist THEN
  RAISE NOTICE 'DROP ROLE refused with SQLSTATE %', SQLSTATE;
END $$;
-- a role that may not drop roles gets PostgreSQL's refusal, and no counts
SET ROLE regress_sessions_alice;
DROP ROLE regress_sessions_bob;
RESET ROLE;
SELECT rolname FROM pg_roles WHERE rolname = 'regress_sessions_bob';
SELECT durable_stop('sessions-bob');
DROP ROLE regress_sessions_bob;

-- system functions are not workflows
SELECT durable_start('pg_catalog.jsonb_strip_nulls', '{}');
SELECT durable_start('jsonb_strip_nulls', '{}');
SELECT durable_schedule('sessions-sys', '* * * * *', 'pg_catalog.jsonb_strip_nulls');
CREATE FUNCTION sessions.invoker(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_invoke('kid', 'pg_catalog.jsonb_strip_nulls', '{}');
END $$;
SELECT durable_start('sessions.invoker', '{}', 'sessions-invoker') IS NOT NULL AS started;
SELECT durable_drive('sessions-invoker');
SELECT error->>'message' AS error FROM durable.executions WHERE name = 'sessions-invoker';
SELECT count(*) AS system_workflows FROM durable.executions WHERE workflow LIKE 'pg_catalog.%';

-- durable_purge of more than the calendar holds purges nothing
SELECT durable_purge('1000000 years') AS purged;
SELECT durable_purge('178000000 years', '{SUCCEEDED}') AS purged;
SELECT count(*) > 0 AS still_there FROM durable.executions WHERE name LIKE 'sessions-%';

-- clean up
DROP SCHEMA sessions CASCADE;
DROP ROLE regress_sessions_alice;

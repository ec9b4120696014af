-- ALTER EXTENSION durable UPDATE from 1.0 to the current version with executions in flight,
-- in a database of its own.
\set VERBOSITY default
CREATE DATABASE regress_durable_upgrade;
\c regress_durable_upgrade
SET client_min_messages = warning;
CREATE EXTENSION durable VERSION '1.0';
RESET client_min_messages;
SELECT extversion FROM pg_extension WHERE extname = 'durable';
SELECT to_regprocedure('durable_redrive(text)') IS NULL AS no_redrive_yet;

-- executions of 1.0 waiting on a callback, a timer, an event and a child
CREATE TABLE outbox (callback_id text);
CREATE FUNCTION wf_cb(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('before', 'SELECT 1');
  RETURN durable_wait_for_callback('approve', 'INSERT INTO outbox VALUES ($1)');
END $$;
CREATE FUNCTION wf_timer(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('nap', interval '1 hour');
  RETURN '"woke"';
END $$;
CREATE FUNCTION wf_event(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_event('e', 'go');
END $$;
CREATE FUNCTION wf_parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_invoke('kid', 'wf_event', '{}');
END $$;
SELECT durable_start('wf_cb', '{}', 'u-cb') IS NOT NULL AS started,
       durable_start('wf_timer', '{}', 'u-timer') IS NOT NULL AS started,
       durable_start('wf_event', '{}', 'u-event') IS NOT NULL AS started,
       durable_start('wf_parent', '{}', 'u-parent') IS NOT NULL AS started;
SELECT durable_drive('u-cb'), durable_drive('u-timer'), durable_drive('u-event'),
       durable_drive('u-parent');
SELECT durable_drive(child_id::text) AS kid FROM durable.children;
SELECT name, status FROM durable.executions ORDER BY name NULLS LAST;

-- the update, with all four suspended
ALTER EXTENSION durable UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'durable';
SELECT to_regprocedure('durable_redrive(text)') IS NOT NULL AS redrive,
       to_regprocedure('durable_patched(text)') IS NOT NULL AS patched,
       to_regprocedure('durable_purge(interval, text[])') IS NOT NULL AS purge;
SELECT count(*) AS duration_columns FROM pg_attribute
 WHERE attrelid IN ('durable.executions'::regclass, 'durable.operations'::regclass)
   AND attname = 'duration';
SELECT relname, relrowsecurity FROM pg_class
 WHERE oid IN ('durable.secrets'::regclass, 'durable.secret_grants'::regclass) ORDER BY relname;

-- every one of them completes
SELECT durable_callback_success((SELECT callback_id FROM outbox), '"approved"');
SELECT durable_send_event('u-event', 'go', '{"n": 1}');
SELECT durable_send_event(child_id::text, 'go', '{"n": 2}') FROM durable.children;
SET durable.clock_offset = '2 hours';
SELECT durable_drive('u-cb'), durable_drive('u-timer'), durable_drive('u-event');
SELECT durable_drive(child_id::text) AS kid FROM durable.children;
SELECT durable_drive('u-parent');
SELECT name, status, result, duration >= '0' AS timed FROM durable.executions
 ORDER BY name NULLS LAST;
SELECT count(*) AS operations_with_duration FROM durable.operations WHERE duration IS NOT NULL;

-- and the new functions work on them
SELECT durable_purge('0 seconds', '{SUCCEEDED}') AS purged;
SELECT count(*) AS left FROM durable.executions;
RESET durable.clock_offset;

-- the update path and a fresh install define the same objects
SELECT count(*) AS objects FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
 WHERE e.extname = 'durable' AND d.deptype = 'e' \gset
DROP EXTENSION durable;
SET client_min_messages = warning;
CREATE EXTENSION durable;
RESET client_min_messages;
SELECT count(*) = :objects AS same_objects FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
 WHERE e.extname = 'durable' AND d.deptype = 'e';

\c contrib_regression
DROP DATABASE regress_durable_upgrade;

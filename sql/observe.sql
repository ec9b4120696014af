-- durable_await, durable.stats and NOTIFY durable_status without workers
-- (the regression instance preloads durable with durable.max_workers = 0)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;

CREATE FUNCTION obs_wf(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb;
BEGIN
  a := durable_step('one', 'SELECT 1');
  RETURN a;
END $$;

-- bad inputs: each is an error and changes nothing
SELECT durable_await('no-such-execution');
SELECT durable_await(NULL);
SELECT durable_start('obs_wf', '{}', name => 'obs-1') IS NOT NULL AS started;
SELECT durable_await('obs-1', interval '-1 second');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT durable_await('obs-1', '1 second');
ROLLBACK;
BEGIN;
SELECT durable_start('obs_wf', '{}', name => 'obs-mine') IS NOT NULL AS started;
SELECT durable_await('obs-mine', '10 seconds');  -- could never finish
ROLLBACK;
SELECT count(*) FROM durable.executions WHERE name = 'obs-mine';

-- a timeout returns the status as it is; a finished execution returns at once
SELECT durable_await('obs-1', '10 milliseconds');
SELECT durable_drive('obs-1');
SELECT durable_await('obs-1');
SELECT durable_await(durable.execution_id('obs-1')::text, '0 seconds');

-- another role's executions are not visible to durable_await
CREATE ROLE obs_other;
SET ROLE obs_other;
SELECT durable_await('obs-1', '1 second');
RESET ROLE;
DROP ROLE obs_other;

-- durable.stats: counters since the server started, added at commit only
CREATE TEMP TABLE stats_before AS SELECT * FROM durable.stats;
BEGIN;
SELECT durable_start('obs_wf', '{}', name => 'obs-rolled-back') IS NOT NULL AS started;
ROLLBACK;
SELECT s.started - b.started AS started_after_rollback
  FROM durable.stats s, stats_before b;
SELECT durable_start('obs_wf', '{}', name => 'obs-2') IS NOT NULL AS started;
SELECT durable_drive('obs-2');
SELECT s.started - b.started AS started, s.succeeded - b.succeeded AS succeeded,
       s.steps - b.steps AS steps, s.workers, s.since <= now() AS since_ok
  FROM durable.stats s, stats_before b;

-- (NOTIFY durable_status is tested in test/t/008_runtime.pl: psql prints
-- the notifying backend's pid, which changes from run to run)
-- bad values of durable.notify
SET durable.notify = 'sometimes';

-- The pg_cron side without pg_cron: CALL durable_tick() drives, fires
-- timers, enforces timeouts and purges; the schedule functions reject bad
-- input, change nothing when they do, and say that they need pg_cron.
-- (test/t/003_cron.pl runs them with pg_cron.)
\set VERBOSITY default

-- a fresh extension, so that the tick sees only this file's executions;
-- pg_cron is not installed here, so no job is scheduled
DROP EXTENSION durable CASCADE;
CREATE EXTENSION durable;
SELECT count(*) AS cron_schemas FROM pg_namespace WHERE nspname = 'cron';

-- the SQLSTATE, message and hint of an error
CREATE FUNCTION cron_err(sql text, OUT code text, OUT message text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  code := 'none';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          hint = PG_EXCEPTION_HINT;
END $$;

CREATE FUNCTION wf_tick(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb;
BEGIN
  a := durable_step('first', 'SELECT 1');
  PERFORM durable_wait('an-hour', interval '1 hour');
  RETURN jsonb_build_object('a', a, 'b', durable_step('second', 'SELECT 2'));
END $$;
CREATE FUNCTION not_a_workflow(input jsonb) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;

-- without pg_cron: enable says what is missing, disable has nothing to do
SELECT * FROM cron_err('SELECT durable_cron_enable()');
SELECT durable_cron_disable() AS disabled;

-- bad input to durable_schedule; the arguments are checked before pg_cron
SELECT * FROM cron_err($$SELECT durable_schedule(NULL, '* * * * *', 'wf_tick')$$);
SELECT * FROM cron_err($$SELECT durable_schedule('', '* * * * *', 'wf_tick')$$);
SELECT * FROM cron_err($$SELECT durable_schedule(E'a\nb', '* * * * *', 'wf_tick')$$);
SELECT * FROM cron_err($$SELECT durable_schedule(repeat('s', 183), '* * * * *', 'wf_tick')$$);
SELECT * FROM cron_err($$SELECT durable_schedule('s', NULL, 'wf_tick')$$);
SELECT * FROM cron_err($$SELECT durable_schedule('s', '* * * * *', NULL)$$);
SELECT * FROM cron_err($$SELECT durable_schedule('s', '* * * * *', 'no_such_workflow')$$);
SELECT * FROM cron_err($$SELECT durable_schedule('s', '* * * * *', 'not_a_workflow')$$);
SELECT * FROM cron_err($$SELECT durable_schedule('s', '* * * * *', 'wf_tick', NULL)$$);
SELECT * FROM cron_err($$SELECT durable_schedule('s', '* * * * *', 'wf_tick', '{}', '[]')$$);
SELECT * FROM cron_err($$SELECT durable_schedule('s', '* * * * *', 'wf_tick', '{}', '{"retention": "-1 day"}')$$);
SELECT * FROM cron_err($$SELECT durable_schedule('s', '* * * * *', 'wf_tick', '{}', '{"timeout": "1 day"}')$$);
-- good arguments: then what is missing is pg_cron
SELECT * FROM cron_err($$SELECT durable_schedule(repeat('s', 182), '* * * * *', 'wf_tick', '{}', '{"retention": "1 day"}')$$);
SELECT * FROM cron_err($$SELECT durable_unschedule(NULL)$$);
SELECT * FROM cron_err($$SELECT durable_unschedule('no-such-schedule')$$);
SELECT * FROM cron_err($$SELECT durable.schedule_fire('no-such-schedule')$$);
-- none of it left anything behind
SELECT (SELECT count(*) FROM durable.schedules) AS schedules,
       (SELECT count(*) FROM durable.executions) AS executions;

-- what a schedule's job runs, on a row made by hand (pg_cron would have
-- made the job): two fires in one minute start one execution, named after
-- the schedule and the minute, with the schedule's workflow, input and
-- options, under the scheduling session's search_path
INSERT INTO durable.schedules (name, owner, schedule, workflow, input, options,
                               search_path, jobid, created_at)
VALUES ('nightly', current_user::regrole, '0 3 * * *', 'public.wf_tick', '{"n": 1}',
        '{"tags": {"kind": "nightly"}}', 'pg_temp, public', 0, now());
SELECT count(DISTINCT durable.schedule_fire('nightly')) AS executions_of_two_fires
  FROM generate_series(1, 2);
SELECT name ~ '^nightly@\d{4}-\d\d-\d\dT\d\d:\d\dZ$' AS named_by_minute,
       substr(name, 9, 16) = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') AS this_minute,
       workflow, input, tags, search_path, status
  FROM durable.executions;
SELECT durable_stop(id::text) FROM durable.executions WHERE name LIKE 'nightly@%';
-- only the owner fires it; others do not see it
CREATE ROLE regress_cron_carol;
SET ROLE regress_cron_carol;
SELECT count(*) AS schedules_carol_sees FROM durable.schedules;
SELECT * FROM cron_err($$SELECT durable.schedule_fire('nightly')$$);
SELECT * FROM cron_err($$SELECT durable_unschedule('nightly')$$);
-- the tick is an admin job
SELECT * FROM cron_err('CALL durable_tick()');
SELECT * FROM cron_err('SELECT durable_cron_enable()');
RESET ROLE;
-- without pg_cron, unschedule removes the row
SELECT durable_unschedule('nightly');
SELECT count(*) AS schedules FROM durable.schedules;

-- the tick: CALL outside a transaction block only
BEGIN;
CALL durable_tick();
ROLLBACK;

-- with no worker running, the tick drives ready executions
SELECT durable_start('wf_tick', '{"k": 1}', name => 'tick-plain') IS NOT NULL AS started;
SELECT durable_start('wf_tick', '{"k": 2}', name => 'tick-timeout',
                     options => '{"execution_timeout": "30 minutes"}') IS NOT NULL AS started;
SELECT durable_start('wf_tick', '{"k": 3}', name => 'tick-retained',
                     options => '{"retention": "1 day"}') IS NOT NULL AS started;
CALL durable_tick();
SELECT s.name, s.status, s.current_operation
  FROM durable.executions e, durable_status(e.id::text) s
 WHERE e.name LIKE 'tick-%' ORDER BY 1;

-- durable.tick_duration = 0: the tick drives nothing
SET durable.tick_duration = 0;
SELECT durable_start('wf_tick', '{"k": 4}', name => 'tick-idle') IS NOT NULL AS started;
CALL durable_tick();
SELECT status FROM durable_status('tick-idle');
RESET durable.tick_duration;
SELECT * FROM cron_err($$SET durable.tick_duration = '1 min'$$);

-- 40 minutes on: the execution timeout is enforced, the timers wait on
SET durable.clock_offset = '40 minutes';
CALL durable_tick();
SELECT name, status, error->>'message' AS error FROM durable.executions
 WHERE name LIKE 'tick-%' ORDER BY name;

-- 2 hours on: the timers fire
SET durable.clock_offset = '2 hours';
CALL durable_tick();
SELECT name, status, result FROM durable.executions WHERE name LIKE 'tick-%' ORDER BY name;

-- a day and 3 hours on: executions past their retention are purged from
-- every table, and their names are free again; the others stay
SET durable.clock_offset = '27 hours';
SELECT id AS retained_id FROM durable.executions WHERE name = 'tick-retained' \gset
CALL durable_tick();
SELECT name, status FROM durable.executions WHERE name LIKE 'tick-%' ORDER BY name;
SELECT (SELECT count(*) FROM durable.executions WHERE id = :'retained_id') AS executions,
       (SELECT count(*) FROM durable.operations WHERE execution_id = :'retained_id') AS operations,
       (SELECT count(*) FROM durable.history WHERE execution_id = :'retained_id') AS history,
       (SELECT count(*) FROM durable.queue WHERE execution_id = :'retained_id') AS queue,
       (SELECT count(*) FROM durable.inbox WHERE execution_id = :'retained_id') AS inbox,
       (SELECT count(*) FROM durable.names WHERE execution_id = :'retained_id') AS names;
SELECT durable_start('wf_tick', '{"other": "input"}', name => 'tick-retained') <> :'retained_id'
  AS name_reused;
SELECT count(*) AS names FROM durable.names;
RESET durable.clock_offset;

-- a member of durable_admin may run the tick
GRANT durable_admin TO regress_cron_carol;
SET ROLE regress_cron_carol;
CALL durable_tick();
RESET ROLE;

DROP FUNCTION cron_err(text);
DROP ROLE regress_cron_carol;

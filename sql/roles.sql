-- What one role sees of another's names (issue 13, F5 and F6): execution
-- and schedule names are per owner; a name resolves to the caller's own
-- execution first, then to the one it may see among the roles it
-- controls, and is ambiguous when it may see several; idempotent starts
-- are unchanged; a schedule's fires cannot be squatted; the NOTIFY channel
-- of a role's executions.
\set VERBOSITY default

CREATE ROLE regress_roles_alice;
CREATE ROLE regress_roles_bob;
CREATE ROLE regress_roles_carol IN ROLE durable_admin;
CREATE ROLE regress_roles_dave IN ROLE regress_roles_alice;
CREATE ROLE regress_roles_mallory;
CREATE FUNCTION roles_wf(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT input $$;
CREATE FUNCTION roles_wf2(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT input $$;
-- the SQLSTATE and message of an error, ids masked
CREATE FUNCTION roles_err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM,
    '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g');
END $$;
-- whose execution a name resolves to, for the current role
CREATE FUNCTION roles_owner_of(execution text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE o text;
BEGIN
  SELECT owner::text INTO o FROM durable.executions WHERE id = durable.execution_id(execution);
  RETURN o;
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- ----------------------------------------------------------------------
-- two roles use the same name: no collision, no oracle
-- ----------------------------------------------------------------------
SET ROLE regress_roles_alice;
SELECT durable_start('roles_wf', '{"who": "alice"}', name => 'order-42') AS alice_id \gset
SELECT durable_start('roles_wf', '{"who": "alice"}', name => 'alice-only') IS NOT NULL AS started;
RESET ROLE;
SET ROLE regress_roles_bob;
-- the name alice uses is free for bob: a new execution, no "already in use"
SELECT durable_start('roles_wf', '{"who": "bob"}', name => 'order-42') AS bob_id \gset
SELECT :'bob_id' <> :'alice_id' AS another_execution;
-- bob sees his own by that name, and nothing of alice's
SELECT id = :'bob_id' AS his_own, name FROM durable_status('order-42');
SELECT roles_err($$SELECT * FROM durable_status('alice-only')$$) AS alice_only;
SELECT count(*) AS bob_sees FROM durable.executions;
-- idempotent starts of his own name are unchanged
SELECT durable_start('roles_wf', '{"who": "bob"}', name => 'order-42') = :'bob_id' AS same_execution;
SELECT roles_err($$SELECT durable_start('roles_wf', '{"who": "eve"}', name => 'order-42')$$) AS other_input;
SELECT roles_err($$SELECT durable_start('roles_wf2', '{"who": "bob"}', name => 'order-42')$$) AS other_workflow;
RESET ROLE;
SET ROLE regress_roles_alice;
SELECT id = :'alice_id' AS her_own, name FROM durable_status('order-42');
SELECT durable_start('roles_wf', '{"who": "alice"}', name => 'order-42') = :'alice_id' AS same_execution;
SELECT count(*) AS alice_sees FROM durable.executions;
RESET ROLE;
SELECT count(*) AS names_of_order_42 FROM durable.names WHERE name = 'order-42';

-- ----------------------------------------------------------------------
-- roles that control others: own first, then the one they may see, and
-- an error naming the way out when they may see several
-- ----------------------------------------------------------------------
-- dave, a member of alice, sees alice's and not bob's
SET ROLE regress_roles_dave;
SELECT roles_owner_of('order-42') AS dave_order_42, roles_owner_of('alice-only') AS dave_alice_only;
RESET ROLE;
-- carol (durable_admin) sees both: ambiguous, and the id always works
SET ROLE regress_roles_carol;
SELECT * FROM durable_status('order-42');
SELECT roles_owner_of('alice-only') AS carol_alice_only,
       roles_owner_of(:'bob_id') AS carol_by_id;
SELECT roles_err(format('SELECT durable_stop(%L)', 'order-42')) AS stop_ambiguous;
-- once she has an execution of that name, it is hers that the name means
SELECT durable_start('roles_wf', '{"who": "carol"}', name => 'order-42') IS NOT NULL AS started;
SELECT roles_owner_of('order-42') AS carol_order_42;
RESET ROLE;
-- superusers are like durable_admin
SELECT roles_owner_of('alice-only') AS su_alice_only, roles_err($$SELECT durable.execution_id('order-42')$$) AS su_order_42;

-- ----------------------------------------------------------------------
-- schedules: per owner, and their fires' names cannot be squatted
-- ----------------------------------------------------------------------
-- schedule rows made by hand (pg_cron is not installed here): alice and
-- bob each have one named 'nightly'
INSERT INTO durable.schedules (name, owner, schedule, workflow, input, options,
                               search_path, jobid, created_at)
VALUES ('nightly', 'regress_roles_alice', '0 3 * * *', 'public.roles_wf', '{"who": "alice-cron"}',
        '{}', 'public', 0, now()),
       ('nightly', 'regress_roles_bob', '0 4 * * *', 'public.roles_wf', '{"who": "bob-cron"}',
        '{}', 'public', 0, now());
-- mallory claims the names alice's fires will use in the next minutes
SET ROLE regress_roles_mallory;
SELECT count(durable_start('roles_wf', '{"squat": true}',
                           name => 'nightly@' || to_char(date_trunc('minute', statement_timestamp() AT TIME ZONE 'UTC')
                                                         + m * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI"Z"')))
       AS squatted
  FROM generate_series(0, 3) m;
RESET ROLE;
-- what pg_cron runs for alice's schedule: it starts her execution anyway
SET ROLE regress_roles_alice;
SELECT durable.schedule_fire('nightly') AS fire_id \gset
SELECT owner, input, name LIKE 'nightly@%' AS named_by_minute
  FROM durable.executions WHERE id = :'fire_id';
RESET ROLE;
-- bob's fire starts his own schedule's execution, not alice's, and no
-- other role can fire a schedule that is not its own
SET ROLE regress_roles_bob;
SELECT durable.schedule_fire('nightly') AS bob_fire_id \gset
SELECT owner, input FROM durable.executions WHERE id = :'bob_fire_id';
SELECT count(*) AS bob_sees_schedules FROM durable.schedules;
SELECT roles_err($$SELECT durable_unschedule('nightly')$$) AS bob_unschedules;
SELECT count(*) AS bob_schedules_left FROM durable.schedules;
RESET ROLE;
SET ROLE regress_roles_carol;
SELECT roles_err($$SELECT durable.schedule_fire('nightly')$$) AS carol_fires;
RESET ROLE;
SELECT owner, input FROM durable.schedules WHERE name = 'nightly';
-- an admin that sees two schedules of a name is asked to be precise
INSERT INTO durable.schedules (name, owner, schedule, workflow, input, options,
                               search_path, jobid, created_at)
VALUES ('nightly', 'regress_roles_bob', '0 4 * * *', 'public.roles_wf', '{}', '{}', 'public', 0, now());
SET ROLE regress_roles_carol;
SELECT roles_err($$SELECT durable_unschedule('nightly')$$) AS carol_unschedules;
RESET ROLE;
SET ROLE regress_roles_dave;
SELECT roles_err($$SELECT durable_unschedule('nightly')$$) AS dave_unschedules_alices;
RESET ROLE;
SELECT owner FROM durable.schedules WHERE name = 'nightly';

-- ----------------------------------------------------------------------
-- NOTIFY: one channel per owner
-- ----------------------------------------------------------------------
SELECT durable_status_channel('regress_roles_alice') = 'durable_status_' || 'regress_roles_alice'::regrole::oid
       AS alice_channel;
SET ROLE regress_roles_bob;
SELECT durable_status_channel() = 'durable_status_' || 'regress_roles_bob'::regrole::oid AS own_channel;
RESET ROLE;

-- ----------------------------------------------------------------------
-- clean up
-- ----------------------------------------------------------------------
DELETE FROM durable.schedules WHERE owner::text LIKE 'regress_roles%';
SELECT count(durable_stop(id::text)) > 0 AS stopped FROM durable.executions
 WHERE owner::text LIKE 'regress_roles%' AND status NOT IN ('SUCCEEDED', 'FAILED', 'TIMED_OUT', 'STOPPED');
REVOKE durable_admin FROM regress_roles_carol;
SET ROLE regress_roles_alice;
SELECT durable_purge('0 seconds') > 0 AS purged;
SET ROLE regress_roles_bob;
SELECT durable_purge('0 seconds') > 0 AS purged;
SET ROLE regress_roles_carol;
SELECT durable_purge('0 seconds') > 0 AS purged;
SET ROLE regress_roles_mallory;
SELECT durable_purge('0 seconds') > 0 AS purged;
RESET ROLE;
SELECT count(*) AS left_behind FROM durable.executions WHERE owner::text LIKE 'regress_roles%';
DROP FUNCTION roles_wf(jsonb), roles_wf2(jsonb), roles_err(text), roles_owner_of(text);
DROP ROLE regress_roles_alice, regress_roles_bob, regress_roles_carol, regress_roles_dave,
          regress_roles_mallory;

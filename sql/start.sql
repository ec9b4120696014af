-- durable_start: checks, storage, names as idempotency keys, bad inputs.
CREATE EXTENSION durable;
\set VERBOSITY default

CREATE FUNCTION wf_echo(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object('echo', input);
END $$;
CREATE SCHEMA app;
CREATE FUNCTION app.wf_app(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT input $$;

-- a started execution is PENDING, stored under its qualified name
SELECT durable_start('wf_echo', '{"a": 1}') IS NOT NULL AS started;
SELECT workflow, status, run_no, input, tags, owner::text = current_user AS mine,
       length(workflow_hash) AS hash_len, search_path
  FROM durable.executions;
SELECT count(*) AS queued FROM durable.queue;

-- ids are UUIDv7: version 7, time ordered
SELECT substr(id::text, 15, 1) AS version FROM durable.executions;
SELECT durable_start('wf_echo', '{"a": 2}') > (SELECT id FROM durable.executions
                                               WHERE input = '{"a": 1}') AS ordered;

-- qualified names and the default input
SELECT durable_start('app.wf_app') IS NOT NULL AS started;
SELECT workflow, input FROM durable.executions WHERE workflow = 'app.wf_app';

-- named executions: the name is an idempotency key
SELECT durable_start('wf_echo', '{"n": 1}', name => 'order-1') AS first \gset
SELECT durable_start('wf_echo', '{"n": 1}', name => 'order-1') = :'first' AS same_id;
SELECT count(*) FROM durable.executions WHERE name = 'order-1';
-- the same name with another input, or another workflow, is an error naming the execution
SELECT count(*) AS before FROM durable.executions \gset
DO $$ BEGIN PERFORM durable_start('wf_echo', '{"n": 2}', name => 'order-1');
EXCEPTION WHEN duplicate_object THEN
  RAISE NOTICE 'error names the execution: %', SQLERRM LIKE '%' || (SELECT id FROM durable.executions WHERE name = 'order-1') || '%';
END $$;
CREATE FUNCTION masked(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM,
    '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<id>', 'g');
END $$;
SELECT masked($$SELECT durable_start('wf_echo', '{"n": 2}', name => 'order-1')$$);
SELECT masked($$SELECT durable_start('app.wf_app', '{"n": 1}', name => 'order-1')$$);
-- options: tags, execution_timeout, retention
SELECT durable_start('wf_echo', '{}', name => 'tagged',
       options => '{"tags": {"customer": "c-42"}, "execution_timeout": "1 hour", "retention": "7 days"}') IS NOT NULL AS started;
SELECT tags, execution_timeout, retention, deadline - created_at AS deadline_after
  FROM durable.executions WHERE name = 'tagged';
SELECT count(*) AS by_tag FROM durable.executions WHERE tags @> '{"customer": "c-42"}';

-- bad inputs: each a clear error, nothing stored
SELECT count(*) AS before FROM durable.executions \gset
SELECT durable_start('no_such_workflow');
SELECT durable_start(NULL);
SELECT durable_start('wf_echo', NULL);
SELECT durable_start('wf_echo', '{}', name => '');
SELECT durable_start('wf_echo', '{}', name => repeat('x', 201));
SELECT durable_start('wf_echo', '{}', name => E'bad\nname');
SELECT durable_start('wf_echo', '{}', name => '01890a5d-ac96-774b-bcce-b302099a8057');
SELECT durable_start('wf_echo', '{}', options => '[]');
SELECT durable_start('wf_echo', '{}', options => '{"color": "blue"}');
SELECT durable_start('wf_echo', '{}', options => '{"execution_timeout": 5}');
SELECT durable_start('wf_echo', '{}', options => '{"execution_timeout": "soon"}');
SELECT durable_start('wf_echo', '{}', options => '{"execution_timeout": "-1 hour"}');
SELECT durable_start('wf_echo', '{}', options => '{"retention": "0 seconds"}');
SELECT durable_start('wf_echo', '{}', options => '{"tags": ["a"]}');
SELECT durable_start('bad name(');
-- wrong signatures
CREATE FUNCTION wf_int(input int) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
CREATE FUNCTION wf_text(input jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;
CREATE FUNCTION wf_set(input jsonb) RETURNS SETOF jsonb LANGUAGE sql AS $$ SELECT input $$;
CREATE FUNCTION wf_two(a jsonb, b jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT a $$;
CREATE PROCEDURE wf_proc(input jsonb) LANGUAGE sql AS $$ SELECT 1 $$;
SELECT durable_start('wf_int');
SELECT durable_start('wf_text');
SELECT durable_start('wf_set');
SELECT durable_start('wf_two');
SELECT durable_start('wf_proc');
-- oversize payload
SET durable.max_payload_size = 1024;
SELECT durable_start('wf_echo', jsonb_build_object('big', repeat('x', 2000)));
RESET durable.max_payload_size;
-- a role without EXECUTE on the workflow
CREATE ROLE regress_durable_alice;
GRANT USAGE ON SCHEMA app TO regress_durable_alice;
REVOKE EXECUTE ON FUNCTION app.wf_app(jsonb) FROM PUBLIC;
SET ROLE regress_durable_alice;
SELECT durable_start('app.wf_app');
RESET ROLE;
SELECT count(*) = :before AS nothing_stored FROM durable.executions;

-- the search_path of the start is kept, with pg_temp last
SET search_path = pg_temp, app, public;
SELECT durable_start('wf_app', '{"sp": 1}') IS NOT NULL AS started;
RESET search_path;
SELECT search_path FROM durable.executions WHERE input = '{"sp": 1}';

-- nothing but the extension's functions writes the tables
SET ROLE regress_durable_alice;
INSERT INTO durable.executions (id, workflow, workflow_hash, status, owner, search_path, created_at, updated_at)
  VALUES (gen_random_uuid(), 'x', 'x', 'PENDING', 'regress_durable_alice', 'x', now(), now());
DELETE FROM durable.queue;
SELECT count(*) AS visible_to_alice FROM durable.executions;
RESET ROLE;

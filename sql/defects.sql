-- Defects of issue 14 (part a): programming errors (SQLSTATE class 42) are
-- not retried unless retry_on names them; events no wait took are deleted
-- when their execution finishes; a failed map or parallel names its first
-- failed child and why; the graph of a map or parallel shows its status and
-- error as a node inside its subgraph, and a failed child's error;
-- durable.max_wait prints in a form the server takes back.  No worker runs
-- (test/regress.conf): executions are driven here with durable_drive.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

-- drives an execution and its children, deepest first, until it finishes
CREATE FUNCTION drive_all(root text, rounds int DEFAULT 20) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  root_id uuid := durable.execution_id(root);
  r record;
  st text;
BEGIN
  FOR i IN 1..rounds LOOP
    SELECT status INTO st FROM durable.executions WHERE id = root_id;
    EXIT WHEN st NOT IN ('PENDING', 'RUNNING', 'SUSPENDED');
    FOR r IN SELECT id FROM durable.executions
              WHERE parent_id = root_id AND status IN ('PENDING', 'RUNNING', 'SUSPENDED')
              ORDER BY parent_index LOOP
      PERFORM durable_drive(r.id::text);
    END LOOP;
    PERFORM durable_drive(root_id::text);
  END LOOP;
  RETURN st;
END $$;

-- ----------------------------------------------------------------------
-- programming errors: class 42 fails after one attempt by default
-- ----------------------------------------------------------------------
CREATE FUNCTION wf_d_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('s', input->>'sql', NULL, input->'options');
END $$;
SELECT count(durable_start('wf_d_step', jsonb_build_object('sql', s, 'options', o::jsonb), name => n)) AS started
  FROM (VALUES
    ('d-undefined-function', 'SELECT no_such_function(1)', '{"initial_delay": "0 s", "max_delay": "0 s"}'),
    ('d-syntax-error', 'SELEC 1', '{"initial_delay": "0 s", "max_delay": "0 s"}'),
    ('d-undefined-table', 'SELECT * FROM no_such_table', '{"initial_delay": "0 s", "max_delay": "0 s"}'),
    ('d-undefined-column', 'SELECT no_such_column FROM pg_class', '{"initial_delay": "0 s", "max_delay": "0 s"}'),
    -- retry_on naming the code, or its class, retries it
    ('d-retry-on-42883', 'SELECT no_such_function(1)', '{"retry_on": ["42883"], "initial_delay": "0 s", "max_delay": "0 s"}'),
    ('d-retry-on-42', 'SELECT no_such_function(1)', '{"retry_on": ["42"], "initial_delay": "0 s", "max_delay": "0 s"}'),
    -- retry_on naming other codes only does not
    ('d-retry-on-other', 'SELECT no_such_function(1)', '{"retry_on": ["08", "22"], "initial_delay": "0 s", "max_delay": "0 s"}'),
    -- other classes are retried as before: here a data exception
    ('d-division-by-zero', 'SELECT 1/0', '{"initial_delay": "0 s", "max_delay": "0 s"}')) v(n, s, o);
SELECT n, durable_drive(n) FROM unnest(ARRAY['d-undefined-function', 'd-syntax-error', 'd-undefined-table',
  'd-undefined-column', 'd-retry-on-42883', 'd-retry-on-42', 'd-retry-on-other', 'd-division-by-zero']) n;
SELECT e.name, o.attempt, e.status, o.error->>'detail' AS detail
  FROM durable.executions e JOIN durable.operations o ON o.execution_id = e.id
 WHERE e.workflow = 'public.wf_d_step' ORDER BY e.name;

-- ----------------------------------------------------------------------
-- events no wait took are deleted when the execution finishes
-- ----------------------------------------------------------------------
CREATE FUNCTION wf_d_event(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE v jsonb;
BEGIN
  v := durable_wait_for_event('go', 'go');
  v := durable_wait_for_event('done', 'done');
  IF input ? 'fail' THEN
    RAISE EXCEPTION 'failed after the event' USING ERRCODE = 'P0001';
  END IF;
  RETURN v;
END $$;
CREATE FUNCTION kept_events(execution text) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM durable.events WHERE execution_id = durable.execution_id(execution)
$$;
SELECT durable_start('wf_d_event', '{}', name => 'd-ev-ok') IS NOT NULL AS started,
       durable_start('wf_d_event', '{"fail": true}', name => 'd-ev-fail') IS NOT NULL AS started2,
       durable_start('wf_d_event', '{}', name => 'd-ev-stop') IS NOT NULL AS started3;
SELECT durable_drive(n) FROM unnest(ARRAY['d-ev-ok', 'd-ev-fail', 'd-ev-stop']) n;
-- the first "go" is taken; events of other names, and the second "go",
-- are kept while they wait for "done"
SELECT count(durable_send_event(n, e, jsonb_build_object('e', e, 'i', i))) AS sent
  FROM unnest(ARRAY['d-ev-ok', 'd-ev-fail', 'd-ev-stop']) n,
       unnest(ARRAY['other', 'go', 'go', 'other']) WITH ORDINALITY AS t(e, i);
SELECT n, durable_drive(n), kept_events(n) AS kept_while_waiting
  FROM unnest(ARRAY['d-ev-ok', 'd-ev-fail', 'd-ev-stop']) n;
SELECT count(durable_send_event(n, 'done', '{"done": true}')) AS sent
  FROM unnest(ARRAY['d-ev-ok', 'd-ev-fail']) n;
SELECT durable_drive('d-ev-ok'), durable_drive('d-ev-fail'), durable_stop('d-ev-stop');
SELECT name, status, result, kept_events(name) AS kept_after_finish
  FROM durable.executions WHERE workflow = 'public.wf_d_event' ORDER BY name;
-- an event sent to a finished execution is refused and kept nowhere
\set VERBOSITY terse
SELECT durable_send_event('d-ev-ok', 'late');
\set VERBOSITY default
SELECT count(*) AS events_left FROM durable.events e JOIN durable.executions x ON x.id = e.execution_id
 WHERE x.workflow = 'public.wf_d_event';

-- ----------------------------------------------------------------------
-- a failed map or parallel names its first failed child and why
-- ----------------------------------------------------------------------
CREATE FUNCTION wf_d_child(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE v jsonb := coalesce(input->'item', input);
BEGIN
  IF input ? 'items' THEN
    -- a batch: fails on its first negative item
    PERFORM wf_d_child(jsonb_build_object('item', i)) FROM jsonb_array_elements(input->'items') i;
    RETURN input->'items';
  END IF;
  IF jsonb_typeof(v) = 'object' AND v ? 'fail' THEN
    RAISE EXCEPTION 'branch failed: %', v->>'fail' USING ERRCODE = 'P0001';
  END IF;
  IF jsonb_typeof(v) = 'number' AND (v)::int < 0 THEN
    RAISE EXCEPTION 'item % is out of stock', v USING ERRCODE = '23514';
  END IF;
  RETURN v;
END $$;
CREATE FUNCTION wf_d_map(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_map('reserve-lines', input->'items', 'wf_d_child', coalesce(input->'options', '{}'));
END $$;
CREATE FUNCTION wf_d_parallel(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_parallel('checkout', input->'branches', coalesce(input->'options', '{}'));
END $$;
SELECT durable_start('wf_d_map', '{"items": [1, -2, 3]}', name => 'd-map-fail') IS NOT NULL AS started;
SELECT drive_all('d-map-fail');
SELECT durable_start('wf_d_map', '{"items": [1, 2, 3, -4, 5], "options": {"batch_size": 2}}',
                     name => 'd-map-batch-fail') IS NOT NULL AS started;
SELECT drive_all('d-map-batch-fail');
SELECT durable_start('wf_d_parallel', '{"branches": [
  {"name": "stock", "workflow": "wf_d_child", "input": 1},
  {"name": "charge", "workflow": "wf_d_child", "input": {"fail": "card declined"}}]}',
  name => 'd-parallel-fail') IS NOT NULL AS started;
SELECT drive_all('d-parallel-fail');
\x on
SELECT name, status, error->>'sqlstate' AS sqlstate, error->>'message' AS message, error->>'detail' AS detail
  FROM durable.executions WHERE name IN ('d-map-fail', 'd-map-batch-fail', 'd-parallel-fail') ORDER BY name;
-- the operation's error says the same
SELECT o.name, o.error->>'message' AS message, o.error->>'detail' AS detail
  FROM durable_operations('d-map-fail') o WHERE o.kind = 'map';
\x off

-- ----------------------------------------------------------------------
-- the graph: a subgraph's title is one line; its status and error are the
-- first node inside; a failed child shows its error
-- ----------------------------------------------------------------------
SELECT regexp_replace(line, ' · -?[0-9.]+ (ms|s|min|h|d)\M', ' · <dur>', 'g') AS line
  FROM regexp_split_to_table(durable_graph('d-map-fail'), E'\n') WITH ORDINALITY AS t(line, n)
 WHERE line !~ '^    classDef ' ORDER BY n;
SELECT count(*) FILTER (WHERE line ~ '^ *subgraph .*<br/>') AS multi_line_titles,
       count(*) FILTER (WHERE line ~ '^ *subgraph ') AS subgraphs
  FROM regexp_split_to_table(durable_graph('d-parallel-fail'), E'\n') AS line;

-- ----------------------------------------------------------------------
-- durable.max_wait prints in a form SET takes back
-- ----------------------------------------------------------------------
SHOW durable.max_wait;
SELECT set_config('durable.max_wait', current_setting('durable.max_wait'), false) AS round_trip;
RESET durable.max_wait;
SELECT short_desc FROM pg_settings WHERE name = 'durable.max_wait';

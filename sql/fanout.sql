-- Large fan-out: the "results" option of durable_map and durable_parallel
-- ("auto", "array", "summary") and durable_results, which lists the outcome
-- of each branch or item from durable.children.  No worker runs
-- (test/regress.conf): children are driven here.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

-- drives an execution and all its descendants until it finishes
CREATE FUNCTION fo_drive_tree(root text, rounds int DEFAULT 50) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  root_id uuid := durable.execution_id(root);
  r record;
  st text;
BEGIN
  FOR i IN 1..rounds LOOP
    SELECT status INTO st FROM durable.executions WHERE id = root_id;
    EXIT WHEN st NOT IN ('PENDING', 'RUNNING', 'SUSPENDED');
    FOR r IN
      WITH RECURSIVE tree AS (
        SELECT id, depth FROM durable.executions WHERE id = root_id
        UNION ALL
        SELECT e.id, e.depth FROM durable.executions e JOIN tree t ON e.parent_id = t.id)
      SELECT t.id FROM tree t JOIN durable.executions e ON e.id = t.id
       WHERE e.status IN ('PENDING', 'RUNNING', 'SUSPENDED')
       ORDER BY t.depth DESC
    LOOP
      PERFORM durable_drive(r.id::text);
    END LOOP;
  END LOOP;
  RETURN st;
END $$;
-- an item: ten times its value, or a failure for {"fail": ...}
CREATE FUNCTION fo_item(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v jsonb := coalesce(input->'item', input);
BEGIN
  IF jsonb_typeof(v) = 'object' AND v ? 'fail' THEN
    RAISE EXCEPTION 'item failed: %', v->>'fail' USING ERRCODE = 'P0001';
  END IF;
  IF jsonb_typeof(v) = 'number' THEN
    RETURN to_jsonb(v::text::int * 10);
  END IF;
  RETURN v;
END $$;
-- a batch: one result per item
CREATE FUNCTION fo_batch(input jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_agg(to_jsonb(x::text::int * 10) ORDER BY n)
    FROM jsonb_array_elements(input->'items') WITH ORDINALITY AS t(x, n)
$$;
-- a large result
CREATE FUNCTION fo_big(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT to_jsonb(repeat('x', 300)) $$;
CREATE FUNCTION fo_map(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_map('m', input->'items', coalesce(input->>'workflow', 'fo_item'),
                     coalesce(input->'options', '{}'));
END $$;
CREATE FUNCTION fo_parallel(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_parallel('p', input->'branches', coalesce(input->'options', '{}'));
END $$;

-- bad values of "results" are refused at the call: the execution fails
-- before any branch row or child exists
SELECT durable_start(w, x::jsonb, name => 'fo-bad ' || x) IS NOT NULL AS started
  FROM (VALUES
    ('fo_map', '{"items": [1, 2], "options": {"results": "all"}}'),
    ('fo_map', '{"items": [1, 2], "options": {"results": 1}}'),
    ('fo_map', '{"items": [1, 2], "options": {"results": null}}'),
    ('fo_map', '{"items": [1, 2], "options": {"results": "Summary"}}'),
    ('fo_parallel', '{"branches": [{"name": "a", "workflow": "fo_item"}], "options": {"results": ["array"]}}')
  ) AS t(w, x);
SELECT name, durable_drive(name) FROM durable.executions WHERE name LIKE 'fo-bad %' ORDER BY name;
SELECT substr(name, 8) AS input, status, error->>'sqlstate' AS sqlstate, error->>'message' AS message,
       error->>'detail' AS detail
  FROM durable.executions WHERE name LIKE 'fo-bad %' ORDER BY name;
SELECT count(*) AS branch_rows FROM durable.children c JOIN durable.executions e ON e.id = c.parent_id
 WHERE e.name LIKE 'fo-bad %';
-- "results" is named in the hint for an unknown option
SELECT durable_start('fo_map', '{"items": [1], "options": {"result": "array"}}', name => 'fo-typo') IS NOT NULL AS started;
SELECT durable_drive('fo-typo');
SELECT error->>'message' AS message, error->>'hint' AS hint FROM durable_status('fo-typo');

-- a 3-item map in each mode: "array" and "auto" (it fits) return the
-- array, "summary" only the counts
SELECT durable_start('fo_map', jsonb_build_object('items', '[1, 2, 3]'::jsonb, 'options', o),
                     name => 'fo-3 ' || coalesce(o->>'results', 'default')) IS NOT NULL AS started
  FROM unnest(ARRAY['{}', '{"results": "auto"}', '{"results": "array"}', '{"results": "summary"}']::jsonb[]) AS o;
SELECT name, fo_drive_tree(name) FROM durable.executions WHERE name LIKE 'fo-3 %' ORDER BY name;
SELECT name, result FROM durable.executions WHERE name LIKE 'fo-3 %' ORDER BY name;
-- the operation's checkpoint is the same as the result
SELECT o.name, o.status, o.result ? 'results' AS has_array, o.result->'total' AS total
  FROM durable.executions e, durable_operations(e.id::text) o
 WHERE e.name LIKE 'fo-3 %' ORDER BY e.name;
-- durable_results: one row per item, whatever the mode
SELECT run_no, op_id, operation, idx, name, status, result, error FROM durable_results('fo-3 summary');
SELECT count(*) AS rows, sum(result::text::int) AS total FROM durable_results('fo-3 array', 'm');

-- a map whose array cannot fit in durable.max_payload_size: with "auto"
-- (the default) and "summary" it succeeds with the counts, and each item
-- is in durable_results; with "array" it is refused at the call (WF009)
SET durable.max_payload_size = '1kB';
SELECT durable_start('fo_map', jsonb_build_object('items', (SELECT jsonb_agg(g) FROM generate_series(1, 40) g),
                     'options', o), name => 'fo-40 ' || coalesce(o->>'results', 'default')) IS NOT NULL AS started
  FROM unnest(ARRAY['{}', '{"results": "summary"}', '{"results": "array"}']::jsonb[]) AS o;
SELECT name, fo_drive_tree(name) FROM durable.executions WHERE name LIKE 'fo-40 %' ORDER BY name;
SELECT name, status, result, error->>'sqlstate' AS sqlstate, error->>'message' AS message
  FROM durable.executions WHERE name LIKE 'fo-40 %' ORDER BY name;
SELECT e.name, count(r.*) AS rows, count(*) FILTER (WHERE r.status = 'SUCCEEDED') AS succeeded,
       sum(r.result::text::int) AS total, min(r.idx) AS first, max(r.idx) AS last
  FROM durable.executions e LEFT JOIN LATERAL durable_results(e.id::text) r ON true
 WHERE e.name LIKE 'fo-40 %' GROUP BY e.name ORDER BY e.name;
-- results that turn out too large once the children have run: "auto"
-- keeps the counts instead of failing (with "array": WF009 then)
SELECT durable_start('fo_map', jsonb_build_object('items', '[1, 2, 3, 4, 5]'::jsonb, 'workflow', 'fo_big',
                     'options', o), name => 'fo-big ' || coalesce(o->>'results', 'default')) IS NOT NULL AS started
  FROM unnest(ARRAY['{}', '{"results": "array"}']::jsonb[]) AS o;
SELECT name, fo_drive_tree(name) FROM durable.executions WHERE name LIKE 'fo-big %' ORDER BY name;
SELECT name, status, result, error->>'sqlstate' AS sqlstate, error->>'message' AS message,
       error->>'hint' AS hint
  FROM durable.executions WHERE name LIKE 'fo-big %' ORDER BY name;
SELECT idx, status, length(result #>> '{}') AS result_length FROM durable_results('fo-big default', 'm');
-- a parallel too, its branches' names in the rows
SELECT durable_start('fo_parallel', jsonb_build_object('branches',
         (SELECT jsonb_agg(jsonb_build_object('name', 'branch-' || g, 'workflow', 'fo_big')) FROM generate_series(1, 4) g)),
       name => 'fo-parallel') IS NOT NULL AS started;
SELECT fo_drive_tree('fo-parallel');
SELECT status, result FROM durable_status('fo-parallel');
SELECT idx, name, status, length(result #>> '{}') AS result_length FROM durable_results('fo-parallel', 'p');
RESET durable.max_payload_size;

-- batches are unfolded: one row per item, its index and its result
SELECT durable_start('fo_map', '{"items": [1, 2, 3, 4, 5], "workflow": "fo_batch", "options": {"batch_size": 2, "results": "summary"}}',
                     name => 'fo-batch') IS NOT NULL AS started;
SELECT fo_drive_tree('fo-batch');
SELECT result FROM durable_status('fo-batch');
SELECT idx, status, result FROM durable_results('fo-batch');
SELECT count(*) AS branch_rows FROM durable.children WHERE parent_id = durable.execution_id('fo-batch');

-- failed items: their error in the rows; a policy that fails raises WF006
-- whose detail points at durable_results
SELECT durable_start('fo_map', jsonb_build_object('items', '[1, {"fail": "x"}, 3]'::jsonb, 'options', o),
                     name => 'fo-fail ' || (o->>'tolerated_failures')) IS NOT NULL AS started
  FROM unnest(ARRAY['{"results": "summary", "tolerated_failures": 1}', '{"results": "summary", "tolerated_failures": 0}']::jsonb[]) AS o;
SELECT name, fo_drive_tree(name) FROM durable.executions WHERE name LIKE 'fo-fail %' ORDER BY name;
SELECT name, status, result, error->>'sqlstate' AS sqlstate, error->>'message' AS message, error->>'detail' AS detail
  FROM durable.executions WHERE name LIKE 'fo-fail %' ORDER BY name;
SELECT o.status, o.result FROM durable_operations('fo-fail 0') o WHERE o.kind = 'map';
SELECT idx, status, result, error->>'message' AS error FROM durable_results('fo-fail 0', 'm');

-- from a step, a NULL execution is the step's own
CREATE FUNCTION fo_sum(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  r jsonb;
BEGIN
  r := durable_map('m', input->'items', 'fo_item', '{"results": "summary"}');
  RETURN r || durable_step('sum', $q$SELECT jsonb_build_object('rows', count(*), 'sum', sum(result::text::int))
                                      FROM durable_results(NULL, 'm')$q$);
END $$;
SELECT durable_start('fo_sum', '{"items": [1, 2, 3, 4]}', name => 'fo-sum') IS NOT NULL AS started;
SELECT fo_drive_tree('fo-sum');
SELECT status, result FROM durable_status('fo-sum');

-- refused: in a workflow body (the rows depend on how far the execution
-- has got, not on the replay), a NULL execution outside a step, an
-- unknown execution, an operation without branches or unknown, a bad name
CREATE FUNCTION fo_in_body(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  r jsonb;
BEGIN
  r := durable_map('m', '[1, 2]', 'fo_item', '{"results": "summary"}');
  RETURN (SELECT to_jsonb(count(*)) FROM durable_results(NULL, 'm'));
END $$;
SELECT durable_start('fo_in_body', '{}', name => 'fo-in-body') IS NOT NULL AS started;
SELECT fo_drive_tree('fo-in-body');
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS message, error->>'hint' AS hint
  FROM durable_status('fo-in-body');
CREATE FUNCTION fo_try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT q AS query, fo_try(q) AS outcome FROM (VALUES
  ('SELECT * FROM durable_results(NULL)'),
  ('SELECT * FROM durable_results(NULL, ''m'')'),
  ('SELECT * FROM durable_results(''no such execution'')'),
  ('SELECT * FROM durable_results(''00000000-0000-0000-0000-000000000000'')'),
  ('SELECT * FROM durable_results(''fo-sum'', ''sum'')'),
  ('SELECT * FROM durable_results(''fo-sum'', ''nope'')'),
  ('SELECT * FROM durable_results(''fo-sum'', '''')')) AS t(q);
-- NULL operation: every operation with branches; no rows for an execution
-- without any
SELECT operation, count(*) FROM durable_results('fo-sum') GROUP BY operation;
SELECT durable_start('fo_item', '5', name => 'fo-plain') IS NOT NULL AS started;
SELECT durable_drive('fo-plain');
SELECT count(*) FROM durable_results('fo-plain');

-- another role: someone else's execution does not exist for it; its own do
CREATE ROLE regress_fanout_fay;
GRANT CREATE ON SCHEMA public TO regress_fanout_fay;
SET ROLE regress_fanout_fay;
\set VERBOSITY terse
SELECT * FROM durable_results('fo-3 summary');
SELECT * FROM durable_results(durable.execution_id('fo-3 summary')::text);
\set VERBOSITY default
SELECT durable_start('fo_map', '{"items": [7]}', name => 'fo-fay') IS NOT NULL AS started;
SELECT durable_drive('fo-fay');
RESET ROLE;
SELECT fo_drive_tree('fo-fay');
SET ROLE regress_fanout_fay;
SELECT operation, idx, status, result FROM durable_results('fo-fay');
RESET ROLE;
-- and the superuser (as durable_admin members) reads them too
SELECT operation, idx, status, result FROM durable_results('fo-fay');

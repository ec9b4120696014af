-- Child executions: durable_invoke, durable_parallel and durable_map,
-- their completion policies, stopping a parent, and bad inputs.  No worker
-- runs (test/regress.conf): a child is an execution of its own that stays
-- PENDING until it is driven here, by id, so the order in which children
-- finish is chosen by the test.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

-- the branches of an execution's operations, with their child's status
CREATE FUNCTION branches(parent text)
RETURNS TABLE (op_id int, idx int, name text, status text, items int, child_status text)
LANGUAGE sql AS $$
  SELECT c.op_id, c.idx, c.name, c.status, c.items, e.status
    FROM durable.children c LEFT JOIN durable.executions e ON e.id = c.child_id
   WHERE c.parent_id = durable.execution_id(parent)
   ORDER BY c.op_id, c.idx
$$;
-- drives the child of one branch; its status
CREATE FUNCTION drive_branch(parent text, branch int) RETURNS text LANGUAGE sql AS $$
  SELECT durable_drive(c.child_id::text) FROM durable.children c
   WHERE c.parent_id = durable.execution_id(parent) AND c.idx = branch AND c.child_id IS NOT NULL
$$;
-- drives an execution and all its descendants, deepest first, until it
-- finishes (at most rounds times); its final status
CREATE FUNCTION drive_tree(root text, rounds int DEFAULT 50) RETURNS text LANGUAGE plpgsql AS $$
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
       ORDER BY t.depth DESC, t.id
    LOOP
      PERFORM durable_drive(r.id::text);
    END LOOP;
  END LOOP;
  RETURN st;
END $$;
-- the executions whose parent is the given one
CREATE FUNCTION child_executions(parent text)
RETURNS TABLE (parent_index int, status text, depth int, workflow text)
LANGUAGE sql AS $$
  SELECT e.parent_index, e.status, e.depth, e.workflow FROM durable.executions e
   WHERE e.parent_id = durable.execution_id(parent) ORDER BY e.parent_index
$$;

-- a child: fails when its input (or item) says so, else returns a value
CREATE FUNCTION wf_branch(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v jsonb := coalesce(input->'item', input);
BEGIN
  IF jsonb_typeof(v) = 'object' AND v ? 'fail' THEN
    RAISE EXCEPTION 'branch failed: %', v->>'fail' USING ERRCODE = 'P0001';
  END IF;
  IF jsonb_typeof(v) = 'number' AND (v)::int < 0 THEN
    RAISE EXCEPTION 'item % is negative', v USING ERRCODE = 'P0001';
  END IF;
  IF jsonb_typeof(v) = 'number' THEN
    RETURN to_jsonb((v)::int * 10);
  END IF;
  RETURN coalesce(v->'v', v);
END $$;
-- a child that waits for an event forever
CREATE FUNCTION wf_waiter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_event('wait', 'never');
END $$;

-- every child operation belongs in a workflow: called outside one, WF012
SELECT durable_invoke('i', 'wf_branch');
SELECT durable_parallel('p', '[]');
SELECT durable_map('m', '[]', 'wf_branch');

-- ----------------------------------------------------------------------
-- durable_invoke
-- ----------------------------------------------------------------------
CREATE FUNCTION wf_invoke(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object('child', durable_invoke('child', coalesce(input->>'workflow', 'wf_branch'),
                                                    input->'input', coalesce(input->'options', '{}')));
EXCEPTION WHEN SQLSTATE 'WF006' THEN
  RETURN jsonb_build_object('caught', SQLSTATE, 'message', SQLERRM);
END $$;
SELECT durable_start('wf_invoke', '{"input": {"v": "forty-two"}}', name => 'invoke-ok') IS NOT NULL AS started;
SELECT durable_drive('invoke-ok');
-- the child is an execution of its own, with its parent's coordinates
SELECT status, current_operation FROM durable_status('invoke-ok');
SELECT * FROM branches('invoke-ok');
SELECT e.name, e.status, e.workflow, e.input, e.parent_run_no, e.parent_index, e.depth,
       e.parent_op_id = (SELECT op_id FROM durable_operations('invoke-ok') WHERE name = 'child') AS parent_op,
       e.owner::text = current_user AS same_owner
  FROM durable.executions e WHERE e.parent_id = durable.execution_id('invoke-ok');
SELECT depth, parent_id FROM durable.executions WHERE name = 'invoke-ok';
-- the parent waits until the child finishes
SELECT durable_drive('invoke-ok');
SELECT drive_branch('invoke-ok', 0);
SELECT durable_drive('invoke-ok');
SELECT status, result FROM durable_status('invoke-ok');
SELECT name, kind, status, result FROM durable_operations('invoke-ok');
SELECT * FROM branches('invoke-ok');
-- a failing child: WF006 in the parent, catchable, with the child's error
SELECT durable_start('wf_invoke', '{"input": {"fail": "no stock"}}', name => 'invoke-fail') IS NOT NULL AS started;
SELECT drive_tree('invoke-fail');
SELECT status, result FROM durable_status('invoke-fail');
SELECT * FROM branches('invoke-fail');
SELECT name, status, error->>'sqlstate' AS sqlstate, error->>'detail' AS detail FROM durable_operations('invoke-fail');
-- the child's options: tags and an execution_timeout (a child that times out
-- is a failure of the invoke)
SELECT durable_start('wf_invoke', '{"workflow": "wf_waiter", "options": {"execution_timeout": "1 hour", "tags": {"team": "kids"}}}',
                     name => 'invoke-timeout') IS NOT NULL AS started;
SELECT durable_drive('invoke-timeout');
SELECT tags, execution_timeout FROM durable.executions WHERE parent_id = durable.execution_id('invoke-timeout');
SELECT drive_branch('invoke-timeout', 0);
SET durable.clock_offset = '2 hours';
SELECT drive_branch('invoke-timeout', 0);
SELECT durable_drive('invoke-timeout');
RESET durable.clock_offset;
SELECT status, result FROM durable_status('invoke-timeout');
SELECT * FROM branches('invoke-timeout');
-- a child stopped by a user: the invoke fails as well
SELECT durable_start('wf_invoke', '{"workflow": "wf_waiter"}', name => 'invoke-child-stopped') IS NOT NULL AS started;
SELECT durable_drive('invoke-child-stopped');
SELECT durable_stop(child_id::text, 'not needed') FROM durable.children
 WHERE parent_id = durable.execution_id('invoke-child-stopped');
SELECT durable_drive('invoke-child-stopped');
SELECT status, result FROM durable_status('invoke-child-stopped');
SELECT * FROM branches('invoke-child-stopped');

-- recursion: a workflow that invokes itself forever ends at the depth
-- limit (32 levels below the top) with WF009, reported up the chain as WF006
CREATE FUNCTION wf_invoke_forever(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_invoke('deeper', 'wf_invoke_forever', jsonb_build_object('level', (input->>'level')::int + 1));
END $$;
SELECT durable_start('wf_invoke_forever', '{"level": 0}', name => 'invoke-forever') IS NOT NULL AS started;
SELECT drive_tree('invoke-forever');
SELECT count(*) AS executions, max(depth) AS deepest, max((input->>'level')::int) AS last_level,
       count(*) FILTER (WHERE status = 'FAILED') AS failed
  FROM durable.executions WHERE workflow = 'public.wf_invoke_forever';
SELECT depth, status, error->>'sqlstate' AS sqlstate,
       error->>'message' LIKE '%child executions are nested more than 32 levels deep' AS depth_limit
  FROM durable.executions WHERE workflow = 'public.wf_invoke_forever' AND depth IN (0, 1, 31, 32) ORDER BY depth;
SELECT error->>'message' AS error, error->>'hint' AS hint
  FROM durable.executions WHERE workflow = 'public.wf_invoke_forever' AND depth = 32;

-- bad arguments of durable_invoke fail the workflow and start no child
CREATE FUNCTION wf_invoke_bad(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_invoke(input->>'name', input->>'workflow', '{}', input->'options');
END $$;
SELECT durable_start('wf_invoke_bad', x::jsonb, name => 'invoke-bad ' || x) IS NOT NULL AS started
  FROM unnest(ARRAY['{"workflow": "wf_branch"}', '{"name": "", "workflow": "wf_branch"}',
                    '{"name": "i"}', '{"name": "i", "workflow": "no_such_workflow"}',
                    '{"name": "i", "workflow": "wf_branch", "options": {"retries": 3}}',
                    '{"name": "i", "workflow": "wf_branch", "options": {"execution_timeout": "-1 s"}}']) x;
SELECT durable_drive(name) FROM durable.executions WHERE name LIKE 'invoke-bad %' ORDER BY name;
SELECT substr(name, 12) AS input, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable.executions WHERE name LIKE 'invoke-bad %' ORDER BY name;
SELECT count(*) AS children FROM durable.children c JOIN durable.executions e ON e.id = c.parent_id
 WHERE e.name LIKE 'invoke-bad %';
SELECT count(*) AS child_executions FROM durable.executions c JOIN durable.executions e ON e.id = c.parent_id
 WHERE e.name LIKE 'invoke-bad %';

-- ----------------------------------------------------------------------
-- durable_parallel
-- ----------------------------------------------------------------------
CREATE FUNCTION wf_parallel(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_parallel('branches', input->'branches', coalesce(input->'options', '{}'));
EXCEPTION WHEN SQLSTATE 'WF006' THEN
  RETURN jsonb_build_object('caught', SQLSTATE, 'message', SQLERRM);
END $$;
-- workflow and step branches; the result in branch order
SELECT durable_start('wf_parallel', '{"branches": [
  {"name": "wf", "workflow": "wf_branch", "input": {"v": "from a workflow"}},
  {"name": "step", "sql": "SELECT upper($1->>''x'')", "args": {"x": "from a step"}},
  {"name": "default-input", "workflow": "wf_branch"}]}', name => 'par-ok') IS NOT NULL AS started;
SELECT durable_drive('par-ok');
SELECT * FROM branches('par-ok');
SELECT parent_index, status, depth, workflow FROM child_executions('par-ok');
SELECT input FROM durable.executions WHERE parent_id = durable.execution_id('par-ok') ORDER BY parent_index;
-- finishing in another order than the branches' does not change the result's order
SELECT drive_branch('par-ok', 2), drive_branch('par-ok', 0);
SELECT durable_drive('par-ok');
SELECT * FROM branches('par-ok');
SELECT drive_branch('par-ok', 1);
SELECT durable_drive('par-ok');
SELECT status, jsonb_pretty(result) AS result FROM durable_status('par-ok');
SELECT name, kind, status FROM durable_operations('par-ok');

-- by default no failure is tolerated: the first one decides, FAILED (WF006),
-- the branches still running are STOPPED
SELECT durable_start('wf_parallel', '{"branches": [
  {"name": "a", "workflow": "wf_branch", "input": {"v": 1}},
  {"name": "b", "workflow": "wf_branch", "input": {"fail": "b broke"}},
  {"name": "c", "workflow": "wf_branch", "input": {"v": 3}}]}', name => 'par-fail') IS NOT NULL AS started;
SELECT durable_drive('par-fail');
SELECT drive_branch('par-fail', 0), drive_branch('par-fail', 1);
SELECT durable_drive('par-fail');
SELECT status, result->>'caught' AS caught, result->>'message' AS message FROM durable_status('par-fail');
SELECT * FROM branches('par-fail');
SELECT o.status, o.error->>'sqlstate' AS sqlstate, o.result->>'status' AS result_status,
       o.result->>'completion_reason' AS reason, o.result->'total' AS total,
       o.result->'succeeded' AS succeeded, o.result->'failed' AS failed
  FROM durable_operations('par-fail') o;
SELECT r->>'name' AS name, r->>'status' AS status, r->'result' AS result, r->'error'->>'message' AS error
  FROM durable_operations('par-fail') o, jsonb_array_elements(o.result->'results') r;
-- the stopped child cannot go on
SELECT drive_branch('par-fail', 2);

-- a branch that had already finished when the outcome was decided (its
-- report not yet seen by the parent) keeps its own status: it was not
-- running, so it is not STOPPED
SELECT durable_start('wf_parallel', '{"branches": [
  {"name": "a", "workflow": "wf_branch", "input": {"v": 1}},
  {"name": "b", "workflow": "wf_branch", "input": {"fail": "b broke"}},
  {"name": "c", "workflow": "wf_branch", "input": {"v": 3}}]}', name => 'par-finished-first') IS NOT NULL AS started;
SELECT durable_drive('par-finished-first');
SELECT drive_branch('par-finished-first', 1), drive_branch('par-finished-first', 0);
SELECT durable_drive('par-finished-first');
SELECT * FROM branches('par-finished-first');
SELECT r->>'name' AS name, r->>'status' AS status, r->'result' AS result
  FROM durable_operations('par-finished-first') o, jsonb_array_elements(o.result->'results') r;

-- tolerated_failures: up to that many failures, the others must succeed
SELECT durable_start('wf_parallel', '{"options": {"tolerated_failures": 1}, "branches": [
  {"name": "a", "workflow": "wf_branch", "input": {"fail": "a broke"}},
  {"name": "b", "workflow": "wf_branch", "input": {"v": 2}},
  {"name": "c", "workflow": "wf_branch", "input": {"v": 3}}]}', name => 'par-tolerated') IS NOT NULL AS started;
SELECT drive_tree('par-tolerated');
SELECT result->'status' AS status, result->'completion_reason' AS reason, result->'succeeded' AS succeeded,
       result->'failed' AS failed FROM durable_status('par-tolerated');
SELECT r->>'name' AS name, r->>'status' AS status, r->'result' AS result, r->'error'->>'message' AS error
  FROM durable_status('par-tolerated') s, jsonb_array_elements(s.result->'results') r;
-- a step branch whose step fails (retries exhausted, WF001) is a failed branch
SELECT durable_start('wf_parallel', '{"options": {"tolerated_failures": 1}, "branches": [
  {"name": "bad-step", "sql": "SELECT 1/0", "options": {"max_attempts": 1}},
  {"name": "good-step", "sql": "SELECT ''fine''"}]}', name => 'par-step-fail') IS NOT NULL AS started;
SELECT drive_tree('par-step-fail');
SELECT r->>'name' AS name, r->>'status' AS status, r->'result' AS result,
       r->'error'->>'sqlstate' AS sqlstate, r->'error'->>'message' AS error
  FROM durable_status('par-step-fail') s, jsonb_array_elements(s.result->'results') r;
SELECT durable_start('wf_parallel', '{"options": {"tolerated_failures": 1}, "branches": [
  {"name": "a", "workflow": "wf_branch", "input": {"fail": "a broke"}},
  {"name": "b", "workflow": "wf_branch", "input": {"fail": "b broke"}},
  {"name": "c", "workflow": "wf_branch", "input": {"v": 3}}]}', name => 'par-intolerable') IS NOT NULL AS started;
SELECT durable_drive('par-intolerable');
SELECT drive_branch('par-intolerable', 0), drive_branch('par-intolerable', 1);
SELECT durable_drive('par-intolerable');
SELECT status, result->>'caught' AS caught, result->>'message' AS message FROM durable_status('par-intolerable');
SELECT * FROM branches('par-intolerable');

-- min_successful: decided as soon as that many succeeded; branches still
-- running are STOPPED, those never started (max_concurrency) CANCELLED
SELECT durable_start('wf_parallel', '{"options": {"min_successful": 1, "max_concurrency": 2}, "branches": [
  {"name": "a", "workflow": "wf_branch", "input": {"v": "first"}},
  {"name": "b", "workflow": "wf_branch", "input": {"v": 2}},
  {"name": "c", "workflow": "wf_branch", "input": {"v": 3}},
  {"name": "d", "workflow": "wf_branch", "input": {"v": 4}}]}', name => 'par-min') IS NOT NULL AS started;
SELECT durable_drive('par-min');
SELECT * FROM branches('par-min');
SELECT drive_branch('par-min', 0);
SELECT durable_drive('par-min');
SELECT * FROM branches('par-min');
SELECT parent_index, status FROM child_executions('par-min');
SELECT status, jsonb_pretty(result) AS result FROM durable_status('par-min');
-- with min_successful alone, failures are tolerated while it can be reached
SELECT durable_start('wf_parallel', '{"options": {"min_successful": 2}, "branches": [
  {"name": "a", "workflow": "wf_branch", "input": {"fail": "a broke"}},
  {"name": "b", "workflow": "wf_branch", "input": {"fail": "b broke"}},
  {"name": "c", "workflow": "wf_branch", "input": {"v": 3}},
  {"name": "d", "workflow": "wf_branch", "input": {"v": 4}}]}', name => 'par-min-reachable') IS NOT NULL AS started;
SELECT durable_drive('par-min-reachable');
SELECT drive_branch('par-min-reachable', 0), drive_branch('par-min-reachable', 1);
SELECT durable_drive('par-min-reachable');
SELECT * FROM branches('par-min-reachable');
SELECT drive_branch('par-min-reachable', 2), drive_branch('par-min-reachable', 3);
SELECT durable_drive('par-min-reachable');
SELECT result->'status' AS status, result->'completion_reason' AS reason, result->'succeeded' AS succeeded,
       result->'failed' AS failed FROM durable_status('par-min-reachable');
-- ... and FAILED once it cannot be
SELECT durable_start('wf_parallel', '{"options": {"min_successful": 2}, "branches": [
  {"name": "a", "workflow": "wf_branch", "input": {"fail": "a broke"}},
  {"name": "b", "workflow": "wf_branch", "input": {"fail": "b broke"}},
  {"name": "c", "workflow": "wf_branch", "input": {"v": 3}}]}', name => 'par-min-unreachable') IS NOT NULL AS started;
SELECT durable_drive('par-min-unreachable');
SELECT drive_branch('par-min-unreachable', 0), drive_branch('par-min-unreachable', 1);
SELECT durable_drive('par-min-unreachable');
SELECT status, result->>'caught' AS caught, result->>'message' AS message FROM durable_status('par-min-unreachable');
SELECT * FROM branches('par-min-unreachable');
SELECT o.result->'completion_reason' AS reason FROM durable_operations('par-min-unreachable') o;

-- max_concurrency 1: one child at a time, the next one started only when
-- the previous one has finished
SELECT durable_start('wf_parallel', '{"options": {"max_concurrency": 1}, "branches": [
  {"name": "a", "workflow": "wf_branch", "input": {"v": 1}},
  {"name": "b", "workflow": "wf_branch", "input": {"v": 2}},
  {"name": "c", "workflow": "wf_branch", "input": {"v": 3}}]}', name => 'par-serial') IS NOT NULL AS started;
SELECT durable_drive('par-serial');
SELECT * FROM branches('par-serial');
SELECT count(*) AS child_executions FROM child_executions('par-serial');
SELECT drive_branch('par-serial', 0);
SELECT * FROM branches('par-serial');             -- the parent has not seen it yet
SELECT durable_drive('par-serial');
SELECT * FROM branches('par-serial');
SELECT count(*) AS child_executions FROM child_executions('par-serial');
SELECT drive_branch('par-serial', 1);
SELECT durable_drive('par-serial');
SELECT * FROM branches('par-serial');
SELECT drive_branch('par-serial', 2);
SELECT durable_drive('par-serial');
SELECT * FROM branches('par-serial');
SELECT status, result->'status' AS status, result->'completion_reason' AS reason,
       jsonb_path_query_array(result, '$.results[*].result') AS results
  FROM durable_status('par-serial');
-- max_concurrency 2 of 3
SELECT durable_start('wf_parallel', '{"options": {"max_concurrency": 2}, "branches": [
  {"name": "a", "workflow": "wf_branch", "input": {"v": 1}},
  {"name": "b", "workflow": "wf_branch", "input": {"v": 2}},
  {"name": "c", "workflow": "wf_branch", "input": {"v": 3}}]}', name => 'par-two') IS NOT NULL AS started;
SELECT durable_drive('par-two');
SELECT * FROM branches('par-two');
SELECT drive_branch('par-two', 1);
SELECT durable_drive('par-two');
SELECT * FROM branches('par-two');
SELECT drive_tree('par-two');
SELECT jsonb_path_query_array(result, '$.results[*].result') AS results FROM durable_status('par-two');

-- no branch at all: SUCCEEDED at once
SELECT durable_start('wf_parallel', '{"branches": []}', name => 'par-empty') IS NOT NULL AS started;
SELECT durable_drive('par-empty');
SELECT result FROM durable_status('par-empty');

-- bad branches and options fail the workflow and start no child
CREATE FUNCTION wf_parallel_bad(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_parallel('branches', input->'branches', input->'options');
END $$;
SELECT durable_start('wf_parallel_bad', x::jsonb, name => 'par-bad ' || x) IS NOT NULL AS started
  FROM unnest(ARRAY[
    '{}',
    '{"branches": {"name": "a", "workflow": "wf_branch"}}',
    '{"branches": "a"}',
    '{"branches": [1]}',
    '{"branches": [{"workflow": "wf_branch"}]}',
    '{"branches": [{"name": "", "workflow": "wf_branch"}]}',
    '{"branches": [{"name": 1, "workflow": "wf_branch"}]}',
    '{"branches": [{"name": "a", "workflow": "wf_branch"}, {"name": "a", "sql": "SELECT 1"}]}',
    '{"branches": [{"name": "a", "workflow": "wf_branch", "sql": "SELECT 1"}]}',
    '{"branches": [{"name": "a"}]}',
    '{"branches": [{"name": "a", "workflow": "no_such_workflow"}]}',
    '{"branches": [{"name": "a", "sql": "SELECT 1", "options": {"retries": 3}}]}',
    '{"branches": [{"name": "a", "workflow": "wf_branch"}], "options": {"concurrency": 1}}',
    '{"branches": [{"name": "a", "workflow": "wf_branch"}], "options": {"min_successful": 2}}',
    '{"branches": [{"name": "a", "workflow": "wf_branch"}], "options": {"max_concurrency": 0}}',
    '{"branches": [{"name": "a", "workflow": "wf_branch"}], "options": {"batch_size": 1}}',
    '{"branches": [{"name": "a", "workflow": "wf_branch"}], "options": {"tolerated_failure_percentage": 101}}',
    '{"branches": [{"name": "a", "workflow": "wf_branch"}], "options": {"tolerated_failures": -1}}',
    '{"branches": [{"name": "a", "workflow": "wf_branch"}], "options": [1]}']) x;
SELECT durable_drive(name) FROM durable.executions WHERE name LIKE 'par-bad %' ORDER BY name;
SELECT substr(name, 9) AS input, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable.executions WHERE name LIKE 'par-bad %' ORDER BY name;
SELECT count(*) AS children FROM durable.children c JOIN durable.executions e ON e.id = c.parent_id
 WHERE e.name LIKE 'par-bad %';
SELECT count(*) AS child_executions FROM durable.executions c JOIN durable.executions e ON e.id = c.parent_id
 WHERE e.name LIKE 'par-bad %';

-- ----------------------------------------------------------------------
-- durable_map
-- ----------------------------------------------------------------------
CREATE FUNCTION wf_map(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_map('items', input->'items', coalesce(input->>'workflow', 'wf_branch'),
                     coalesce(input->'options', '{}'));
EXCEPTION WHEN SQLSTATE 'WF006' THEN
  RETURN jsonb_build_object('caught', SQLSTATE, 'message', SQLERRM);
END $$;
-- one child per item, input {"item", "index"}; results in item order
SELECT durable_start('wf_map', '{"items": [1, 2, 3, 4]}', name => 'map-ok') IS NOT NULL AS started;
SELECT durable_drive('map-ok');
SELECT * FROM branches('map-ok');
SELECT input FROM durable.executions WHERE parent_id = durable.execution_id('map-ok') ORDER BY parent_index;
SELECT drive_branch('map-ok', 3), drive_branch('map-ok', 1), drive_branch('map-ok', 2), drive_branch('map-ok', 0);
SELECT durable_drive('map-ok');
SELECT status, result->'status' AS status, result->'completion_reason' AS reason, result->'total' AS total,
       result->'succeeded' AS succeeded, result->'failed' AS failed FROM durable_status('map-ok');
SELECT r->'index' AS index, r->>'status' AS status, r->'result' AS result, r->'error' AS error
  FROM durable_status('map-ok') s, jsonb_array_elements(s.result->'results') r;
-- batch_size: one child per batch, input {"items", "index" of the first};
-- a batch returns an array of one result per item
CREATE FUNCTION wf_batch(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  out jsonb := '[]';
  v jsonb;
BEGIN
  FOR v IN SELECT jsonb_array_elements(input->'items') LOOP
    IF v = '99' THEN
      RETURN out;                      -- one result short
    END IF;
    out := out || to_jsonb((v)::int + (input->>'index')::int * 1000);
  END LOOP;
  RETURN out;
END $$;
SELECT durable_start('wf_map', '{"items": [1, 2, 3, 4, 5], "workflow": "wf_batch", "options": {"batch_size": 2}}',
                     name => 'map-batch') IS NOT NULL AS started;
SELECT durable_drive('map-batch');
SELECT * FROM branches('map-batch');
SELECT input FROM durable.executions WHERE parent_id = durable.execution_id('map-batch') ORDER BY parent_index;
SELECT drive_tree('map-batch');
SELECT result->'status' AS status, result->'total' AS total, result->'succeeded' AS succeeded,
       result->'failed' AS failed FROM durable_status('map-batch');
SELECT r->'index' AS index, r->>'status' AS status, r->'result' AS result
  FROM durable_status('map-batch') s, jsonb_array_elements(s.result->'results') r;
-- a batch that returns the wrong number of results fails all its items
SELECT durable_start('wf_map', '{"items": [1, 2, 99, 4, 5], "workflow": "wf_batch",
                                 "options": {"batch_size": 2, "tolerated_failures": 2}}',
                     name => 'map-batch-short') IS NOT NULL AS started;
SELECT drive_tree('map-batch-short');
SELECT result->'status' AS status, result->'succeeded' AS succeeded, result->'failed' AS failed
  FROM durable_status('map-batch-short');
SELECT r->'index' AS index, r->>'status' AS status, r->'result' AS result, r->'error'->>'message' AS error
  FROM durable_status('map-batch-short') s, jsonb_array_elements(s.result->'results') r;
SELECT * FROM branches('map-batch-short');
-- no items: SUCCEEDED at once, no child
SELECT durable_start('wf_map', '{"items": []}', name => 'map-empty') IS NOT NULL AS started;
SELECT durable_drive('map-empty');
SELECT result FROM durable_status('map-empty');
SELECT count(*) AS children FROM branches('map-empty');
-- tolerated_failure_percentage: 25% of 4 items is one failure
SELECT durable_start('wf_map', '{"items": [1, -2, 3, 4], "options": {"tolerated_failure_percentage": 25}}',
                     name => 'map-pct-ok') IS NOT NULL AS started;
SELECT drive_tree('map-pct-ok');
SELECT result->'status' AS status, result->'completion_reason' AS reason, result->'succeeded' AS succeeded,
       result->'failed' AS failed FROM durable_status('map-pct-ok');
SELECT r->'index' AS index, r->>'status' AS status, r->'result' AS result, r->'error'->>'message' AS error
  FROM durable_status('map-pct-ok') s, jsonb_array_elements(s.result->'results') r;
-- ... and 20% of 4 items is none
SELECT durable_start('wf_map', '{"items": [1, -2, 3, 4], "options": {"tolerated_failure_percentage": 20, "max_concurrency": 2}}',
                     name => 'map-pct-fail') IS NOT NULL AS started;
SELECT durable_drive('map-pct-fail');
SELECT drive_branch('map-pct-fail', 1);
SELECT durable_drive('map-pct-fail');
SELECT status, result->>'caught' AS caught, result->>'message' AS message FROM durable_status('map-pct-fail');
SELECT * FROM branches('map-pct-fail');
SELECT o.status, o.result->'completion_reason' AS reason, jsonb_path_query_array(o.result, '$.results[*].status') AS statuses
  FROM durable_operations('map-pct-fail') o;
-- items of any JSON type
SELECT durable_start('wf_map', '{"items": [{"v": "object"}, "text", null, [1]]}', name => 'map-types') IS NOT NULL AS started;
SELECT drive_tree('map-types');
SELECT jsonb_path_query_array(result, '$.results[*].result') AS results FROM durable_status('map-types');

-- bad items and options fail the workflow and start no child
CREATE FUNCTION wf_map_bad(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_map('items', input->'items', input->>'workflow', input->'options');
END $$;
SELECT durable_start('wf_map_bad', x::jsonb, name => 'map-bad ' || x) IS NOT NULL AS started
  FROM unnest(ARRAY[
    '{"workflow": "wf_branch"}',
    '{"items": {"a": 1}, "workflow": "wf_branch"}',
    '{"items": 3, "workflow": "wf_branch"}',
    '{"items": [1]}',
    '{"items": [1], "workflow": "no_such_workflow"}',
    '{"items": [1], "workflow": "wf_branch", "options": {"size": 1}}',
    '{"items": [1], "workflow": "wf_branch", "options": {"batch_size": 0}}',
    '{"items": [1], "workflow": "wf_branch", "options": {"min_successful": 2}}',
    '{"items": [1], "workflow": "wf_branch", "options": {"max_concurrency": 0}}',
    '{"items": [1], "workflow": "wf_branch", "options": {"tolerated_failure_percentage": 101}}',
    '{"items": [1], "workflow": "wf_branch", "options": {"tolerated_failure_percentage": "10%"}}']) x;
SELECT durable_drive(name) FROM durable.executions WHERE name LIKE 'map-bad %' ORDER BY name;
SELECT substr(name, 9) AS input, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable.executions WHERE name LIKE 'map-bad %' ORDER BY name;
SELECT count(*) AS children FROM durable.children c JOIN durable.executions e ON e.id = c.parent_id
 WHERE e.name LIKE 'map-bad %';
SELECT count(*) AS child_executions FROM durable.executions c JOIN durable.executions e ON e.id = c.parent_id
 WHERE e.name LIKE 'map-bad %';

-- ----------------------------------------------------------------------
-- several child operations in one workflow; replays read their outcomes
-- ----------------------------------------------------------------------
CREATE FUNCTION wf_two_ops(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  a jsonb;
  b jsonb;
BEGIN
  a := durable_map('first', '[1, 2]', 'wf_branch');
  PERFORM durable_wait('pause', '1 minute');
  b := durable_invoke('second', 'wf_branch', '{"v": "after"}');
  RETURN jsonb_build_object('map', jsonb_path_query_array(a, '$.results[*].result'), 'invoke', b);
END $$;
SELECT durable_start('wf_two_ops', '{}', name => 'two-ops') IS NOT NULL AS started;
SELECT drive_tree('two-ops', 5);
SELECT name, kind, status FROM durable_operations('two-ops');
SET durable.clock_offset = '2 minutes';
SELECT drive_tree('two-ops', 5);
RESET durable.clock_offset;
SELECT status, result FROM durable_status('two-ops');
SELECT * FROM branches('two-ops');
SELECT name, kind, status FROM durable_operations('two-ops');
SELECT count(*) AS child_executions FROM child_executions('two-ops');

-- children run as the parent's owner, who needs EXECUTE on their workflow
CREATE ROLE regress_children_carol;
CREATE FUNCTION wf_secret(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '"secret"'::jsonb $$;
REVOKE EXECUTE ON FUNCTION wf_secret(jsonb) FROM PUBLIC;
SET ROLE regress_children_carol;
SELECT durable_start('wf_invoke', '{"input": {"v": "carol"}}', name => 'carol-invoke') IS NOT NULL AS started;
SELECT durable_start('wf_invoke', '{"workflow": "wf_secret"}', name => 'carol-secret') IS NOT NULL AS started;
RESET ROLE;
SELECT drive_tree('carol-invoke'), drive_tree('carol-secret');
SELECT name, status, result, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable.executions WHERE name IN ('carol-invoke', 'carol-secret') ORDER BY name;
SELECT owner::text AS child_owner FROM durable.executions WHERE parent_id = durable.execution_id('carol-invoke');
SELECT count(*) AS child_executions FROM child_executions('carol-secret');
DROP ROLE regress_children_carol;

-- a branch whose workflow was dropped before it started fails when driven
CREATE FUNCTION wf_dropped_branch(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '"doomed"'::jsonb $$;
SELECT durable_start('wf_parallel', '{"options": {"max_concurrency": 1, "tolerated_failures": 1}, "branches": [
  {"name": "a", "workflow": "wf_branch", "input": {"v": 1}},
  {"name": "b", "workflow": "wf_dropped_branch"}]}', name => 'par-dropped') IS NOT NULL AS started;
SELECT durable_drive('par-dropped');
DROP FUNCTION wf_dropped_branch(jsonb);
SELECT drive_tree('par-dropped');
SELECT * FROM branches('par-dropped');
SELECT r->>'name' AS name, r->>'status' AS status, r->'result' AS result, r->'error'->>'message' AS error
  FROM durable_status('par-dropped') s, jsonb_array_elements(s.result->'results') r;

-- ----------------------------------------------------------------------
-- stopping a parent stops its children, and theirs
-- ----------------------------------------------------------------------
CREATE FUNCTION wf_nested(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_invoke('inner', 'wf_waiter');
END $$;
SELECT durable_start('wf_parallel', '{"options": {"max_concurrency": 2}, "branches": [
  {"name": "waits", "workflow": "wf_waiter"},
  {"name": "nested", "workflow": "wf_nested"},
  {"name": "never-started", "workflow": "wf_branch", "input": {"v": 3}}]}', name => 'par-stop') IS NOT NULL AS started;
SELECT drive_tree('par-stop', 3);
SELECT * FROM branches('par-stop');
SELECT depth, status FROM durable.executions
 WHERE parent_id IN (SELECT id FROM durable.executions WHERE parent_id = durable.execution_id('par-stop'));
SELECT durable_stop('par-stop', 'changed my mind');
SELECT status, error->>'reason' AS reason FROM durable_status('par-stop');
SELECT * FROM branches('par-stop');
SELECT parent_index, status, error->>'sqlstate' AS sqlstate FROM durable.executions
 WHERE parent_id = durable.execution_id('par-stop') ORDER BY parent_index;
SELECT depth, status FROM durable.executions
 WHERE parent_id IN (SELECT id FROM durable.executions WHERE parent_id = durable.execution_id('par-stop'));
SELECT name, status FROM durable_operations('par-stop');
-- nothing of the tree runs again
SELECT drive_tree('par-stop');
SELECT count(*) AS queued FROM durable.queue q JOIN durable.executions e ON e.id = q.execution_id
 WHERE e.id = durable.execution_id('par-stop') OR e.parent_id = durable.execution_id('par-stop')
    OR e.parent_id IN (SELECT id FROM durable.executions WHERE parent_id = durable.execution_id('par-stop'));
-- a child that had finished before the stop keeps its status
SELECT durable_start('wf_parallel', '{"branches": [
  {"name": "done", "workflow": "wf_branch", "input": {"v": 1}},
  {"name": "waits", "workflow": "wf_waiter"}]}', name => 'par-stop-after-done') IS NOT NULL AS started;
SELECT durable_drive('par-stop-after-done');
SELECT drive_branch('par-stop-after-done', 0);
SELECT durable_stop('par-stop-after-done');
SELECT * FROM branches('par-stop-after-done');
-- a parent that times out stops its children too
SELECT durable_start('wf_map', '{"items": [1, 2], "workflow": "wf_waiter"}', name => 'map-timeout',
                     options => '{"execution_timeout": "1 hour"}') IS NOT NULL AS started;
SELECT drive_tree('map-timeout', 2);
SET durable.clock_offset = '2 hours';
SELECT durable_drive('map-timeout');
RESET durable.clock_offset;
SELECT status FROM durable_status('map-timeout');
SELECT * FROM branches('map-timeout');
-- with "results": "array", a combined result larger than
-- durable.max_payload_size fails the operation with WF009 (not, later, the
-- workflow's own result)
SET durable.max_payload_size = '1kB';
SELECT durable_start('wf_map_bad', jsonb_build_object('items', (SELECT jsonb_agg(i) FROM generate_series(1, 40) i),
                     'workflow', 'wf_branch', 'options', '{"results": "array"}'::jsonb), name => 'map-too-large') IS NOT NULL AS started;
SELECT drive_tree('map-too-large');
RESET durable.max_payload_size;
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS message FROM durable_status('map-too-large');
SELECT count(*) FILTER (WHERE status = 'SUCCEEDED') AS children_succeeded FROM durable.executions
 WHERE parent_id = durable.execution_id('map-too-large');

-- Quotas on fan-out and starts (issue 13, F4): durable.max_children_in_progress,
-- a map or parallel whose result cannot fit refused at the call,
-- executions started by steps one level deeper and at most
-- durable.max_starts_per_step per attempt, durable.max_executions_per_role.
-- No worker runs (test/regress.conf): everything is driven here.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

-- the settings and their defaults; only a superuser changes them
SHOW durable.max_children_in_progress;
SHOW durable.max_starts_per_step;
SHOW durable.max_executions_per_role;
SET durable.max_children_in_progress = -1;
SET durable.max_starts_per_step = -1;
SET durable.max_executions_per_role = -1;
SET durable.max_executions_per_role = 'many';
CREATE ROLE regress_quota_quinn;
CREATE ROLE regress_quota_rita;
SET ROLE regress_quota_quinn;
SET durable.max_children_in_progress = 0;
SET durable.max_starts_per_step = 0;
SET durable.max_executions_per_role = 0;
RESET ROLE;

CREATE FUNCTION wfq_item(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT input->'item' $$;
CREATE FUNCTION wfq_map(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_map('m', input->'items', coalesce(input->>'workflow', 'wfq_item'),
                     coalesce(input->'options', '{}'));
END $$;
CREATE FUNCTION wfq_parallel(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_parallel('p', input->'branches', coalesce(input->'options', '{}'));
END $$;
-- the executions started under a parent, and how they ended
CREATE FUNCTION wfq_children(parent text, OUT created bigint, OUT unfinished bigint, OUT succeeded bigint)
LANGUAGE sql AS $$
  SELECT count(*), count(*) FILTER (WHERE status IN ('PENDING', 'RUNNING', 'SUSPENDED')),
         count(*) FILTER (WHERE status = 'SUCCEEDED')
    FROM durable.executions WHERE parent_id = durable.execution_id(parent)
$$;
CREATE FUNCTION wfq_drive_children(parent text) RETURNS void LANGUAGE sql AS $$
  SELECT durable_drive(id::text) FROM durable.executions
   WHERE parent_id = durable.execution_id(parent) AND status = 'PENDING'
$$;

-- max_children_in_progress: a map without max_concurrency starts that
-- many children, one with a larger max_concurrency too; the others start
-- as those finish, and the map completes with every item
SET durable.max_children_in_progress = 2;
SELECT durable_start('wfq_map', '{"items": [1, 2, 3, 4, 5]}', name => 'cap-map') IS NOT NULL AS started;
SELECT durable_start('wfq_map', '{"items": [1, 2, 3, 4, 5], "options": {"max_concurrency": 4}}',
                     name => 'cap-map-mc') IS NOT NULL AS started;
SELECT durable_start('wfq_map', '{"items": [1, 2, 3, 4, 5], "options": {"max_concurrency": 1}}',
                     name => 'cap-map-mc1') IS NOT NULL AS started;
SELECT durable_drive('cap-map'), durable_drive('cap-map-mc'), durable_drive('cap-map-mc1');
SELECT 'cap-map' AS map, * FROM wfq_children('cap-map')
UNION ALL SELECT 'cap-map-mc', * FROM wfq_children('cap-map-mc')
UNION ALL SELECT 'cap-map-mc1', * FROM wfq_children('cap-map-mc1');
SELECT count(*) AS branch_rows FROM durable.children WHERE parent_id = durable.execution_id('cap-map');
-- each round: the running children finish, their reports start the next ones
SELECT wfq_drive_children('cap-map'), durable_drive('cap-map');
SELECT * FROM wfq_children('cap-map');
SELECT wfq_drive_children('cap-map'), durable_drive('cap-map');
SELECT * FROM wfq_children('cap-map');
SELECT wfq_drive_children('cap-map'), durable_drive('cap-map');
SELECT status, result->>'total' AS total, result->>'succeeded' AS succeeded,
       jsonb_path_query_array(result, '$.results[*].result') AS results
  FROM durable.executions WHERE name = 'cap-map';
-- 0: no cap (max_concurrency alone, as before)
SET durable.max_children_in_progress = 0;
SELECT durable_start('wfq_map', '{"items": [1, 2, 3, 4, 5]}', name => 'nocap-map') IS NOT NULL AS started;
SELECT durable_drive('nocap-map');
SELECT * FROM wfq_children('nocap-map');
RESET durable.max_children_in_progress;

-- with "results": "array", a map or parallel whose result cannot fit in
-- max_payload_size is refused at the call (WF009), before any branch row or
-- child exists
SET durable.max_payload_size = 1024;
SELECT durable_start('wfq_map', jsonb_build_object('items', (SELECT jsonb_agg(g) FROM generate_series(1, 20) g),
                                                  'options', '{"results": "array"}'::jsonb),
                     name => 'too-wide-map') IS NOT NULL AS started;
SELECT durable_drive('too-wide-map');
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS message,
       error->>'detail' AS detail, error->>'hint' AS hint
  FROM durable.executions WHERE name = 'too-wide-map';
SELECT (SELECT count(*) FROM durable.children WHERE parent_id = durable.execution_id('too-wide-map')) AS branch_rows,
       (SELECT created FROM wfq_children('too-wide-map')) AS children,
       (SELECT count(*) FROM durable.operations WHERE execution_id = durable.execution_id('too-wide-map')) AS operations;
-- a parallel too (its branches' names count)
SELECT durable_start('wfq_parallel', jsonb_build_object('branches',
         (SELECT jsonb_agg(jsonb_build_object('name', 'b' || g, 'workflow', 'wfq_item')) FROM generate_series(1, 16) g),
         'options', '{"results": "array"}'::jsonb),
       name => 'too-wide-parallel') IS NOT NULL AS started;
SELECT durable_drive('too-wide-parallel');
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS message, error->>'detail' AS detail
  FROM durable.executions WHERE name = 'too-wide-parallel';
SELECT count(*) AS branch_rows FROM durable.children WHERE parent_id = durable.execution_id('too-wide-parallel');
-- a map that may fit is not refused
SELECT durable_start('wfq_map', '{"items": [1, 2, 3]}', name => 'narrow-map') IS NOT NULL AS started;
SELECT drive_tree('narrow-map');
-- and its result is still checked when it is complete: large results of
-- the children fail it there
CREATE FUNCTION wfq_big(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT to_jsonb(repeat('x', 300)) $$;
SELECT durable_start('wfq_map', '{"items": [1, 2, 3, 4, 5], "workflow": "wfq_big", "options": {"results": "array"}}', name => 'late-map') IS NOT NULL AS started;
SELECT drive_tree('late-map');
SELECT error->>'sqlstate' AS sqlstate, error->>'message' AS message FROM durable.executions WHERE name = 'late-map';
SELECT * FROM wfq_children('late-map');
RESET durable.max_payload_size;

-- an execution started by a step is one level deeper than the step's
-- execution; no parent takes its outcome
CREATE FUNCTION wfq_leaf(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT input $$;
CREATE FUNCTION wfq_starter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('start', $q$SELECT durable_start('wfq_leaf', $1, name => $1->>'name')$q$, input,
                      '{"max_attempts": 1}');
END $$;
SELECT durable_start('wfq_starter', '{"name": "started-by-step"}', name => 'starter') IS NOT NULL AS started;
SELECT durable_drive('starter');
SELECT name, depth, parent_id IS NULL AS no_parent, status FROM durable.executions
 WHERE name IN ('starter', 'started-by-step') ORDER BY depth;
-- and so on: a step that starts its own workflow without end stops at
-- the nesting limit of 32 levels, with 33 executions
CREATE FUNCTION wfq_chain(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('fork', $q$SELECT durable_start('wfq_chain', jsonb_build_object('gen', ($1->>'gen')::int + 1))$q$,
                       input, '{"max_attempts": 1}');
  RETURN input;
END $$;
SELECT durable_start('wfq_chain', '{"gen": 0}', name => 'chain') IS NOT NULL AS started;
DO $$ BEGIN FOR i IN 1..40 LOOP PERFORM durable_drive_pending(); END LOOP; END $$;
SELECT count(*) AS executions, max(depth) AS max_depth,
       count(*) FILTER (WHERE status = 'SUCCEEDED') AS succeeded,
       count(*) FILTER (WHERE status = 'FAILED') AS failed
  FROM durable.executions WHERE workflow = 'public.wfq_chain';
SELECT depth, input->>'gen' AS gen, error->>'sqlstate' AS sqlstate, error->>'message' AS message
  FROM durable.executions WHERE workflow = 'public.wfq_chain' AND status = 'FAILED';
SELECT o.error->>'message' AS step_error, o.error->>'detail' IS NOT NULL AS has_detail
  FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id
 WHERE e.workflow = 'public.wfq_chain' AND e.status = 'FAILED' AND o.name = 'fork';

-- max_starts_per_step: one attempt of a step starts at most that many;
-- past it the attempt fails and nothing it started remains
CREATE FUNCTION wfq_many(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('start many', $q$SELECT count(durable_start('wfq_leaf', jsonb_build_object('many', $1->'tag', 'i', g)))
                                       FROM generate_series(1, ($1->>'n')::int) g$q$, input, '{"max_attempts": 1}');
END $$;
SET durable.max_starts_per_step = 3;
SELECT durable_start('wfq_many', '{"n": 3, "tag": "three"}', name => 'many-3') IS NOT NULL AS started;
SELECT durable_start('wfq_many', '{"n": 4, "tag": "four"}', name => 'many-4') IS NOT NULL AS started;
SELECT durable_drive('many-3'), durable_drive('many-4');
SELECT name, status, result, error->>'sqlstate' AS sqlstate, error->>'message' AS message
  FROM durable.executions WHERE name IN ('many-3', 'many-4') ORDER BY name;
SELECT input->>'many' AS tag, count(*), min(depth) AS depth FROM durable.executions
 WHERE workflow = 'public.wfq_leaf' AND input ? 'many' GROUP BY 1 ORDER BY 1;
-- outside a drive (a session's own starts) it does not apply
SELECT count(durable_start('wfq_leaf', '{"outside": true}')) AS started FROM generate_series(1, 5);
RESET durable.max_starts_per_step;

-- max_executions_per_role: unfinished executions (children included) per
-- owner; a start past it fails and changes nothing
SET durable.max_executions_per_role = 3;
SET ROLE regress_quota_quinn;
SELECT durable_start('wfq_leaf', '{"q": 1}', name => 'quinn-1') IS NOT NULL AS started;
SELECT durable_start('wfq_leaf', '{"q": 2}', name => 'quinn-2') IS NOT NULL AS started;
BEGIN;
SELECT durable_start('wfq_leaf', '{"q": 3}', name => 'quinn-3') IS NOT NULL AS started;
-- this transaction's own starts count before they commit
SELECT durable_start('wfq_leaf', '{"q": 4}', name => 'quinn-4');
ROLLBACK;
SELECT durable_start('wfq_leaf', '{"q": 3}', name => 'quinn-3') IS NOT NULL AS started;
RESET ROLE;
SELECT count(*) AS executions_before FROM durable.executions \gset
SELECT count(*) AS names_before FROM durable.names \gset
SELECT count(*) AS queue_before FROM durable.queue \gset
SET ROLE regress_quota_quinn;
SELECT durable_start('wfq_leaf', '{"q": 4}', name => 'quinn-4');
RESET ROLE;
SELECT (SELECT count(*) FROM durable.executions) = :executions_before AS no_execution,
       (SELECT count(*) FROM durable.names) = :names_before AS no_name,
       (SELECT count(*) FROM durable.queue) = :queue_before AS no_queue_row;
SET ROLE regress_quota_quinn;
-- the same name again is not a new execution: no quota needed
SELECT durable_start('wfq_leaf', '{"q": 1}', name => 'quinn-1') = durable.execution_id('quinn-1') AS same;
-- another role is not limited by quinn's executions
SET ROLE regress_quota_rita;
SELECT durable_start('wfq_leaf', '{"rita": 1}') IS NOT NULL AS started_by_another_role;
RESET ROLE;
-- one finishes: room for one more
SELECT durable_drive('quinn-1');
SET ROLE regress_quota_quinn;
SELECT durable_start('wfq_leaf', '{"q": 4}', name => 'quinn-4') IS NOT NULL AS started;
SELECT durable_start('wfq_leaf', '{"q": 5}', name => 'quinn-5');
-- a stopped execution no longer counts
SELECT durable_stop('quinn-2');
SELECT durable_start('wfq_leaf', '{"q": 5}', name => 'quinn-5') IS NOT NULL AS started;
-- a rolled-back step's start does not count: a step of quinn's workflow
-- that starts past the quota fails, and nothing it started remains
RESET ROLE;
SET durable.max_executions_per_role = 5;
SET ROLE regress_quota_quinn;
SELECT durable_start('wfq_many', '{"n": 3, "tag": "quinn"}', name => 'quinn-many') IS NOT NULL AS started;
SELECT durable_drive('quinn-many');
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS message
  FROM durable.executions WHERE name = 'quinn-many';
SELECT count(*) AS started_by_step FROM durable.executions WHERE input->>'many' = 'quinn';
SELECT durable_start('wfq_leaf', '{"q": 6}', name => 'quinn-6') IS NOT NULL AS started;
SELECT count(*) AS unfinished FROM durable.executions
 WHERE owner = 'regress_quota_quinn'::regrole AND status IN ('PENDING', 'RUNNING', 'SUSPENDED');
RESET ROLE;
RESET durable.max_executions_per_role;
SELECT owner, durable_stop(id::text) FROM durable.executions
 WHERE owner IN ('regress_quota_quinn'::regrole, 'regress_quota_rita'::regrole)
   AND status IN ('PENDING', 'RUNNING', 'SUSPENDED') ORDER BY owner::text, name;
DROP ROLE regress_quota_quinn;
DROP ROLE regress_quota_rita;

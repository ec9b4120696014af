-- durable_graph: Mermaid flowcharts of executions (operations in order,
-- child contexts and child executions nested, statuses, durations), and
-- the BI queries of docs/bi.md run against real executions.  No worker
-- runs (test/regress.conf): executions are driven here with durable_drive.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

-- a graph, one row per line, with the durations (they vary) masked
CREATE FUNCTION graph(execution text, max_nodes int DEFAULT 200) RETURNS SETOF text
LANGUAGE sql AS $$
  SELECT regexp_replace(line, ' · -?[0-9.]+ (ms|s|min|h|d)\M', ' · <dur>', 'g')
    FROM regexp_split_to_table(durable_graph(execution, max_nodes), E'\n') WITH ORDINALITY AS t(line, n)
   ORDER BY n
$$;
-- drive_tree(root) of children.sql drives an execution and its
-- descendants, deepest first, until it finishes

-- the pieces: labels are made safe for Mermaid "..." strings with entity
-- codes, durations read like 12 ms, 3.2 s, 5 min
SELECT durable.graph_text(E'plain name-1_2.3, ok: a/b @ x+y=z!?') AS plain,
       durable.graph_text(E'"quoted" [br]{c}(p) <b>#1 & `tick` %% 50%; \'s') AS hostile,
       durable.graph_text(E'two\nlines\ttab\r') AS control,
       durable.graph_text('café ✓') AS unicode,
       durable.graph_text(repeat('x', 70)) AS long,
       durable.graph_text('') AS empty, durable.graph_text(NULL) AS null_text;
SELECT d, durable.graph_duration(d) FROM unnest(ARRAY[
  '0', '0.4 ms', '12 ms', '999 ms', '1 s', '3.24 s', '42 s', '5 min', '90 min', '61 min 30 s',
  '30 hours', '3 days', '-2 s', NULL]::interval[]) d;
SELECT s, durable.graph_class(s) FROM unnest(ARRAY['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'STOPPED',
  'CANCELLED', 'STARTED', 'PENDING', 'RUNNING', 'SUSPENDED', 'WAITING']) s;

-- a workflow of several steps that succeeded; the exact text once, with the
-- durations as they are, for the shape of a line
CREATE FUNCTION wfg_multi(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb;
BEGIN
  a := durable_step('load', 'SELECT 1');
  PERFORM durable_step('transform', 'SELECT $1', a);
  PERFORM durable_log('info', 'transformed');
  RETURN durable_step('save', 'SELECT 3');
END $$;
SELECT durable_start('wfg_multi', '{}', name => 'g-multi') IS NOT NULL AS started;
SELECT durable_drive('g-multi');
SELECT * FROM graph('g-multi');
SELECT durable_graph('g-multi') ~ '^flowchart TD\n' AS starts_with_flowchart,
       durable_graph('g-multi') ~ E'r1_o2\\["step transform<br/>SUCCEEDED · [0-9]+ ms"\\]:::succeeded' AS duration_in_ms,
       durable_graph('g-multi') = durable_graph(durable.execution_id('g-multi')::text) AS by_id_same,
       durable_graph('g-multi') !~ '[0-9a-f]{8}-[0-9a-f]{4}-' AS no_uuids;

-- a failed step after its retries, and one that succeeded on its second attempt
CREATE SEQUENCE g_flaky_seq;
CREATE FUNCTION g_flaky(failures int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('g_flaky_seq') <= failures THEN
    RAISE EXCEPTION 'flaky failure %', currval('g_flaky_seq') USING ERRCODE = '08006';
  END IF;
  RETURN 1;
END $$;
CREATE FUNCTION wfg_retries(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('flaky', 'SELECT g_flaky(1)', NULL,
                       '{"max_attempts": 3, "initial_delay": "10 seconds", "jitter": "none"}');
  PERFORM durable_step('doomed', 'SELECT 1/0', NULL,
                       '{"max_attempts": 3, "initial_delay": "10 seconds", "backoff_rate": 1, "jitter": "none"}');
  RETURN '"unreachable"';
END $$;
SELECT durable_start('wfg_retries', '{}', name => 'g-retries') IS NOT NULL AS started;
SELECT durable_drive('g-retries');
SELECT * FROM graph('g-retries');
SET durable.clock_offset = '11 seconds';
SELECT durable_drive('g-retries');
SET durable.clock_offset = '22 seconds';
SELECT durable_drive('g-retries');
SET durable.clock_offset = '33 seconds';
SELECT durable_drive('g-retries');
RESET durable.clock_offset;
SELECT * FROM graph('g-retries');

-- durable_child contexts, one inside another, are nested subgraphs
CREATE FUNCTION wfg_part(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('load', 'SELECT $1', input);
  IF input ? 'inner' THEN
    PERFORM durable_child('inner', 'wfg_part', '{"part": "inner"}');
  END IF;
  IF input ? 'fail' THEN
    RAISE EXCEPTION 'part % failed', input->>'part';
  END IF;
  RETURN durable_step('sum', 'SELECT 10');
END $$;
CREATE FUNCTION wfg_contexts(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('before', 'SELECT 0');
  PERFORM durable_child('part-1', 'wfg_part', '{"part": 1, "inner": true}');
  BEGIN
    PERFORM durable_child('part-2', 'wfg_part', '{"part": 2, "fail": true}');
  EXCEPTION WHEN SQLSTATE 'WF006' THEN
    NULL;
  END;
  PERFORM durable_child('empty', 'wfg_empty');
  RETURN durable_step('after', 'SELECT 1');
END $$;
CREATE FUNCTION wfg_empty(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
SELECT durable_start('wfg_contexts', '{}', name => 'g-contexts') IS NOT NULL AS started;
SELECT durable_drive('g-contexts');
SELECT op_id, parent_op_id, name, kind, status FROM durable_operations('g-contexts');
SELECT * FROM graph('g-contexts');

-- durable_invoke, durable_parallel and durable_map: their child executions
-- are nodes inside the operation, with their own status
CREATE FUNCTION wfg_branch(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE v jsonb := coalesce(input->'item', input->'items', input);
BEGIN
  IF jsonb_typeof(v) = 'object' AND v ? 'fail' THEN
    RAISE EXCEPTION 'branch failed: %', v->>'fail';
  END IF;
  RETURN v;
END $$;
CREATE FUNCTION wfg_fan(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_invoke('one', 'wfg_branch', '{"v": 1}');
  PERFORM durable_parallel('fan', '[
    {"name": "a", "workflow": "wfg_branch", "input": {"v": 1}},
    {"name": "b", "workflow": "wfg_branch", "input": {"fail": "no"}},
    {"name": "c", "sql": "SELECT 3"}]', '{"tolerated_failures": 1}');
  PERFORM durable_map('each', '[1, 2, 3]', 'wfg_branch');
  PERFORM durable_map('batched', '[1, 2, 3, 4, 5]', 'wfg_branch', '{"batch_size": 2}');
  RETURN '"done"';
END $$;
SELECT durable_start('wfg_fan', '{}', name => 'g-fan') IS NOT NULL AS started;
SELECT durable_drive('g-fan');
SELECT * FROM graph('g-fan');
SELECT drive_tree('g-fan') AS g_drive_tree;
SELECT * FROM graph('g-fan');

-- continue_as_new: each run is a subgraph, linked in order
CREATE FUNCTION wfg_counter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE n int := (input->>'n')::int;
BEGIN
  PERFORM durable_step('tick', 'SELECT $1', input);
  IF n < 3 THEN
    PERFORM durable_continue_as_new(jsonb_build_object('n', n + 1));
  END IF;
  RETURN jsonb_build_object('final', n);
END $$;
SELECT durable_start('wfg_counter', '{"n": 1}', name => 'g-counter') IS NOT NULL AS started;
SELECT durable_drive('g-counter');
SELECT * FROM graph('g-counter');
-- runs without operations (a run that only continued) are one node per gap
CREATE FUNCTION wfg_hop(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE n int := (input->>'n')::int;
BEGIN
  IF n < (input->>'upto')::int THEN
    PERFORM durable_continue_as_new(jsonb_build_object('n', n + 1, 'upto', input->'upto', 'step', input->'step'));
  END IF;
  IF input->>'step' = 'yes' THEN
    PERFORM durable_step('last', 'SELECT 1');
  END IF;
  RETURN NULL;
END $$;
SELECT durable_start('wfg_hop', '{"n": 1, "upto": 4, "step": "yes"}', name => 'g-hop-step') IS NOT NULL AS started;
SELECT durable_start('wfg_hop', '{"n": 1, "upto": 3, "step": "no"}', name => 'g-hop-none') IS NOT NULL AS started;
SELECT durable_start('wfg_hop', '{"n": 1, "upto": 2, "step": "no"}', name => 'g-hop-one') IS NOT NULL AS started;
SELECT durable_drive('g-hop-step'), durable_drive('g-hop-none'), durable_drive('g-hop-one');
SELECT * FROM graph('g-hop-step');
SELECT * FROM graph('g-hop-none');
SELECT * FROM graph('g-hop-one');

-- a pending execution (no operation yet), then suspended: its waiting
-- operation is PENDING (amber); then stopped: CANCELLED (grey)
CREATE FUNCTION wfg_waits(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('prepare', 'SELECT 1');
  RETURN durable_wait_for_event('approval', 'approved');
END $$;
SELECT durable_start('wfg_waits', '{}', name => 'g-waits') IS NOT NULL AS started;
SELECT * FROM graph('g-waits');
SELECT durable_drive('g-waits');
SELECT * FROM graph('g-waits');
SELECT durable_stop('g-waits', 'no approval');
SELECT * FROM graph('g-waits');

-- hostile names: a workflow (a quoted identifier with a newline), an
-- execution, steps, branches and an error message; none breaks out of its
-- label, and no line but the first starts a Mermaid statement of its own
CREATE FUNCTION "wf ""x""]; click execution call alert(1)
%% comment"(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('"]; click r1_o1 href "javascript:alert(1)" %%', 'SELECT 1');
  PERFORM durable_step('[brackets] {braces} (parens) <script>#1;&amp;', 'SELECT 2');
  PERFORM durable_step('end', 'SELECT 3');
  PERFORM durable_step('%%{init: {"theme": "dark"}}%%', 'SELECT 4');
  PERFORM durable_parallel('`md` | pipes', '[{"name": "x\"];y", "sql": "SELECT 1"}]');
  RAISE EXCEPTION E'failed: "quote"\nsecond line #2 <b>bold</b>';
END $$;
SELECT durable_start(format('%I', E'wf "x"]; click execution call alert(1)\n%% comment'), '{}',
                     name => E'exec "name"]; click %% <i>') IS NOT NULL AS started;
SELECT drive_tree(E'exec "name"]; click %% <i>') AS g_drive_tree;
SELECT * FROM graph(E'exec "name"]; click %% <i>');
-- every label is one "..." string without a quote inside, and the only
-- statements are those durable_graph writes
SELECT count(*) AS lines,
       count(*) FILTER (WHERE line ~ '^    (classDef [a-z_]+ [-a-z:#0-9,]+|execution\(\["[^"]*"\]\):::[a-z_]+|r[0-9]+_o[0-9]+(_c[0-9]+)?\["[^"]*"\]:::[a-z_]+|subgraph r[0-9]+_o[0-9]+ \["[^"]*"\]|end|[a-z0-9_]+ -->( [a-z0-9_]+)$|class r[0-9]+_o[0-9]+ [a-z_]+)$'
                           OR line ~ '^        (r[0-9]+_o[0-9]+_(c[0-9]+|s)\["[^"]*"\]:::[a-z_]+|end)$'
                           OR line ~ '^flowchart TD$') AS well_formed
  FROM regexp_split_to_table(durable_graph(E'exec "name"]; click %% <i>'), E'\n') line;

-- large executions: the nodes are capped (200 by default; Mermaid refuses
-- more than 500 edges) and a last node counts what was left out
CREATE FUNCTION wfg_many(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..(input->>'n')::int LOOP
    PERFORM durable_log('info', 'line ' || i);
  END LOOP;
  RETURN NULL;
END $$;
SELECT durable_start('wfg_many', '{"n": 620}', name => 'g-many') IS NOT NULL AS started;
SELECT durable_drive('g-many');
SELECT count(*) FILTER (WHERE line ~ '^    r1_o[0-9]+\[') AS operation_nodes,
       count(*) FILTER (WHERE line ~ ' -(-|\.-)> ') AS edges,
       string_agg(line, E'\n') FILTER (WHERE line ~ 'more') AS more
  FROM regexp_split_to_table(durable_graph('g-many'), E'\n') line;
-- so is the text (Mermaid refuses more than 50,000 characters): long
-- names that escaping makes longer still
CREATE FUNCTION wfg_long_names(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..150 LOOP
    PERFORM durable_step(i || repeat('<', 150), 'SELECT 1');
  END LOOP;
  RETURN NULL;
END $$;
SELECT durable_start('wfg_long_names', '{}', name => 'g-long-names') IS NOT NULL AS started;
SELECT durable_drive('g-long-names');
SELECT length(g) < 50000 AS fits, length(g) > 40000 AS filled,
       (regexp_match(g, 'more\["\.\.\. ([0-9]+) more operations"\]'))[1]::int
         + (SELECT count(*) FROM regexp_matches(g, '\n    r1_o[0-9]+\[', 'g')) AS all_counted
  FROM durable_graph('g-long-names', 1000) g;
SELECT * FROM graph('g-many', 3);
SELECT * FROM graph('g-fan', 4);
SELECT * FROM graph('g-counter', 2);
SELECT * FROM graph('g-contexts', 4);

-- bad inputs: each a clear error
SELECT durable_graph(NULL);
SELECT durable_graph('no such execution');
SELECT durable_graph('00000000-0000-0000-0000-000000000000');
SELECT durable_graph('g-multi', 0);
SELECT durable_graph('g-multi', NULL);
-- another role's execution is unknown to a role that cannot see it;
-- durable_admin sees it
CREATE ROLE regress_graph_dave;
CREATE ROLE regress_graph_erin;
GRANT EXECUTE ON FUNCTION wfg_multi(jsonb) TO regress_graph_dave;
SET ROLE regress_graph_dave;
SELECT durable_start('wfg_multi', '{}', name => 'g-dave-multi') IS NOT NULL AS started;
SELECT durable_drive('g-dave-multi');
SELECT count(*) AS dave_lines FROM graph('g-dave-multi');
SET ROLE regress_graph_erin;
SELECT durable_graph('g-dave-multi');
SELECT durable_graph('g-multi');
RESET ROLE;
GRANT durable_admin TO regress_graph_erin;
SET ROLE regress_graph_erin;
SELECT count(*) AS admin_lines FROM graph('g-dave-multi');
RESET ROLE;
REVOKE durable_admin FROM regress_graph_erin;
DROP OWNED BY regress_graph_dave;
DROP ROLE regress_graph_dave;
DROP ROLE regress_graph_erin;

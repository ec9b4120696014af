-- durable_step: running SQL, results as jsonb, retries, timeouts, failures.
\set VERBOSITY default
CREATE TABLE effects (step text, n int);
CREATE FUNCTION count_effect(step text) RETURNS int LANGUAGE sql AS $$
  INSERT INTO effects VALUES (step, 1) RETURNING (SELECT count(*)::int + 1 FROM effects WHERE effects.step = $1)
$$;

-- results: jsonb as is, other types through to_jsonb, NULL for no row
CREATE FUNCTION wf_types(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object(
    'int', durable_step('int', 'SELECT 41 + 1'),
    'text', durable_step('text', 'SELECT ''hello'''),
    'arg', durable_step('arg', 'SELECT $1->''x''', input),
    'row', durable_step('row', 'SELECT r FROM (SELECT 1 AS a, ''b'' AS b) r'),
    'json', durable_step('json', 'SELECT ''{"j": [1, 2]}''::json'),
    'array', durable_step('array', 'SELECT ARRAY[1, 2, 3]'),
    'null', durable_step('null', 'SELECT NULL::int'),
    'norow', durable_step('norow', 'SELECT 1 WHERE false'),
    'first_row', durable_step('first', 'SELECT g FROM generate_series(7, 9) g'),
    'insert', durable_step('insert', 'INSERT INTO effects SELECT ''multi'', g FROM generate_series(1, 3) g RETURNING n'));
END $$;
SELECT durable_start('wf_types', '{"x": {"y": true}}', name => 'types') IS NOT NULL AS started;
SELECT durable_drive('types');
SELECT jsonb_pretty(durable_result('types'));
SELECT count(*) AS all_three_inserted FROM effects WHERE step = 'multi';

-- each step's effect happens once, however many replays follow it
CREATE FUNCTION wf_once(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb; b jsonb; c jsonb;
BEGIN
  a := durable_step('a', 'SELECT count_effect(''a'')');
  b := durable_step('b', 'SELECT count_effect(''b'')');
  c := durable_step('c', 'SELECT count_effect(''c'')');
  RETURN jsonb_build_array(a, b, c);
END $$;
SELECT durable_start('wf_once', '{}', name => 'once') IS NOT NULL AS started;
SELECT durable_drive('once');
SELECT durable_result('once');
SELECT step, count(*) FROM effects WHERE step IN ('a', 'b', 'c') GROUP BY step ORDER BY step;
SELECT name, kind, status, attempt, result FROM durable_operations('once');

-- a step's effect happens once even when the replay after it fails:
-- the failure is the workflow's, the step's effect and checkpoint stay
CREATE FUNCTION wf_fail_after(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('effect', 'SELECT count_effect(''fail-after'')');
  RAISE EXCEPTION 'the body fails after the step' USING ERRCODE = 'P0001';
END $$;
SELECT durable_start('wf_fail_after', '{}', name => 'fail-after') IS NOT NULL AS started;
SELECT durable_drive('fail-after');
SELECT durable_drive('fail-after');
SELECT count(*) AS effects_once FROM effects WHERE step = 'fail-after';
SELECT status, error FROM durable_status('fail-after');

-- retries: each delay is a durable timer; the clock moves, nothing sleeps
-- a failed attempt is rolled back whole; a sequence (not transactional)
-- counts the attempts
CREATE SEQUENCE attempts_two;
CREATE SEQUENCE attempts_always;
CREATE FUNCTION flaky_call(seq text, failures int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO effects VALUES (seq, 1);
  IF nextval(seq) <= failures THEN
    RAISE EXCEPTION 'transient failure of %', seq USING ERRCODE = '08006';
  END IF;
  RETURN 'ok';
END $$;
CREATE FUNCTION wf_retry(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('call', 'SELECT flaky_call($1->>''seq'', ($1->>''failures'')::int)', input,
                      '{"max_attempts": 5, "initial_delay": "10 seconds", "backoff_rate": 3, "jitter": "none"}');
END $$;
SELECT durable_start('wf_retry', '{"seq": "attempts_two", "failures": 2}', name => 'retry') IS NOT NULL AS started;
SELECT durable_drive('retry');
SELECT status, attempt, error->>'message' AS error, wake_at - now() > '9 seconds' AS delayed
  FROM durable_operations('retry');
SELECT durable_drive('retry');                    -- not due yet: still suspended
SET durable.clock_offset = '11 seconds';
SELECT durable_drive('retry');                    -- attempt 2 fails, next delay 30 s
SELECT attempt, wake_at - now() > '39 seconds' AS backoff FROM durable_operations('retry');
SET durable.clock_offset = '42 seconds';
SELECT durable_drive('retry');
SELECT durable_result('retry');
SELECT name, status, attempt FROM durable_operations('retry');
SELECT last_value AS attempts FROM attempts_two;
SELECT count(*) AS effects_of_the_good_attempt FROM effects WHERE step = 'attempts_two';
SELECT event, details->>'attempt' AS attempt FROM durable_history('retry') WHERE event LIKE 'operation%';
RESET durable.clock_offset;

-- retries exhausted: WF001 raised in the workflow, FAILED with the original error
SELECT durable_start('wf_retry', '{"seq": "attempts_always", "failures": 1000}', name => 'exhausted') IS NOT NULL AS started;
SELECT durable_drive('exhausted');
SELECT durable_drive('exhausted');
SET durable.clock_offset = '1 hour';
SELECT durable_drive('exhausted');
SET durable.clock_offset = '2 hours';
SELECT durable_drive('exhausted');
SET durable.clock_offset = '3 hours';
SELECT durable_drive('exhausted');
SET durable.clock_offset = '4 hours';
SELECT durable_drive('exhausted');
RESET durable.clock_offset;
SELECT status, jsonb_pretty(error) FROM durable_status('exhausted');
SELECT status, attempt FROM durable_operations('exhausted');
SELECT last_value AS attempts FROM attempts_always;
SELECT count(*) AS effects_of_failed_attempts FROM effects WHERE step = 'attempts_always';

-- a workflow catches the step failure and compensates (a saga)
CREATE FUNCTION wf_saga(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  PERFORM durable_step('reserve', 'SELECT count_effect(''reserve'')');
  BEGIN
    r := durable_step('charge', 'SELECT 1/0', NULL, '{"max_attempts": 1}');
  EXCEPTION WHEN SQLSTATE 'WF001' THEN
    PERFORM durable_step('release', 'SELECT count_effect(''release'')');
    RETURN jsonb_build_object('compensated', true, 'why', SQLERRM);
  END;
  RETURN r;
END $$;
SELECT durable_start('wf_saga', '{}', name => 'saga') IS NOT NULL AS started;
SELECT durable_drive('saga');
SELECT durable_result('saga');
SELECT name, status, error->>'sqlstate' AS sqlstate, error->>'detail' AS detail FROM durable_operations('saga');

-- retry_on and no_retry_on choose what is retried; WF010 is never retried
CREATE FUNCTION wf_policy(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('s', input->>'sql', NULL, input->'options');
END $$;
SELECT durable_start('wf_policy', '{"sql": "SELECT 1/0", "options": {"no_retry_on": ["22012"], "initial_delay": "0 s"}}', name => 'no-retry') IS NOT NULL;
SELECT durable_start('wf_policy', '{"sql": "SELECT 1/0", "options": {"retry_on": ["08"], "initial_delay": "0 s"}}', name => 'retry-on-other') IS NOT NULL;
SELECT durable_start('wf_policy', '{"sql": "SELECT 1/0", "options": {"retry_on": ["22"], "initial_delay": "0 s", "max_delay": "0 s"}}', name => 'retry-on-class') IS NOT NULL;
CREATE FUNCTION give_up() RETURNS int LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'card reported stolen' USING ERRCODE = 'WF010'; END $$;
SELECT durable_start('wf_policy', '{"sql": "SELECT give_up()", "options": {"initial_delay": "0 s"}}', name => 'unrecoverable') IS NOT NULL;
SELECT durable_drive(n) FROM unnest(ARRAY['no-retry', 'retry-on-other', 'retry-on-class', 'unrecoverable']) n;
SELECT e.name, o.attempt, e.error->>'message' AS error
  FROM durable.executions e JOIN durable.operations o ON o.execution_id = e.id
 WHERE e.name IN ('no-retry', 'retry-on-other', 'retry-on-class', 'unrecoverable') ORDER BY e.name;

-- a per-attempt timeout cancels the attempt with WF011, and is retried
SELECT durable_start('wf_policy', '{"sql": "SELECT pg_sleep(5)", "options": {"timeout": "100 ms", "max_attempts": 2, "initial_delay": "0 s", "max_delay": "0 s"}}', name => 'timeout') IS NOT NULL;
SELECT durable_drive('timeout');
SELECT error->>'message' AS error, error->>'detail' AS detail FROM durable_status('timeout');
SELECT event, details->'error'->>'sqlstate' AS sqlstate FROM durable_history('timeout') WHERE event LIKE 'operation%';

-- malformed step options fail the workflow with a clear error
SELECT durable_start('wf_policy', format('{"sql": "SELECT 1", "options": %s}', o)::jsonb) IS NOT NULL
  FROM unnest(ARRAY['[1]', '{"max_attempts": 0}', '{"max_attempts": 2.5}', '{"max_attempts": "3"}',
                    '{"initial_delay": "-1 s"}', '{"initial_delay": "often"}', '{"backoff_rate": 0.5}',
                    '{"jitter": "some"}', '{"retry_on": "40001"}', '{"retry_on": ["4000"]}',
                    '{"timeout": "0 s"}', '{"semantics": "exactly_once"}', '{"retries": 3}',
                    '{"initial_delay": "10 s", "max_delay": "1 s"}']) o;
SELECT durable_drive_pending();
SELECT input->'options' AS options, error->>'message' AS error
  FROM durable.executions WHERE workflow = 'public.wf_policy' AND name IS NULL ORDER BY input::text;

-- bad step arguments inside a workflow
CREATE FUNCTION wf_bad_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step(input->>'name', input->>'sql');
END $$;
SELECT durable_start('wf_bad_step', x::jsonb) IS NOT NULL
  FROM unnest(ARRAY['{"sql": "SELECT 1"}', '{"name": "", "sql": "SELECT 1"}', '{"name": "s"}']) x;
SELECT durable_drive_pending();
SELECT input, error->>'message' AS error
  FROM durable.executions WHERE workflow = 'public.wf_bad_step' ORDER BY input::text;
-- errors in the step's SQL itself are the step's failure
SELECT durable_start('wf_policy', '{"sql": "SELEC 1", "options": {"max_attempts": 1}}', name => 'syntax') IS NOT NULL;
SELECT durable_start('wf_policy', '{"sql": "SELECT $2", "options": {"max_attempts": 1}}', name => 'param') IS NOT NULL;
SELECT durable_start('wf_policy', '{"sql": "SELECT * FROM no_such_table", "options": {"max_attempts": 1}}', name => 'relation') IS NOT NULL;
SELECT durable_drive(n) FROM unnest(ARRAY['syntax', 'param', 'relation']) n;
SELECT name, error->>'message' AS error FROM durable.executions
 WHERE name IN ('syntax', 'param', 'relation') ORDER BY name;

-- durable operations inside a step's SQL are refused
CREATE FUNCTION nested_step() RETURNS jsonb LANGUAGE sql AS $$ SELECT durable_step('inner', 'SELECT 1') $$;
SELECT durable_start('wf_policy', '{"sql": "SELECT nested_step()", "options": {"max_attempts": 1}}', name => 'nested') IS NOT NULL;
SELECT durable_drive('nested');
SELECT error->>'message' AS error, error->>'detail' AS detail FROM durable_status('nested');

-- the step result limit
SET durable.max_payload_size = 1024;
SELECT durable_start('wf_policy', '{"sql": "SELECT repeat(''x'', 5000)"}', name => 'big-result') IS NOT NULL;
SELECT durable_drive('big-result');
SELECT error->>'message' AS error FROM durable_status('big-result');
RESET durable.max_payload_size;

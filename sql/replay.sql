-- The replay model: determinism, a read-only body, swallowed yields,
-- checkpointed values, timers, continue-as-new, child contexts, limits.
\set VERBOSITY default

-- durable operations outside a workflow
SELECT durable_step('s', 'SELECT 1');
SELECT durable_wait('w', '1 second');
SELECT durable_wait_until('w', now());
SELECT durable_now();
SELECT durable_random();
SELECT durable_uuid();
SELECT durable_log('info', 'hello');
SELECT durable_continue_as_new('{}');
SELECT durable_child('c', 'wf_echo');

-- non-determinism: the operation at a position must keep its kind and name
CREATE TABLE switch (v text);
INSERT INTO switch VALUES ('a');
CREATE FUNCTION wf_branchy(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT v FROM switch) = 'a' THEN
    PERFORM durable_step('first-a', 'SELECT 1');
  ELSE
    PERFORM durable_wait('first-b', '1 second');
  END IF;
  PERFORM durable_wait('pause', '1 hour');
  RETURN '"done"';
END $$;
SELECT durable_start('wf_branchy', '{}', name => 'branchy') IS NOT NULL AS started;
SELECT durable_drive('branchy');
UPDATE switch SET v = 'b';
SET durable.clock_offset = '2 hours';
SELECT durable_drive('branchy');
RESET durable.clock_offset;
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS message FROM durable_status('branchy');
-- ... even when the workflow catches every error
CREATE FUNCTION wf_branchy_catch(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    IF (SELECT v FROM switch) = 'b' THEN
      PERFORM durable_step('first-b', 'SELECT 1');
    ELSE
      PERFORM durable_step('first-a', 'SELECT 1');
    END IF;
  EXCEPTION WHEN OTHERS THEN
    NULL;
  END;
  PERFORM durable_wait('pause', '1 hour');
  RETURN '"swallowed"';
END $$;
UPDATE switch SET v = 'a';
SELECT durable_start('wf_branchy_catch', '{}', name => 'branchy-catch') IS NOT NULL AS started;
SELECT durable_drive('branchy-catch');
UPDATE switch SET v = 'b';
SET durable.clock_offset = '2 hours';
SELECT durable_drive('branchy-catch');
RESET durable.clock_offset;
SELECT status, error->>'sqlstate' AS sqlstate FROM durable_status('branchy-catch');

-- the body cannot write: INSERT, nextval, locks fail at once with WF008
CREATE TABLE body_writes (n int);
CREATE SEQUENCE body_seq;
CREATE FUNCTION wf_writer(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('before', 'SELECT 1');
  EXECUTE input->>'sql';
  RETURN '"wrote"';
END $$;
SELECT durable_start('wf_writer', jsonb_build_object('sql', s), name => 'writer-' || n) IS NOT NULL
  FROM (VALUES (1, 'INSERT INTO body_writes VALUES (1)'),
               (2, 'SELECT nextval(''body_seq'')'),
               (3, 'SELECT * FROM body_writes FOR UPDATE'),
               (4, 'CREATE TEMP TABLE t (a int)')) v(n, s);
SELECT durable_drive('writer-' || n) FROM generate_series(1, 4) n;
SELECT name, error->>'sqlstate' AS sqlstate, error->>'message' AS message, error->>'detail' AS detail
  FROM durable.executions WHERE name LIKE 'writer-%' ORDER BY name;
SELECT error->>'hint' AS hint FROM durable_status('writer-1');
SELECT count(*) AS no_rows FROM body_writes;

-- a swallowed yield changes nothing: the handler's work is discarded
CREATE FUNCTION wf_swallow(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb; b jsonb := '"fallback"';
BEGIN
  a := durable_step('a', 'SELECT 1');
  BEGIN
    b := durable_step('b', 'SELECT 2');
  EXCEPTION WHEN OTHERS THEN
    b := '"fallback"';
  END;
  RETURN jsonb_build_object('a', a, 'b', b);
END $$;
CREATE FUNCTION wf_swallow2(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE b jsonb;
BEGIN
  BEGIN
    b := durable_step('b', 'SELECT 2');
  EXCEPTION WHEN OTHERS THEN
    b := durable_step('fallback', 'SELECT 99');
  END;
  RETURN jsonb_build_object('b', b);
END $$;
SELECT durable_start('wf_swallow', '{}', name => 'swallow') IS NOT NULL AS started;
SELECT durable_start('wf_swallow2', '{}', name => 'swallow2') IS NOT NULL AS started;
SELECT durable_drive('swallow'), durable_drive('swallow2');
SELECT durable_result('swallow') AS swallow, durable_result('swallow2') AS swallow2;
SELECT name FROM durable_operations('swallow2');

-- the yield signal is WF000, visible only to a body that catches it
CREATE FUNCTION wf_peek(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  BEGIN
    r := durable_step('s', 'SELECT 1');
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'caught SQLSTATE %', SQLSTATE;
    RAISE;
  END;
  RETURN r;
END $$;
SELECT durable_start('wf_peek', '{}', name => 'peek') IS NOT NULL AS started;
SELECT durable_drive('peek');

-- workflow body failures: FAILED, durable_drive does not raise
CREATE FUNCTION wf_raise(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'order % is invalid', input->>'id'
    USING ERRCODE = '22023', DETAIL = 'The amount is negative.', HINT = 'Fix the order.';
END $$;
SELECT durable_start('wf_raise', '{"id": 7}', name => 'raise') IS NOT NULL AS started;
SELECT durable_drive('raise');
SELECT status, jsonb_pretty(error) FROM durable_status('raise');
SELECT event, details->>'status' AS status FROM durable_history('raise');
-- a NULL result is a success
CREATE FUNCTION wf_null(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT NULL::jsonb $$;
SELECT durable_start('wf_null', '{}', name => 'null-result') IS NOT NULL AS started;
SELECT durable_drive('null-result');
SELECT durable_result('null-result') IS NULL AS is_null;

-- durable_now, durable_random, durable_uuid and durable_log: the same on
-- every replay, logged once
CREATE FUNCTION wf_values(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE t timestamptz; r float8; u uuid; i int := 0;
BEGIN
  t := durable_now();
  r := durable_random();
  u := durable_uuid();
  PERFORM durable_log('info', 'values taken', jsonb_build_object('r', r));
  WHILE i < 3 LOOP
    PERFORM durable_step('step-' || i, 'SELECT 1');
    i := i + 1;
  END LOOP;
  RETURN jsonb_build_object('t', t, 'r', r, 'u', u);
END $$;
SELECT durable_start('wf_values', '{}', name => 'values') IS NOT NULL AS started;
SELECT durable_drive('values');
SELECT (durable_result('values')->>'t')::timestamptz = (SELECT (result->>'value')::timestamptz
          FROM durable_operations('values') WHERE kind = 'now') AS same_time,
       (durable_result('values')->>'r')::float8 = (SELECT (result->>'value')::float8
          FROM durable_operations('values') WHERE kind = 'random') AS same_random,
       (durable_result('values')->>'u') = (SELECT result->>'value'
          FROM durable_operations('values') WHERE kind = 'uuid') AS same_uuid,
       substr(durable_result('values')->>'u', 15, 1) AS uuid_version;
SELECT position, name, kind, status FROM durable_operations('values');
SELECT count(*) AS log_lines, min(details->>'message') AS message,
       min((details->'details'->>'r')::float8) = (durable_result('values')->>'r')::float8 AS same_r
  FROM durable_history('values') WHERE event = 'log';
-- bad log level
CREATE FUNCTION wf_badlog(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN PERFORM durable_log('loud', 'x'); RETURN NULL; END $$;
SELECT durable_start('wf_badlog', '{}', name => 'badlog') IS NOT NULL AS started;
SELECT durable_drive('badlog');
SELECT error->>'message' AS error FROM durable_status('badlog');

-- timers: durable_wait and durable_wait_until, and their bad inputs
CREATE FUNCTION wf_timers(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('short', interval '10 minutes');
  PERFORM durable_wait_until('past', '2000-01-01');
  PERFORM durable_wait_until('later', durable_now() + interval '1 day');
  PERFORM durable_wait('zero', interval '0 seconds');
  RETURN '"woke"';
END $$;
SELECT durable_start('wf_timers', '{}', name => 'timers') IS NOT NULL AS started;
SELECT durable_drive('timers');
SELECT status, wake_at - now() BETWEEN '9 minutes' AND '11 minutes' AS wakes_in_10_min,
       current_operation FROM durable_status('timers');
SET durable.clock_offset = '9 minutes';
SELECT durable_drive('timers');
SET durable.clock_offset = '11 minutes';
SELECT durable_drive('timers');
SELECT status, current_operation FROM durable_status('timers');
SET durable.clock_offset = '2 days';
SELECT durable_drive('timers');
RESET durable.clock_offset;
SELECT position, name, status FROM durable_operations('timers');
CREATE FUNCTION wf_bad_wait(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  IF input ? 'until' THEN
    PERFORM durable_wait_until('w', (input->>'until')::timestamptz);
  ELSE
    PERFORM durable_wait('w', (input->>'for')::interval);
  END IF;
  RETURN NULL;
END $$;
SELECT durable_start('wf_bad_wait', x::jsonb) IS NOT NULL
  FROM unnest(ARRAY['{"for": "-5 minutes"}', '{"for": null}', '{"for": "400 days"}',
                    '{"until": "infinity"}', '{"until": null}', '{"until": "2999-01-01"}']) x;
SELECT durable_drive_pending();
SELECT input, status, error->>'message' AS error
  FROM durable.executions WHERE workflow = 'public.wf_bad_wait' ORDER BY input::text;

-- continue-as-new: the next run starts with a new input and no operations
CREATE FUNCTION wf_counter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE n int := (input->>'n')::int;
BEGIN
  PERFORM durable_step('tick', 'SELECT $1', input);
  IF n < 3 THEN
    PERFORM durable_continue_as_new(jsonb_build_object('n', n + 1));
  END IF;
  RETURN jsonb_build_object('final', n);
END $$;
SELECT durable_start('wf_counter', '{"n": 1}', name => 'counter') IS NOT NULL AS started;
SELECT durable_drive('counter');
SELECT run_no, result FROM durable_status('counter');
SELECT run_no, position, name, result FROM durable_operations('counter');
SELECT run_no, event FROM durable_history('counter') WHERE event IN ('started', 'continued_as_new', 'succeeded');
CREATE FUNCTION wf_bad_can(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN PERFORM durable_continue_as_new(NULL); RETURN NULL; END $$;
SELECT durable_start('wf_bad_can', '{}', name => 'bad-can') IS NOT NULL AS started;
SELECT durable_drive('bad-can');
SELECT error->>'message' AS error FROM durable_status('bad-can');

-- child contexts: their own positions; replay skips a finished child
CREATE FUNCTION wf_part(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('load', 'SELECT $1', input);
  PERFORM durable_wait('cool', interval '1 minute');
  IF input ? 'fail' THEN
    RAISE EXCEPTION 'part % failed', input->>'part';
  END IF;
  RETURN jsonb_build_object('part', input->'part', 'sum', durable_step('sum', 'SELECT ($1->>''part'')::int * 10', input));
END $$;
CREATE FUNCTION wf_parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb; b jsonb;
BEGIN
  a := durable_child('part-1', 'wf_part', '{"part": 1}');
  BEGIN
    b := durable_child('part-2', 'wf_part', '{"part": 2, "fail": true}');
  EXCEPTION WHEN SQLSTATE 'WF006' THEN
    b := jsonb_build_object('failed', SQLERRM);
  END;
  RETURN jsonb_build_object('a', a, 'b', b, 'after', durable_step('after', 'SELECT 1'));
END $$;
SELECT durable_start('wf_parent', '{}', name => 'parent') IS NOT NULL AS started;
SELECT durable_drive('parent');
SET durable.clock_offset = '2 minutes';
SELECT durable_drive('parent');
SET durable.clock_offset = '4 minutes';
SELECT durable_drive('parent');
RESET durable.clock_offset;
SELECT jsonb_pretty(durable_result('parent'));
SELECT op_id, parent_op_id, position, name, kind, status FROM durable_operations('parent');
-- an unknown child workflow fails the parent
CREATE FUNCTION wf_bad_child(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN durable_child('c', input->>'wf'); END $$;
SELECT durable_start('wf_bad_child', x::jsonb) IS NOT NULL
  FROM unnest(ARRAY['{"wf": "no_such_wf"}', '{"wf": "wf_text"}', '{}']) x;
SELECT durable_drive_pending();
SELECT input, error->>'message' AS error
  FROM durable.executions WHERE workflow = 'public.wf_bad_child' ORDER BY input::text;
-- unbounded recursion through durable_child hits the depth limit
CREATE FUNCTION wf_recurse(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN durable_child('again', 'wf_recurse', input); END $$;
SELECT durable_start('wf_recurse', '{}', name => 'recurse') IS NOT NULL AS started;
SELECT durable_drive('recurse');
SELECT error->>'message' AS error FROM durable_status('recurse');

-- limits: operations per run, replay time, result size
SET durable.max_operations = 5;
CREATE FUNCTION wf_many(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..10 LOOP
    PERFORM durable_step('s' || i, 'SELECT 1');
  END LOOP;
  RETURN NULL;
END $$;
SELECT durable_start('wf_many', '{}', name => 'many') IS NOT NULL AS started;
SELECT durable_drive('many');
SELECT error->>'sqlstate' AS sqlstate, error->>'message' AS message FROM durable_status('many');
SELECT count(*) AS steps_run FROM durable_operations('many');
RESET durable.max_operations;
SET durable.replay_timeout = '200ms';
CREATE FUNCTION wf_spin(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  LOOP
  END LOOP;
END $$;
SELECT durable_start('wf_spin', '{}', name => 'spin') IS NOT NULL AS started;
SELECT durable_drive('spin');
SELECT error->>'sqlstate' AS sqlstate, error->>'message' AS message FROM durable_status('spin');
RESET durable.replay_timeout;
SET durable.max_payload_size = 1024;
CREATE FUNCTION wf_big(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT to_jsonb(repeat('x', 4000)) $$;
SELECT durable_start('wf_big', '{}', name => 'big') IS NOT NULL AS started;
SELECT durable_drive('big');
SELECT error->>'message' AS error FROM durable_status('big');
RESET durable.max_payload_size;

-- durable_start, durable_drive and durable_stop inside a workflow body
CREATE FUNCTION wf_meta(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE input->>'sql';
  RETURN NULL;
END $$;
SELECT durable_start('wf_meta', jsonb_build_object('sql', s), name => 'meta-' || n) IS NOT NULL
  FROM (VALUES (1, 'SELECT durable_start(''wf_null'')'),
               (2, 'SELECT durable_drive(''values'')'),
               (3, 'SELECT durable_stop(''values'')')) v(n, s);
SELECT durable_drive('meta-' || n) FROM generate_series(1, 3) n;
SELECT name, error->>'message' AS error FROM durable.executions WHERE name LIKE 'meta-%' ORDER BY name;

-- durable_wait_for_any: the first of several branches (events, timers,
-- callbacks) wins; the others are left as they are.  No worker runs
-- (test/regress.conf): executions are driven by name, and the clock moves
-- with durable.clock_offset.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

-- any_err(sql): 'ok', or the SQLSTATE and message of the error it raised
CREATE FUNCTION any_err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- an operation's result without the absolute times of its timers
CREATE FUNCTION any_shown(r jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT CASE WHEN r ? 'branches' THEN
    jsonb_build_object('branches', (SELECT jsonb_object_agg(k,
        CASE WHEN v ? 'timer' THEN '{"timer": "<time>"}'::jsonb
             WHEN v ? 'callback' THEN '{"callback": "<hash>"}'::jsonb ELSE v END)
      FROM jsonb_each(r->'branches') AS e(k, v)))
  ELSE r END
$$;

-- an operation of a workflow: called outside one, WF012
SELECT any_err($$SELECT durable_wait_for_any('w', '{"a": {"event": "e"}}')$$);

-- the decision of the reference: approved, withdrawn or expired
CREATE FUNCTION wf_any(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_any('decision', input->'branches');
END $$;

-- an event branch wins; the timer is the deadline, from when the wait began
SELECT durable_start('wf_any', '{"branches": {"approved": {"event": "approve"},
         "withdrawn": {"event": "withdraw"}, "expired": {"timer": "2 days"}}}',
         name => 'any-event') IS NOT NULL AS started;
SELECT durable_drive('any-event');
SELECT status, current_operation,
       wake_at - durable_clock() BETWEEN '47 hours' AND '48 hours' AS wakes_in_2_days
  FROM durable_status('any-event');
SELECT name, kind, status, any_shown(result) AS result,
       wake_at - durable_clock() BETWEEN '47 hours' AND '48 hours' AS deadline_in_2_days
  FROM durable_operations('any-event');
-- the stored timer is the absolute time of the deadline
SELECT (o.result->'branches'->'expired'->>'timer')::timestamptz = o.wake_at AS timer_is_deadline
  FROM durable.operations o WHERE o.execution_id = durable.execution_id('any-event');
SELECT durable_drive('any-event');               -- nothing new: still waiting
SELECT durable_send_event('any-event', 'other', '"not a branch"');
SELECT durable_send_event('any-event', 'withdraw', '{"by": "customer"}');
SELECT durable_drive('any-event');
SELECT status, result FROM durable_status('any-event');
SELECT name, kind, status, result FROM durable_operations('any-event');
SELECT event, name, kind FROM durable_history('any-event') ORDER BY event_id;
-- the event that was not for a branch went with the end of the execution
SELECT name, payload FROM durable.events WHERE execution_id = durable.execution_id('any-event');

-- a timer branch wins once the clock passes it: payload null
SELECT durable_start('wf_any', '{"branches": {"go": {"event": "go"},
         "soon": {"timer": "10 minutes"}, "later": {"timer": "1 hour"}}}',
         name => 'any-timer') IS NOT NULL AS started;
SELECT durable_drive('any-timer');
SET durable.clock_offset = '9 minutes';
SELECT durable_drive('any-timer');
SET durable.clock_offset = '11 minutes';
SELECT durable_drive('any-timer');
SELECT status, result FROM durable_status('any-timer');
SELECT name, kind, status, result FROM durable_operations('any-timer');
RESET durable.clock_offset;
-- two timers due at once: the first by name wins
SELECT durable_start('wf_any', '{"branches": {"b": {"timer": "1 minute"}, "a": {"timer": "60 seconds"}}}',
         name => 'any-timer-tie') IS NOT NULL AS started;
SELECT durable_drive('any-timer-tie');
SET durable.clock_offset = '2 minutes';
SELECT durable_drive('any-timer-tie');
SELECT status, result FROM durable_status('any-timer-tie');
RESET durable.clock_offset;

-- events kept before the wait began: one wins at once, the first branch
-- by name; the other stays kept
CREATE FUNCTION wf_any_later(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('pause', '1 minute');
  RETURN durable_wait_for_any('decision', input->'branches');
END $$;
SELECT durable_start('wf_any_later', '{"branches": {"withdrawn": {"event": "withdraw"},
         "approved": {"event": "approve"}, "expired": {"timer": "1 hour"}}}',
         name => 'any-parked') IS NOT NULL AS started;
SELECT durable_drive('any-parked');
SELECT durable_send_event('any-parked', 'withdraw', '"first sent"');
SELECT durable_send_event('any-parked', 'approve', '"second sent"');
SELECT durable_drive('any-parked');
SELECT name, payload FROM durable.events WHERE execution_id = durable.execution_id('any-parked')
 ORDER BY event_id;
SET durable.clock_offset = '2 minutes';
SELECT durable_drive('any-parked');
SELECT status, result FROM durable_status('any-parked');
SELECT name, kind, status, result FROM durable_operations('any-parked');
SELECT name, payload FROM durable.events WHERE execution_id = durable.execution_id('any-parked');
RESET durable.clock_offset;

-- the event of a branch that lost, sent later (at or after the deadline),
-- does not win: it is kept and a later durable_wait_for_event takes it;
-- replays return the race's result after more operations
CREATE FUNCTION wf_any_then(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  a jsonb;
  b jsonb;
BEGIN
  a := durable_wait_for_any('race', '{"go": {"event": "go"}, "late": {"timer": "1 hour"}}');
  PERFORM durable_wait('pause', '1 hour');
  b := durable_wait_for_event('after', 'go');
  RETURN jsonb_build_object('race', a, 'after', b);
END $$;
SELECT durable_start('wf_any_then', '{}', name => 'any-late') IS NOT NULL AS started;
SELECT durable_drive('any-late');
SET durable.clock_offset = '61 minutes';
SELECT durable_send_event('any-late', 'go', '"after the deadline"');
SELECT durable_drive('any-late');
SELECT status, current_operation FROM durable_status('any-late');
SELECT name, kind, status, result FROM durable_operations('any-late');
SELECT name, payload FROM durable.events WHERE execution_id = durable.execution_id('any-late');
SET durable.clock_offset = '122 minutes';
SELECT durable_drive('any-late');
SELECT status, result FROM durable_status('any-late');
SELECT name, kind, status, result FROM durable_operations('any-late');
RESET durable.clock_offset;

-- two races in a row, both for "go": one event each, in order
CREATE FUNCTION wf_any_two(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  a jsonb;
  b jsonb;
BEGIN
  a := durable_wait_for_any('first', '{"go": {"event": "go"}, "stop": {"event": "stop"}}');
  b := durable_wait_for_any('second', '{"again": {"event": "go"}, "stop": {"event": "stop"}}');
  RETURN jsonb_build_array(a, b);
END $$;
SELECT durable_start('wf_any_two', '{}', name => 'any-two') IS NOT NULL AS started;
SELECT durable_drive('any-two');
SELECT durable_send_event('any-two', 'go', '"one"');
SELECT durable_send_event('any-two', 'go', '"two"');
SELECT durable_drive('any-two');
SELECT status, result FROM durable_status('any-two');
SELECT name, kind, status, result FROM durable_operations('any-two');

-- callbacks: a branch is an id of durable_create_callback of the execution
CREATE FUNCTION wf_any_cb(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  cb text := durable_create_callback('cb');
BEGIN
  IF input ? 'pause' THEN
    PERFORM durable_wait('pause', (input->>'pause')::interval);
  END IF;
  RETURN durable_wait_for_any('race', jsonb_build_object(
           'approved', jsonb_build_object('callback', cb),
           'expired', '{"timer": "1 day"}'::jsonb));
EXCEPTION WHEN SQLSTATE 'WF002' THEN
  RETURN jsonb_build_object('caught', SQLSTATE, 'message', SQLERRM);
END $$;
CREATE FUNCTION any_cb_id(execution text) RETURNS text LANGUAGE sql AS $$
  SELECT result->>'callback_id' FROM durable_operations(execution) WHERE kind = 'create_callback'
$$;
-- the callback completes from outside: its branch wins with its result
SELECT durable_start('wf_any_cb', '{}', name => 'any-cb') IS NOT NULL AS started;
SELECT durable_drive('any-cb');
SELECT name, kind, status, any_shown(result) AS result FROM durable_operations('any-cb')
 WHERE kind = 'any';
-- the waiting result holds the callback's hash, never its id
SELECT o.result->'branches'->'approved'->>'callback' = encode(sha256(convert_to(any_cb_id('any-cb'), 'UTF8')), 'hex') AS is_hash
  FROM durable.operations o WHERE o.execution_id = durable.execution_id('any-cb') AND o.kind = 'any';
SELECT durable_callback_success(any_cb_id('any-cb'), '{"ok": true}');
SELECT durable_drive('any-cb');
SELECT status, result FROM durable_status('any-cb');
-- a completion sent after the timer's deadline, before the next drive:
-- the timer fired first and wins; the callback keeps its outcome
SELECT durable_start('wf_any_cb', '{}', name => 'any-cb-late') IS NOT NULL AS started;
SELECT durable_drive('any-cb-late');
SET durable.clock_offset = '2 days';
SELECT durable_callback_success(any_cb_id('any-cb-late'), '"too late"');
SELECT durable_drive('any-cb-late');
SELECT status, result FROM durable_status('any-cb-late');
SELECT status FROM durable.callbacks WHERE execution_id = durable.execution_id('any-cb-late');
RESET durable.clock_offset;
-- a callback that fails: WF002, catchable, as durable_await_callback
SELECT durable_start('wf_any_cb', '{}', name => 'any-cb-fail') IS NOT NULL AS started;
SELECT durable_drive('any-cb-fail');
SELECT durable_callback_failure(any_cb_id('any-cb-fail'), '{"message": "rejected", "code": 7}');
SELECT durable_drive('any-cb-fail');
SELECT status, result FROM durable_status('any-cb-fail');
SELECT name, kind, status, error->>'sqlstate' AS sqlstate, error->>'detail' AS detail
  FROM durable_operations('any-cb-fail') WHERE kind = 'any';
-- a callback complete before the wait began wins at once
SELECT durable_start('wf_any_cb', '{"pause": "1 minute"}', name => 'any-cb-early') IS NOT NULL AS started;
SELECT durable_drive('any-cb-early');
SELECT durable_callback_success(any_cb_id('any-cb-early'), '"early"');
SET durable.clock_offset = '2 minutes';
SELECT durable_drive('any-cb-early');
SELECT status, result FROM durable_status('any-cb-early');
RESET durable.clock_offset;
-- the callback of a branch that lost keeps its outcome in its row: a
-- later durable_await_callback gets it
CREATE FUNCTION wf_any_cb_then(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  cb text := durable_create_callback('cb');
  a jsonb;
BEGIN
  a := durable_wait_for_any('race', jsonb_build_object(
         'event', '{"event": "go"}'::jsonb, 'reply', jsonb_build_object('callback', cb)));
  RETURN jsonb_build_object('race', a, 'after', durable_await_callback('after', cb));
END $$;
SELECT durable_start('wf_any_cb_then', '{}', name => 'any-cb-lost') IS NOT NULL AS started;
SELECT durable_drive('any-cb-lost');
SELECT durable_send_event('any-cb-lost', 'go', '"event first"');
SELECT durable_drive('any-cb-lost');
SELECT status, current_operation FROM durable_status('any-cb-lost');
SELECT durable_callback_success(any_cb_id('any-cb-lost'), '"reply later"');
SELECT status FROM durable.callbacks WHERE execution_id = durable.execution_id('any-cb-lost');
SELECT durable_drive('any-cb-lost');
SELECT status, result FROM durable_status('any-cb-lost');
SELECT name, kind, status, result FROM durable_operations('any-cb-lost') WHERE kind <> 'create_callback';

-- a callback of another execution: the operation fails (22023), as
-- durable_await_callback
CREATE FUNCTION wf_any_foreign(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_any('race', jsonb_build_object(
           'stolen', jsonb_build_object('callback', input->>'cb'), 'expired', '{"timer": "1 day"}'::jsonb));
END $$;
SELECT durable_start('wf_any_cb', '{}', name => 'any-cb-owner') IS NOT NULL AS started;
SELECT durable_drive('any-cb-owner');
SELECT durable_start('wf_any_foreign', jsonb_build_object('cb', any_cb_id('any-cb-owner')),
         name => 'any-cb-foreign') IS NOT NULL AS started;
SELECT durable_drive('any-cb-foreign');
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS message
  FROM durable.executions WHERE name = 'any-cb-foreign';
SELECT status FROM durable_status('any-cb-owner');

-- bad branches: each a clear error of the call, nothing recorded
CREATE FUNCTION wf_any_bad(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_any(coalesce(input->>'name', 'w'), input->'b');
END $$;
SELECT durable_start('wf_any_bad', CASE WHEN b IS NULL THEN '{}' ELSE jsonb_build_object('b', b) END, name => 'any-bad ' || label) IS NOT NULL AS started
  FROM (VALUES
    ('00 null', NULL),
    ('01 json null', 'null'),
    ('02 array', '[{"event": "e"}]'),
    ('03 scalar', '"e"'),
    ('04 empty', '{}'),
    ('05 65 branches', (SELECT jsonb_object_agg('b' || i, '{"event": "e"}'::jsonb) FROM generate_series(1, 65) i)),
    ('06 empty name', '{"": {"event": "e"}}'),
    ('07 control name', '{"a\u0001": {"event": "e"}}'),
    ('08 long name', jsonb_build_object(repeat('n', 201), '{"event": "e"}'::jsonb)),
    ('09 not object', '{"a": "e"}'),
    ('10 no key', '{"a": {}}'),
    ('11 two keys', '{"a": {"event": "e", "timer": "1 s"}}'),
    ('12 unknown key', '{"a": {"signal": "e"}}'),
    ('13 event number', '{"a": {"event": 1}}'),
    ('14 event null', '{"a": {"event": null}}'),
    ('15 event empty', '{"a": {"event": ""}}'),
    ('16 timer text', '{"a": {"timer": "soon"}}'),
    ('17 timer negative', '{"a": {"timer": "-1 s"}}'),
    ('18 timer zero', '{"a": {"timer": "0 s"}}'),
    ('19 timer too long', '{"a": {"timer": "400 days"}}'),
    ('20 callback malformed', '{"a": {"callback": "cb_xyz"}}'),
    ('21 one bad of many', '{"a": {"event": "e"}, "b": {"timer": "1 s"}, "c": {"callback": "nope"}}')
  ) AS t(label, b);
SELECT durable_start('wf_any_bad', '{"name": "", "b": {"a": {"event": "e"}}}', name => 'any-bad 22 empty wait name')
  IS NOT NULL AS started;
SELECT count(*) AS executions FROM durable.executions \gset before_
SELECT count(*) AS operations FROM durable.operations \gset before_
SELECT count(*) AS events FROM durable.events \gset before_
SELECT durable_drive(name) FROM durable.executions WHERE name LIKE 'any-bad %' ORDER BY name;
SELECT substr(name, 9) AS input, error->>'sqlstate' AS sqlstate, error->>'message' AS error,
       error->>'detail' AS detail
  FROM durable.executions WHERE name LIKE 'any-bad %' ORDER BY name;
SELECT count(*) = :before_executions AS same_executions,
       (SELECT count(*) FROM durable.operations) = :before_operations AS same_operations,
       (SELECT count(*) FROM durable.events) = :before_events AS same_events
  FROM durable.executions;
SELECT count(*) AS operations_of_bad FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id
 WHERE e.name LIKE 'any-bad %';

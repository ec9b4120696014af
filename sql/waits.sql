-- Waits on the outside world: callbacks (durable_wait_for_callback,
-- durable_create_callback + durable_await_callback, and the functions that
-- complete them), events and conditions, with their bad inputs.  No worker
-- runs (test/regress.conf): executions are driven by name, and the clock
-- moves with durable.clock_offset.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

-- err(sql): 'ok', or the SQLSTATE and message of the error it raised
CREATE FUNCTION err(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- what a bad call must not change: callbacks, inbox, kept events,
-- executions and operations
CREATE FUNCTION waits_digest() RETURNS text LANGUAGE sql AS $$
  SELECT md5(concat_ws('|',
    (SELECT string_agg(concat_ws(',', encode(token_hash, 'hex'), status, result, error,
                                 heartbeat_at, completed_at), ';' ORDER BY token_hash)
       FROM durable.callbacks),
    (SELECT string_agg(concat_ws(',', execution_id, message_id, kind, payload), ';' ORDER BY message_id)
       FROM durable.inbox),
    (SELECT string_agg(concat_ws(',', execution_id, event_id, name, payload), ';' ORDER BY execution_id, event_id)
       FROM durable.events),
    (SELECT string_agg(concat_ws(',', id, status, updated_at), ';' ORDER BY id)
       FROM durable.executions),
    (SELECT string_agg(concat_ws(',', execution_id, run_no, op_id, status, result, error), ';'
                       ORDER BY execution_id, run_no, op_id)
       FROM durable.operations)))
$$;
-- the status of the callbacks of an execution
CREATE FUNCTION callback_statuses(execution text) RETURNS TABLE (name text, status text)
LANGUAGE sql AS $$
  SELECT c.name, c.status FROM durable.callbacks c
   WHERE c.execution_id = durable.execution_id(execution) ORDER BY c.op_id
$$;

-- every wait is an operation of a workflow: called outside one, WF012
SELECT f, err(f) FROM unnest(ARRAY[
  'SELECT durable_wait_for_callback(''c'', ''SELECT 1'')',
  'SELECT durable_create_callback(''c'')',
  'SELECT durable_await_callback(''c'', ''cb_0123456789abcdef0123456789abcdef'')',
  'SELECT durable_wait_for_event(''w'', ''e'')',
  'SELECT durable_wait_for_condition(''c'', ''SELECT 1'', ''{}'')']) f;
SELECT durable_wait_for_callback('c', 'SELECT 1');

-- ----------------------------------------------------------------------
-- durable_wait_for_callback
-- ----------------------------------------------------------------------

-- the submitter hands the id over: here an outbox row, written in the
-- transaction that records the wait, as the execution's owner
CREATE TABLE outbox (cb text, args jsonb, who text);
CREATE FUNCTION wf_callback(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_callback('approval',
           'INSERT INTO outbox VALUES ($1, $2, current_user)', input->'args',
           (input->>'timeout')::interval, (input->>'heartbeat_timeout')::interval);
END $$;
-- the same, catching what the wait raises
CREATE FUNCTION wf_callback_catch(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object('result',
           durable_wait_for_callback('approval',
             coalesce(input->>'submitter', 'INSERT INTO outbox VALUES ($1, $2, current_user)'),
             input->'args', (input->>'timeout')::interval,
             (input->>'heartbeat_timeout')::interval));
EXCEPTION WHEN SQLSTATE 'WF002' OR SQLSTATE 'WF003' OR SQLSTATE 'WF004' THEN
  RETURN jsonb_build_object('caught', SQLSTATE, 'message', SQLERRM);
END $$;

SELECT durable_start('wf_callback', '{"args": {"ticket": 1}}', name => 'cb-ok') IS NOT NULL AS started;
-- a drive that rolls back leaves neither a callback nor an outbox row
BEGIN;
SELECT durable_drive('cb-ok');
SELECT count(*) AS outbox_rows FROM outbox;
ROLLBACK;
SELECT count(*) AS outbox_rows FROM outbox;
SELECT count(*) AS callbacks FROM callback_statuses('cb-ok');
SELECT status FROM durable_status('cb-ok');
-- the drive that commits: $1 is the id, $2 the args, the submitter runs as the owner
SELECT durable_drive('cb-ok');
SELECT cb ~ '^cb_[0-9a-f]{32}$' AS id_format, args, who = current_user AS as_owner FROM outbox;
SELECT status, wake_at FROM durable_status('cb-ok');
SELECT name, kind, status FROM durable_operations('cb-ok');
SELECT * FROM callback_statuses('cb-ok');
-- the callback row holds the SHA-256 of the id (32 bytes), never the id:
-- nor does any other row of the execution
SELECT length(c.token_hash) AS hash_bytes,
       c.token_hash = sha256(convert_to(o.cb, 'UTF8')) AS is_sha256,
       strpos(c::text, o.cb) = 0 AND strpos(c::text, substr(o.cb, 4)) = 0 AS no_raw_id
  FROM durable.callbacks c, outbox o
 WHERE c.execution_id = durable.execution_id('cb-ok');
SELECT count(*) AS rows_with_raw_id
  FROM (SELECT o::text AS t FROM durable.operations o WHERE execution_id = durable.execution_id('cb-ok')
        UNION ALL
        SELECT h::text FROM durable.history h WHERE execution_id = durable.execution_id('cb-ok')
        UNION ALL
        SELECT e::text FROM durable.executions e WHERE id = durable.execution_id('cb-ok')) r,
       outbox o
 WHERE strpos(r.t, substr(o.cb, 4)) > 0;
-- ids are random: a second wait gets another id
SELECT durable_start('wf_callback', '{"args": {"ticket": 2}}', name => 'cb-other') IS NOT NULL AS started;
SELECT durable_drive('cb-other');
SELECT count(DISTINCT cb) AS distinct_ids FROM outbox;
-- a driver with nothing new leaves it waiting
SELECT durable_drive('cb-ok');
-- success: the result is what the wait returns
SELECT durable_callback_success((SELECT cb FROM outbox WHERE args->>'ticket' = '1'),
                                '{"approved": true}');
SELECT * FROM callback_statuses('cb-ok');
SELECT durable_drive('cb-ok');
SELECT status, result FROM durable_status('cb-ok');
SELECT name, kind, status, result FROM durable_operations('cb-ok');
SELECT count(*) AS inbox_left FROM durable.inbox WHERE execution_id = durable.execution_id('cb-ok');
-- a second completion is an error (55000) and changes nothing
SELECT cb AS ok_id FROM outbox WHERE args->>'ticket' = '1' \gset
SELECT waits_digest() AS digest \gset
SELECT durable_callback_success(:'ok_id', '"again"');
SELECT durable_callback_failure(:'ok_id', '"again"');
SELECT durable_callback_heartbeat(:'ok_id');
SELECT f, err(format(f, :'ok_id')) FROM unnest(ARRAY[
  'SELECT durable_callback_success(%L, ''"again"'')',
  'SELECT durable_callback_failure(%L)',
  'SELECT durable_callback_heartbeat(%L)']) f;
SELECT waits_digest() = :'digest' AS unchanged;
SELECT status, result FROM durable_status('cb-ok');

-- any role holding the id may complete the callback (the id is a capability)
CREATE ROLE regress_waits_eve;
SELECT cb AS other_id FROM outbox WHERE args->>'ticket' = '2' \gset
SET ROLE regress_waits_eve;
SELECT count(*) AS eve_sees FROM durable.executions WHERE name = 'cb-other';
SELECT durable_callback_success(:'other_id', '"approved by eve"');
RESET ROLE;
SELECT durable_drive('cb-other');
SELECT status, result FROM durable_status('cb-other');

-- failure: WF002 in the workflow, catchable, with the error's message
SELECT durable_start('wf_callback_catch', '{"args": {"ticket": 3}}', name => 'cb-fail-caught') IS NOT NULL AS started;
SELECT durable_drive('cb-fail-caught');
SELECT durable_callback_failure((SELECT cb FROM outbox WHERE args->>'ticket' = '3'),
                                '{"message": "rejected by the reviewer", "code": 7}');
SELECT * FROM callback_statuses('cb-fail-caught');
SELECT durable_drive('cb-fail-caught');
SELECT status, result FROM durable_status('cb-fail-caught');
SELECT name, status, error->>'sqlstate' AS sqlstate, error->>'detail' AS detail
  FROM durable_operations('cb-fail-caught');
-- not caught, it fails the execution; a failure without an error says so
SELECT durable_start('wf_callback', '{"args": {"ticket": 4}}', name => 'cb-fail') IS NOT NULL AS started;
SELECT durable_start('wf_callback', '{"args": {"ticket": 5}}', name => 'cb-fail-null') IS NOT NULL AS started;
SELECT durable_drive('cb-fail'), durable_drive('cb-fail-null');
SELECT durable_callback_failure((SELECT cb FROM outbox WHERE args->>'ticket' = '4'), '"out of stock"');
SELECT durable_callback_failure((SELECT cb FROM outbox WHERE args->>'ticket' = '5'));
SELECT durable_drive('cb-fail'), durable_drive('cb-fail-null');
SELECT name, status, error->>'sqlstate' AS sqlstate, error->>'message' AS message
  FROM durable.executions WHERE name IN ('cb-fail', 'cb-fail-null') ORDER BY name;

-- the submitter fails: WF002, its effects rolled back, no callback made
SELECT durable_start('wf_callback_catch',
         '{"args": {"ticket": 6}, "submitter": "INSERT INTO outbox VALUES ($1, $2, current_user); SELECT 1/0"}',
         name => 'cb-submitter') IS NOT NULL AS started;
SELECT durable_drive('cb-submitter');
SELECT status, result FROM durable_status('cb-submitter');
SELECT count(*) AS outbox_rows FROM outbox WHERE args->>'ticket' = '6';
SELECT count(*) AS callbacks FROM callback_statuses('cb-submitter');
SELECT name, status, error->>'detail' AS detail FROM durable_operations('cb-submitter');

-- timeout: WF003 once it passes, not before; then the id is refused
SELECT durable_start('wf_callback_catch', '{"args": {"ticket": 7}, "timeout": "1 hour"}',
                     name => 'cb-timeout') IS NOT NULL AS started;
SELECT durable_drive('cb-timeout');
SELECT wake_at - durable_clock() BETWEEN '50 minutes' AND '1 hour' AS wakes_in_an_hour
  FROM durable_status('cb-timeout');
SET durable.clock_offset = '30 minutes';
SELECT durable_drive('cb-timeout');
SET durable.clock_offset = '61 minutes';
SELECT durable_drive('cb-timeout');
SELECT status, result FROM durable_status('cb-timeout');
SELECT * FROM callback_statuses('cb-timeout');
SELECT cb AS timeout_id FROM outbox WHERE args->>'ticket' = '7' \gset
SELECT waits_digest() AS digest \gset
SELECT durable_callback_success(:'timeout_id', '"too late"');
SELECT err(format('SELECT durable_callback_failure(%L)', :'timeout_id')) AS failure,
       err(format('SELECT durable_callback_heartbeat(%L)', :'timeout_id')) AS heartbeat;
SELECT waits_digest() = :'digest' AS unchanged;
RESET durable.clock_offset;
-- a completion that comes after the timeout but before any drive saw it
-- is refused as well, and the wait times out
SELECT durable_start('wf_callback_catch', '{"args": {"ticket": 11}, "timeout": "1 hour"}',
                     name => 'cb-timeout-undriven') IS NOT NULL AS started;
SELECT durable_drive('cb-timeout-undriven');
SET durable.clock_offset = '61 minutes';
SELECT durable_callback_success((SELECT cb FROM outbox WHERE args->>'ticket' = '11'), '"too late"');
SELECT durable_drive('cb-timeout-undriven');
SELECT status, result FROM durable_status('cb-timeout-undriven');
RESET durable.clock_offset;

-- heartbeat_timeout: WF004 when no heartbeat comes in time
SELECT durable_start('wf_callback_catch', '{"args": {"ticket": 8}, "heartbeat_timeout": "10 minutes"}',
                     name => 'cb-heartbeat-missed') IS NOT NULL AS started;
SELECT durable_drive('cb-heartbeat-missed');
SET durable.clock_offset = '11 minutes';
SELECT durable_drive('cb-heartbeat-missed');
SELECT status, result FROM durable_status('cb-heartbeat-missed');
SELECT * FROM callback_statuses('cb-heartbeat-missed');
SELECT durable_callback_heartbeat((SELECT cb FROM outbox WHERE args->>'ticket' = '8'));
RESET durable.clock_offset;
-- a heartbeat that comes after the heartbeat deadline, before any drive, is refused
SELECT durable_start('wf_callback_catch', '{"args": {"ticket": 12}, "heartbeat_timeout": "10 minutes"}',
                     name => 'cb-heartbeat-late') IS NOT NULL AS started;
SELECT durable_drive('cb-heartbeat-late');
SET durable.clock_offset = '11 minutes';
SELECT durable_callback_heartbeat((SELECT cb FROM outbox WHERE args->>'ticket' = '12'));
SELECT durable_drive('cb-heartbeat-late');
SELECT status, result FROM durable_status('cb-heartbeat-late');
RESET durable.clock_offset;
-- heartbeats keep it alive past its heartbeat_timeout, until it succeeds
SELECT durable_start('wf_callback', '{"args": {"ticket": 9}, "heartbeat_timeout": "10 minutes", "timeout": "1 hour"}',
                     name => 'cb-heartbeat') IS NOT NULL AS started;
SELECT durable_drive('cb-heartbeat');
SELECT cb AS hb_id FROM outbox WHERE args->>'ticket' = '9' \gset
SET durable.clock_offset = '8 minutes';
SELECT durable_callback_heartbeat(:'hb_id');
SET durable.clock_offset = '11 minutes';           -- the first deadline: alive, sleeps again
SELECT durable_drive('cb-heartbeat');
SELECT status, wake_at - durable_clock() BETWEEN '5 minutes' AND '7 minutes' AS next_deadline
  FROM durable_status('cb-heartbeat');
SET durable.clock_offset = '16 minutes';
SELECT durable_callback_heartbeat(:'hb_id');
SET durable.clock_offset = '24 minutes';           -- 34 minutes after the start, 2 heartbeats
SELECT durable_drive('cb-heartbeat');
SELECT * FROM callback_statuses('cb-heartbeat');
SELECT durable_callback_success(:'hb_id', '"alive"');
SELECT durable_drive('cb-heartbeat');
SELECT status, result FROM durable_status('cb-heartbeat');
-- a heartbeat of a completed callback is refused
SELECT durable_callback_heartbeat(:'hb_id');
RESET durable.clock_offset;

-- bad arguments of the wait fail the workflow and make no callback
SELECT durable_start('wf_callback_catch', x::jsonb, name => 'cb-bad ' || x) IS NOT NULL AS started
  FROM unnest(ARRAY['{"timeout": "0 s"}', '{"timeout": "-1 s"}', '{"heartbeat_timeout": "-1 minute"}',
                    '{"timeout": "100 years"}', '{"submitter": "SELEC 1"}',
                    '{"submitter": "SELECT $3"}']) x;
SELECT durable_drive(name) FROM durable.executions WHERE name LIKE 'cb-bad %' ORDER BY name;
SELECT substr(name, 8) AS input, status, error->>'sqlstate' AS sqlstate, coalesce(result->>'message', error->>'message') AS error
  FROM durable.executions WHERE name LIKE 'cb-bad %' ORDER BY name;
SELECT count(*) AS callbacks FROM durable.callbacks c JOIN durable.executions e ON e.id = c.execution_id
 WHERE e.name LIKE 'cb-bad %';
CREATE FUNCTION wf_callback_null(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_callback(input->>'name', input->>'submitter');
END $$;
SELECT durable_start('wf_callback_null', '{"submitter": "SELECT 1"}', name => 'cb-null-name') IS NOT NULL AS started;
SELECT durable_start('wf_callback_null', '{"name": "", "submitter": "SELECT 1"}', name => 'cb-empty-name') IS NOT NULL AS started;
SELECT durable_start('wf_callback_null', '{"name": "c"}', name => 'cb-null-submitter') IS NOT NULL AS started;
SELECT durable_drive(n) FROM unnest(ARRAY['cb-null-name', 'cb-empty-name', 'cb-null-submitter']) n;
SELECT name, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable.executions WHERE name IN ('cb-null-name', 'cb-empty-name', 'cb-null-submitter') ORDER BY name;

-- ----------------------------------------------------------------------
-- bad callback ids and completions: each a clear error, nothing changes
-- ----------------------------------------------------------------------
SELECT durable_start('wf_callback', '{"args": {"ticket": 10}}', name => 'cb-victim') IS NOT NULL AS started;
SELECT durable_drive('cb-victim');
SELECT cb AS victim_id FROM outbox WHERE args->>'ticket' = '10' \gset
SELECT waits_digest() AS digest \gset
SELECT durable_callback_success(NULL);
SELECT durable_callback_success('cb_xyz', '1');
SELECT durable_callback_success('cb_0123456789abcdef0123456789abcdef', '1');
SELECT id, err(format('SELECT durable_callback_success(%L, ''1'')', id)) AS success,
       err(format('SELECT durable_callback_failure(%L, ''1'')', id)) AS failure,
       err(format('SELECT durable_callback_heartbeat(%L)', id)) AS heartbeat
  FROM unnest(ARRAY[NULL, '', 'cb_xyz', 'cb_', 'xyz',
                    'CB_0123456789abcdef0123456789abcdef',          -- prefix in upper case
                    'cb_0123456789ABCDEF0123456789ABCDEF',          -- upper-case hex
                    'cb_0123456789abcdef0123456789abcdef0',         -- too long
                    'cb_0123456789abcdef0123456789abcde',           -- too short
                    ' cb_0123456789abcdef0123456789abcdef',         -- a blank
                    'cb_0123456789abcdef0123456789abcdeg',          -- not hex
                    'cb_'' OR true; DELETE FROM durable.callbacks; --',
                    'cb_0123456789abcdef0123456789abcdef']) id;     -- well formed, unknown
-- the victim's own id, in upper case, is not the victim's id
SELECT err(format('SELECT durable_callback_success(%L)', upper(:'victim_id'))) AS upper_id;
-- a payload over durable.max_payload_size (WF009)
SET durable.max_payload_size = 1024;
SELECT durable_callback_success(:'victim_id', to_jsonb(repeat('x', 2000)));
SELECT err(format('SELECT durable_callback_failure(%L, to_jsonb(repeat(''x'', 2000)))', :'victim_id')) AS failure;
RESET durable.max_payload_size;
-- a completion rolled back
BEGIN;
SELECT durable_callback_success(:'victim_id', '"rolled back"');
ROLLBACK;
BEGIN;
SELECT durable_callback_heartbeat(:'victim_id');
ROLLBACK;
SELECT waits_digest() = :'digest' AS unchanged;
SELECT * FROM callback_statuses('cb-victim');
SELECT durable_drive('cb-victim');
-- stopped: its callback is cancelled and refused (55000)
SELECT durable_stop('cb-victim');
SELECT * FROM callback_statuses('cb-victim');
SELECT name, status FROM durable_operations('cb-victim');
SELECT waits_digest() AS digest \gset
SELECT durable_callback_success(:'victim_id', '"after the stop"');
SELECT err(format('SELECT durable_callback_failure(%L)', :'victim_id')) AS failure,
       err(format('SELECT durable_callback_heartbeat(%L)', :'victim_id')) AS heartbeat;
SELECT waits_digest() = :'digest' AS unchanged;
SELECT status FROM durable_status('cb-victim');
-- an execution that times out cancels its callback too
SELECT durable_start('wf_callback', '{"args": {"ticket": 13}}', name => 'cb-execution-timeout',
                     options => '{"execution_timeout": "1 hour"}') IS NOT NULL AS started;
SELECT durable_drive('cb-execution-timeout');
SET durable.clock_offset = '2 hours';
SELECT durable_drive('cb-execution-timeout');
RESET durable.clock_offset;
SELECT * FROM callback_statuses('cb-execution-timeout');
SELECT err(format('SELECT durable_callback_success(%L)', cb)) AS success FROM outbox WHERE args->>'ticket' = '13';

-- ----------------------------------------------------------------------
-- durable_create_callback + durable_await_callback
-- ----------------------------------------------------------------------
CREATE TABLE handed (who text, cb text);
CREATE FUNCTION wf_split(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  id text;
  r jsonb;
BEGIN
  id := durable_create_callback('create', (input->>'timeout')::interval);
  PERFORM durable_step('hand-over', 'INSERT INTO handed VALUES ($1->>''who'', $1->>''id'') RETURNING true',
                       jsonb_build_object('who', input->>'who', 'id', id));
  PERFORM durable_wait('pause', '1 minute');
  r := durable_await_callback('await', coalesce(input->>'other_id', id));
  RETURN jsonb_build_object('result', r, 'id', id);
END $$;
SELECT durable_start('wf_split', '{"who": "early"}', name => 'split-early') IS NOT NULL AS started;
SELECT durable_drive('split-early');
SELECT name, kind, status FROM durable_operations('split-early');
SELECT * FROM callback_statuses('split-early');
SELECT cb ~ '^cb_[0-9a-f]{32}$' AS id_format FROM handed WHERE who = 'early';
-- the completion comes before the await: the callback keeps it
SELECT durable_callback_success((SELECT cb FROM handed WHERE who = 'early'), '{"early": true}');
SELECT * FROM callback_statuses('split-early');
SELECT durable_drive('split-early');
SET durable.clock_offset = '2 minutes';
SELECT durable_drive('split-early');
SELECT status, result->'result' AS result,
       result->>'id' = (SELECT cb FROM handed WHERE who = 'early') AS same_id_on_replay
  FROM durable_status('split-early');
SELECT name, kind, status FROM durable_operations('split-early');
RESET durable.clock_offset;
-- a completion that comes during the await
SELECT durable_start('wf_split', '{"who": "late"}', name => 'split-late') IS NOT NULL AS started;
SELECT durable_drive('split-late');
SET durable.clock_offset = '2 minutes';
SELECT durable_drive('split-late');
SELECT status, current_operation FROM durable_status('split-late');
SELECT durable_callback_success((SELECT cb FROM handed WHERE who = 'late'), '"late"');
SELECT durable_drive('split-late');
SELECT status, result->'result' AS result FROM durable_status('split-late');
RESET durable.clock_offset;
-- an await of another execution's id, or of a malformed id, fails
SELECT durable_start('wf_split', jsonb_build_object('who', 'thief', 'other_id', cb), name => 'split-thief') IS NOT NULL AS started
  FROM handed WHERE who = 'early';
SELECT durable_start('wf_split', '{"who": "bad", "other_id": "cb_xyz"}', name => 'split-malformed') IS NOT NULL AS started;
SELECT durable_drive('split-thief'), durable_drive('split-malformed');
SET durable.clock_offset = '2 minutes';
SELECT durable_drive('split-thief'), durable_drive('split-malformed');
RESET durable.clock_offset;
SELECT name, status, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable.executions WHERE name IN ('split-thief', 'split-malformed') ORDER BY name;
SELECT status, result->'result' AS result FROM durable_status('split-early');
-- the timeout of a created callback runs from its creation: it can pass
-- before the await (WF003 at once) or during it
SELECT durable_start('wf_split', '{"who": "expired", "timeout": "30 seconds"}', name => 'split-expired') IS NOT NULL AS started;
SELECT durable_start('wf_split', '{"who": "expiring", "timeout": "90 seconds"}', name => 'split-expiring') IS NOT NULL AS started;
SELECT durable_drive('split-expired'), durable_drive('split-expiring');
SET durable.clock_offset = '70 seconds';
SELECT durable_drive('split-expired'), durable_drive('split-expiring');
SELECT status, current_operation, wake_at - durable_clock() < '30 seconds' AS wakes_at_the_timeout
  FROM durable_status('split-expiring');
SET durable.clock_offset = '100 seconds';
SELECT durable_drive('split-expiring');
RESET durable.clock_offset;
SELECT name, status, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable.executions WHERE name IN ('split-expired', 'split-expiring') ORDER BY name;
SELECT * FROM callback_statuses('split-expired');
-- a callback its execution never awaited is cancelled when the execution
-- finishes: completing it is refused (55000), nothing is left in the inbox
CREATE FUNCTION wf_create_only(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  id text;
BEGIN
  id := durable_create_callback('forgotten');
  PERFORM durable_step('hand-over', 'INSERT INTO handed VALUES (''forgotten'', $1->>''id'') RETURNING true',
                       jsonb_build_object('id', id));
  RETURN '"done without it"';
END $$;
SELECT durable_start('wf_create_only', '{}', name => 'create-only') IS NOT NULL AS started;
SELECT durable_drive('create-only');
SELECT * FROM callback_statuses('create-only');
SELECT err(format('SELECT durable_callback_success(%L)', cb)) AS success FROM handed WHERE who = 'forgotten';
SELECT count(*) AS inbox_messages FROM durable.inbox WHERE execution_id = durable.execution_id('create-only');
-- bad arguments of durable_create_callback
CREATE FUNCTION wf_create_bad(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_create_callback(input->>'name', (input->>'timeout')::interval,
                                 (input->>'heartbeat_timeout')::interval);
END $$;
SELECT durable_start('wf_create_bad', x::jsonb, name => 'create-bad ' || x) IS NOT NULL AS started
  FROM unnest(ARRAY['{}', '{"name": ""}', '{"name": "c", "timeout": "-1 s"}',
                    '{"name": "c", "heartbeat_timeout": "0 s"}']) x;
SELECT durable_drive(name) FROM durable.executions WHERE name LIKE 'create-bad %' ORDER BY name;
SELECT substr(name, 12) AS input, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable.executions WHERE name LIKE 'create-bad %' ORDER BY name;

-- ----------------------------------------------------------------------
-- durable_send_event + durable_wait_for_event
-- ----------------------------------------------------------------------
CREATE FUNCTION wf_events(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  a jsonb;
  b jsonb;
BEGIN
  PERFORM durable_wait('pause', '1 minute');
  a := durable_wait_for_event('first', 'go');
  b := durable_wait_for_event('second', 'go');
  RETURN jsonb_build_array(a, b);
END $$;
-- events sent before the waits are kept, and taken first in, first out
SELECT durable_start('wf_events', '{}', name => 'ev-early') IS NOT NULL AS started;
SELECT durable_send_event('ev-early', 'go', '"one"');
SELECT durable_drive('ev-early');
SELECT name, payload FROM durable.events WHERE execution_id = durable.execution_id('ev-early');
SELECT durable_send_event('ev-early', 'go', '"two"');
SELECT durable_send_event('ev-early', 'other', '"not for these waits"');
SET durable.clock_offset = '2 minutes';
SELECT durable_drive('ev-early');
SELECT status, result FROM durable_status('ev-early');
-- the event no wait took went with the end of the execution
SELECT name, payload FROM durable.events WHERE execution_id = durable.execution_id('ev-early');
RESET durable.clock_offset;
-- two events that come while the first wait waits: one per wait, in order
SELECT durable_start('wf_events', '{}', name => 'ev-waiting') IS NOT NULL AS started;
SELECT durable_drive('ev-waiting');
SET durable.clock_offset = '2 minutes';
SELECT durable_drive('ev-waiting');
SELECT status, current_operation FROM durable_status('ev-waiting');
SELECT durable_send_event('ev-waiting', 'go', '"a"');
SELECT durable_send_event('ev-waiting', 'go', '"b"');
SELECT durable_drive('ev-waiting');
SELECT status, result FROM durable_status('ev-waiting');
SELECT name, kind, status, result FROM durable_operations('ev-waiting');
RESET durable.clock_offset;
-- the execution can be named by its id too
SELECT durable_start('wf_events', '{}', name => 'ev-by-id') AS ev_id \gset
SELECT durable_send_event(:'ev_id', 'go', '"by id"');
SELECT count(*) AS messages FROM durable.inbox WHERE execution_id = :'ev_id';

-- timeout: WF005, catchable; replays after it stay consistent, and an
-- event that comes after it is kept for a later wait
CREATE FUNCTION wf_event_timeout(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  a jsonb;
  b jsonb;
BEGIN
  BEGIN
    a := durable_wait_for_event('first', 'go', '10 minutes');
  EXCEPTION WHEN SQLSTATE 'WF005' THEN
    a := jsonb_build_object('caught', SQLSTATE, 'message', SQLERRM);
  END;
  PERFORM durable_wait('nap', '5 minutes');
  b := durable_wait_for_event('second', 'go');
  RETURN jsonb_build_array(a, b);
END $$;
SELECT durable_start('wf_event_timeout', '{}', name => 'ev-timeout') IS NOT NULL AS started;
SELECT durable_drive('ev-timeout');
SET durable.clock_offset = '9 minutes';
SELECT durable_drive('ev-timeout');
SELECT status, current_operation FROM durable_status('ev-timeout');
SET durable.clock_offset = '11 minutes';
SELECT durable_drive('ev-timeout');
SELECT name, kind, status, error->>'sqlstate' AS sqlstate FROM durable_operations('ev-timeout');
SELECT durable_drive('ev-timeout');
SELECT name, kind, status, error->>'sqlstate' AS sqlstate FROM durable_operations('ev-timeout');
SELECT durable_send_event('ev-timeout', 'go', '"after the timeout"');
SELECT durable_drive('ev-timeout');
SELECT name, payload FROM durable.events WHERE execution_id = durable.execution_id('ev-timeout');
SET durable.clock_offset = '17 minutes';
SELECT durable_drive('ev-timeout');
SELECT status, result FROM durable_status('ev-timeout');
SELECT name, kind, status, error->>'sqlstate' AS sqlstate FROM durable_operations('ev-timeout');
SELECT count(*) AS kept FROM durable.events WHERE execution_id = durable.execution_id('ev-timeout');
RESET durable.clock_offset;
-- an event sent before the deadline is delivered even if the drive comes after it
CREATE FUNCTION wf_event_plain(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_event('w', 'go', (input->>'timeout')::interval);
END $$;
SELECT durable_start('wf_event_plain', '{"timeout": "10 minutes"}', name => 'ev-in-time') IS NOT NULL AS started;
SELECT durable_drive('ev-in-time');
SELECT durable_send_event('ev-in-time', 'go', '"in time"');
SET durable.clock_offset = '11 minutes';
SELECT durable_drive('ev-in-time');
SELECT status, result FROM durable_status('ev-in-time');
-- an event sent after the deadline, before any drive saw it, is not for
-- the wait that timed out: it is kept for the next one
CREATE FUNCTION wf_event_then(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  a jsonb;
  b jsonb;
BEGIN
  BEGIN
    a := durable_wait_for_event('first', 'go', '10 minutes');
  EXCEPTION WHEN SQLSTATE 'WF005' THEN
    a := jsonb_build_object('caught', SQLSTATE);
  END;
  b := durable_wait_for_event('second', 'go');
  RETURN jsonb_build_array(a, b);
END $$;
RESET durable.clock_offset;
SELECT durable_start('wf_event_then', '{}', name => 'ev-late-undriven') IS NOT NULL AS started;
SELECT durable_drive('ev-late-undriven');
SET durable.clock_offset = '12 minutes';
SELECT durable_send_event('ev-late-undriven', 'go', '"after the deadline"');
SELECT durable_drive('ev-late-undriven');
SELECT status, result FROM durable_status('ev-late-undriven');
SELECT name, status, error->>'sqlstate' AS sqlstate FROM durable_operations('ev-late-undriven');
-- not caught, the timeout fails the execution
RESET durable.clock_offset;
SELECT durable_start('wf_event_plain', '{"timeout": "10 minutes"}', name => 'ev-timeout-uncaught') IS NOT NULL AS started;
SELECT durable_drive('ev-timeout-uncaught');
SET durable.clock_offset = '11 minutes';
SELECT durable_drive('ev-timeout-uncaught');
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS error FROM durable_status('ev-timeout-uncaught');
RESET durable.clock_offset;

-- bad events: each a clear error, nothing changes
SELECT durable_start('wf_event_plain', '{}', name => 'ev-target') IS NOT NULL AS started;
SELECT durable_drive('ev-target');
CREATE ROLE regress_waits_mallory;
GRANT EXECUTE ON FUNCTION wf_event_plain(jsonb) TO regress_waits_mallory;
SET ROLE regress_waits_mallory;
SELECT durable_start('wf_event_plain', '{}', name => 'ev-mallory') IS NOT NULL AS started;
RESET ROLE;
SELECT waits_digest() AS digest \gset
SELECT durable_send_event('no-such-execution', 'go');
SELECT durable_send_event('ev-early', 'go', '"finished"');
SELECT durable_send_event('ev-target', NULL, '1');
SELECT durable_send_event('ev-target', '', '1');
SELECT e, left(n, 10) AS event_name, err(format('SELECT durable_send_event(%L, %L, ''1'')', e, n)) FROM (VALUES
  (NULL, 'go'), ('no-such-execution', 'go'), ('01890a5d-ac96-774b-bcce-b302099a8057', 'go'),
  ('ev-early', 'go'), ('cb-victim', 'go'), ('ev-target', NULL), ('ev-target', ''),
  ('ev-target', repeat('n', 300))) v(e, n);
SET durable.max_payload_size = 1024;
SELECT durable_send_event('ev-target', 'go', to_jsonb(repeat('x', 2000)));
RESET durable.max_payload_size;
-- an execution of another role is reported as not existing, by name or id
SET ROLE regress_waits_mallory;
SELECT durable_send_event('ev-target', 'go', '"from mallory"');
RESET ROLE;
SELECT durable.execution_id('ev-target') AS target_id \gset
SET ROLE regress_waits_mallory;
SELECT err(format('SELECT durable_send_event(%L, ''go'')', :'target_id')) LIKE '42704: execution "%" does not exist' AS not_found_by_id;
RESET ROLE;
-- and an event rolled back
BEGIN;
SELECT durable_send_event('ev-target', 'go', '"rolled back"');
ROLLBACK;
SELECT waits_digest() = :'digest' AS unchanged;
SELECT durable_drive('ev-target');
SELECT status, current_operation FROM durable_status('ev-target');
-- the owner of ev-mallory may send to it
SET ROLE regress_waits_mallory;
SELECT durable_send_event('ev-mallory', 'go', '"from mallory"');
RESET ROLE;
SELECT durable_drive('ev-mallory');
SELECT status, result FROM durable_status('ev-mallory');

-- bad arguments of the wait
CREATE FUNCTION wf_event_bad(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_event(input->>'name', input->>'event', (input->>'timeout')::interval);
END $$;
SELECT durable_start('wf_event_bad', x::jsonb, name => 'ev-bad ' || x) IS NOT NULL AS started
  FROM unnest(ARRAY['{"event": "go"}', '{"name": "w"}', '{"name": "w", "event": ""}',
                    '{"name": "w", "event": "go", "timeout": "-1 s"}',
                    '{"name": "w", "event": "go", "timeout": "0 s"}']) x;
SELECT durable_drive(name) FROM durable.executions WHERE name LIKE 'ev-bad %' ORDER BY name;
SELECT substr(name, 8) AS input, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable.executions WHERE name LIKE 'ev-bad %' ORDER BY name;

-- ----------------------------------------------------------------------
-- durable_wait_for_condition
-- ----------------------------------------------------------------------
CREATE TABLE checks (tag text, attempt int, state jsonb);
-- counts up; done once the count reaches target
CREATE FUNCTION check_count(tag text, state jsonb, attempt int, target int) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO checks VALUES (tag, attempt, state);
  RETURN jsonb_build_object('done', (state->>'n')::int + 1 >= target,
                            'state', jsonb_build_object('n', (state->>'n')::int + 1));
END $$;
CREATE FUNCTION wf_condition(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_condition('condition', input->>'check', input->'state', input->'options');
END $$;
-- done after 3 checks: 10 s, then 20 s between them (backoff 2, no jitter)
SELECT durable_start('wf_condition',
         '{"check": "SELECT check_count(''three'', $1, $2, 3)", "state": {"n": 0},
           "options": {"initial_delay": "10 seconds", "backoff_rate": 2, "jitter": "none"}}',
         name => 'cond-three') IS NOT NULL AS started;
SELECT durable_drive('cond-three');
SELECT attempt, state FROM checks WHERE tag = 'three' ORDER BY attempt;
SELECT name, kind, status, attempt, result,
       wake_at - durable_clock() BETWEEN '5 seconds' AND '10 seconds' AS next_in_10s
  FROM durable_operations('cond-three');
SELECT durable_drive('cond-three');              -- not due: no check
SELECT count(*) AS checks FROM checks WHERE tag = 'three';
SET durable.clock_offset = '11 seconds';
SELECT durable_drive('cond-three');
SELECT name, status, attempt, result,
       wake_at - durable_clock() BETWEEN '15 seconds' AND '20 seconds' AS next_in_20s
  FROM durable_operations('cond-three');
SET durable.clock_offset = '32 seconds';
SELECT durable_drive('cond-three');
SELECT status, result FROM durable_status('cond-three');
SELECT attempt, state FROM checks WHERE tag = 'three' ORDER BY attempt;
SELECT name, kind, status, attempt, result FROM durable_operations('cond-three');
RESET durable.clock_offset;
-- max_attempts checks, none done: WF014
SELECT durable_start('wf_condition',
         '{"check": "SELECT check_count(''never'', $1, $2, 100)", "state": {"n": 0},
           "options": {"initial_delay": "1 second", "max_attempts": 2, "jitter": "none"}}',
         name => 'cond-never') IS NOT NULL AS started;
SELECT durable_drive('cond-never');
SET durable.clock_offset = '5 seconds';
SELECT durable_drive('cond-never');
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS error FROM durable_status('cond-never');
SELECT count(*) AS checks FROM checks WHERE tag = 'never';
RESET durable.clock_offset;
-- ... catchable
CREATE FUNCTION wf_condition_catch(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_condition('condition', 'SELECT ''{"done": false}''::jsonb', '{}',
                                    '{"max_attempts": 1}');
EXCEPTION WHEN SQLSTATE 'WF014' THEN
  RETURN jsonb_build_object('caught', SQLSTATE);
END $$;
SELECT durable_start('wf_condition_catch', '{}', name => 'cond-catch') IS NOT NULL AS started;
SELECT durable_drive('cond-catch');
SELECT status, result FROM durable_status('cond-catch');
-- the check fails, or returns no "done": the wait fails with a clear error
SELECT durable_start('wf_condition', jsonb_build_object('check', c, 'state', '{"n": 0}'::jsonb),
                     name => 'cond-bad ' || c) IS NOT NULL AS started
  FROM unnest(ARRAY['SELECT 1/0', 'SELECT ''{"state": 1}''::jsonb', 'SELECT ''{"done": "yes"}''::jsonb',
                    'SELECT 42', 'SELECT NULL::jsonb', 'SELECT ''{"done": true}''::jsonb WHERE false',
                    'SELEC 1']) c;
SELECT durable_drive(name) FROM durable.executions WHERE name LIKE 'cond-bad %' ORDER BY name;
SELECT substr(name, 10) AS check_sql, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable.executions WHERE name LIKE 'cond-bad %' ORDER BY name;
-- bad options: the workflow fails before any check
SELECT durable_start('wf_condition',
         format('{"check": "SELECT check_count(''opts'', $1, $2, 1)", "state": {"n": 0}, "options": %s}', o)::jsonb,
         name => 'cond-opt ' || o) IS NOT NULL AS started
  FROM unnest(ARRAY['{"wait": "1 s"}', '{"initial_delay": "-1 s"}', '{"max_attempts": 0}',
                    '{"max_attempts": 2.5}', '{"jitter": "x"}', '{"backoff_rate": 0.5}',
                    '{"initial_delay": "10 s", "max_delay": "5 s"}', '[1]']) o;
SELECT durable_drive(name) FROM durable.executions WHERE name LIKE 'cond-opt %' ORDER BY name;
SELECT substr(name, 10) AS options, error->>'sqlstate' AS sqlstate, error->>'message' AS error
  FROM durable.executions WHERE name LIKE 'cond-opt %' ORDER BY name;
SELECT count(*) AS checks FROM checks WHERE tag = 'opts';
-- a NULL initial_state
SELECT durable_start('wf_condition', '{"check": "SELECT ''{\"done\": true}''::jsonb"}',
                     name => 'cond-null-state') IS NOT NULL AS started;
SELECT durable_drive('cond-null-state');
SELECT error->>'sqlstate' AS sqlstate, error->>'message' AS error FROM durable_status('cond-null-state');

-- clean up the roles
REVOKE EXECUTE ON FUNCTION wf_event_plain(jsonb) FROM regress_waits_mallory;
DROP ROLE regress_waits_mallory;
DROP ROLE regress_waits_eve;

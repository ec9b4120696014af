-- Queues of executions (issue 16): durable_queue_set, durable_queue_drop,
-- durable_start's queue, key, priority and debounce, durable.queue_status.
-- No worker runs (test/regress.conf): everything is driven here, and
-- durable_drive_pending is the driver that admits.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

CREATE ROLE regress_xq_ann;
CREATE ROLE regress_xq_bob;
GRANT CREATE ON SCHEMA public TO regress_xq_ann;
SET ROLE regress_xq_ann;

-- a workflow that records its start and waits for an event
CREATE TABLE xq_log (n serial, input jsonb);
CREATE FUNCTION wf_xq(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('log', 'INSERT INTO xq_log (input) VALUES ($1) RETURNING n', input);
  IF input->>'hold' = 'yes' THEN
    PERFORM durable_wait_for_event('w', 'go');
  END IF;
  RETURN input;
END $$;

-- bad options: a clear error, nothing made
SELECT count(*) AS queues FROM durable.exec_queues;
SELECT durable_queue_set('q', '{"max_concurrency": 0}');
SELECT durable_queue_set('q', '{"max_concurrency": 1.5}');
SELECT durable_queue_set('q', '{"max_concurrency": "2"}');
SELECT durable_queue_set('q', '{"max_concurrency_per_key": -1}');
SELECT durable_queue_set('q', '{"rate": 5}');
SELECT durable_queue_set('q', '{"period": "1 second"}');
SELECT durable_queue_set('q', '{"rate": 5, "period": "-1 second"}');
SELECT durable_queue_set('q', '{"rate": 5, "period": "soon"}');
SELECT durable_queue_set('q', '{"fairness": "random"}');
SELECT durable_queue_set('q', '{"max_workers": 3}');
SELECT durable_queue_set('q', '[1]');
SELECT durable_queue_set('', '{}');
SELECT durable_queue_set(NULL, '{}');
SELECT count(*) AS queues FROM durable.exec_queues;

-- a queue of one at a time
SELECT durable_queue_set('one', '{"max_concurrency": 1}');
SELECT durable_queue_set('one', NULL);	-- a change: no limit at all
SELECT queue, key, waiting, running, max_concurrency FROM durable.queue_status;
SELECT durable_queue_set('one', '{"max_concurrency": 1, "fairness": "none"}');
SELECT owner, name, max_concurrency, max_concurrency_per_key, rate, period, fairness
  FROM durable.exec_queues;

-- bad start options: a clear error, nothing started
SELECT count(*) AS executions FROM durable.executions;
SELECT durable_start('wf_xq', '{}', options => '{"queue": "none"}');
SELECT durable_start('wf_xq', '{}', options => '{"queue": ""}');
SELECT durable_start('wf_xq', '{}', options => '{"queue": 1}');
SELECT durable_start('wf_xq', '{}', options => '{"key": "k"}');
SELECT durable_start('wf_xq', '{}', options => '{"queue": "one", "priority": "high"}');
SELECT durable_start('wf_xq', '{}', options => '{"queue": "one", "priority": 2.5}');
SELECT durable_start('wf_xq', '{}', options => '{"queue": "one", "debounce": "1 second"}');
SELECT durable_start('wf_xq', '{}', options => '{"queue": "one", "key": "k", "debounce": "0"}');
SELECT durable_start('wf_xq', '{}', 'named', '{"queue": "one", "key": "k", "debounce": "1 s"}');
SELECT count(*) AS executions FROM durable.executions;

-- three in the queue: the first admitted runs and holds its slot while it
-- waits for an event; durable_drive leaves a waiting one waiting
SELECT durable_start('wf_xq', '{"i": 1, "hold": "yes"}', 'xq-1', '{"queue": "one"}') IS NOT NULL AS started;
SELECT durable_start('wf_xq', '{"i": 2, "hold": "yes"}', 'xq-2', '{"queue": "one"}') IS NOT NULL AS started;
SELECT durable_start('wf_xq', '{"i": 3}', 'xq-3', '{"queue": "one", "priority": -1}') IS NOT NULL AS started;
SELECT queue, key, waiting, running FROM durable.queue_status;
SELECT durable_drive('xq-2');
SELECT durable_drive_pending() AS drove;
-- the smaller priority came first
SELECT input FROM xq_log ORDER BY n;
SELECT durable_drive_pending() AS drove;
SELECT input FROM xq_log ORDER BY n;
SELECT name, status FROM durable.executions WHERE name LIKE 'xq-%' ORDER BY name;
SELECT queue, key, waiting, running FROM durable.queue_status;
-- a drop is refused while executions of the queue are unfinished
SELECT durable_queue_drop('one');
SELECT count(*) AS queues FROM durable.exec_queues;
-- its end frees the slot: the next driver admits the next one
SELECT durable_send_event('xq-1', 'go');
SELECT durable_drive_pending() AS drove;
SELECT name, status FROM durable.executions WHERE name LIKE 'xq-%' ORDER BY name;
SELECT queue, key, waiting, running FROM durable.queue_status;
-- a stop frees it too
SELECT durable_stop('xq-2');
SELECT queue, key, waiting, running FROM durable.queue_status;

-- per key: one at a time for each key, several keys at once
SELECT durable_queue_set('perkey', '{"max_concurrency_per_key": 1}');
SELECT count(*) FROM (SELECT durable_start('wf_xq', jsonb_build_object('k', k, 'j', j, 'hold', 'yes'),
                                           options => jsonb_build_object('queue', 'perkey', 'key', k))
                        FROM unnest(ARRAY['a', 'b']) k, generate_series(1, 2) j) s;
SELECT durable_drive_pending() AS drove;
SELECT queue, key, waiting, running FROM durable.queue_status WHERE queue = 'perkey' ORDER BY key;

-- debounce: a start while one of the key waits replaces its input
SELECT durable_queue_set('deb', '{}');
SELECT durable_start('wf_xq', '{"v": 1}', options => '{"queue": "deb", "key": "k", "debounce": "1 hour"}') AS deb1 \gset
SELECT durable_start('wf_xq', '{"v": 2}', options => '{"queue": "deb", "key": "k", "debounce": "1 hour"}') AS deb2 \gset
SELECT :'deb1' = :'deb2' AS same_execution;
SELECT input FROM durable.executions WHERE id = :'deb1';
SELECT event FROM durable.history WHERE execution_id = :'deb1' ORDER BY event_id;
SELECT queue, key, waiting, running FROM durable.queue_status WHERE queue = 'deb';
-- another key, or no debounce: a new execution
SELECT durable_start('wf_xq', '{"v": 3}', options => '{"queue": "deb", "key": "other", "debounce": "1 hour"}') = :'deb1' AS same;
SELECT durable_start('wf_xq', '{"v": 4}', options => '{"queue": "deb", "key": "k"}') = :'deb1' AS same;
-- not before its debounce: the driver does not admit it
SELECT durable_drive_pending() AS drove;
SELECT status FROM durable.executions WHERE id = :'deb1';

-- queues are per role: bob neither sees nor uses nor drops ann's
RESET ROLE;
SET ROLE regress_xq_bob;
SELECT count(*) FROM durable.queue_status;
SELECT count(*) FROM durable.exec_queues;
SELECT durable_start('wf_xq', '{}', options => '{"queue": "one"}');
SELECT durable_queue_drop('one');
SELECT durable_queue_set('one', '{"max_concurrency": 5}');
SELECT queue, max_concurrency FROM durable.queue_status;
SELECT durable_queue_drop('one');
RESET ROLE;
SET ROLE regress_xq_ann;
SELECT queue, max_concurrency FROM durable.queue_status WHERE queue = 'one';

-- drop: unknown, then one whose executions all finished
SELECT durable_queue_drop('nope');
SELECT durable_queue_drop('one');
SELECT durable_queue_drop('one');
SELECT count(*) AS queues FROM durable.exec_queues;

RESET ROLE;
SELECT count(durable_stop(id::text)) AS stopped FROM durable.executions
 WHERE owner = 'regress_xq_ann'::regrole AND status NOT IN ('SUCCEEDED', 'STOPPED', 'FAILED');
SELECT count(*) AS left_in_queues FROM durable.queue WHERE queue_name IS NOT NULL;
DROP TABLE xq_log;
DROP FUNCTION wf_xq(jsonb);

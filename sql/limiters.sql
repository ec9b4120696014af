-- Limiters of operations (issue 16): durable_limiter_set and
-- durable_limiter_drop with every bad input refused at the call and
-- nothing changed, steps and requests holding a limiter, waiting in its
-- line (suspended, in the history), woken by a release, a token's time,
-- a drop; a 429 with Retry-After pausing the limiter; who may use one.
-- No worker runs (test/regress.conf): everything is driven here; the
-- timing, order and concurrency claims are in test/t/029_limiters.pl.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

CREATE ROLE regress_lim_ann;
CREATE ROLE regress_lim_bob;
GRANT CREATE ON SCHEMA public TO regress_lim_ann, regress_lim_bob;
-- what the limiters hold: counted before and after every refused call
CREATE FUNCTION lim_state() RETURNS text LANGUAGE sql AS $$
  SELECT format('limiters %s, holders %s, waiters %s, inbox %s',
                (SELECT count(*) FROM durable.limiters),
                (SELECT count(*) FROM durable.limiter_holders),
                (SELECT count(*) FROM durable.limiter_waiters),
                (SELECT count(*) FROM durable.inbox i JOIN durable.executions e
                   ON e.id = i.execution_id WHERE e.name LIKE 'l-%'))
$$;
CREATE FUNCTION lim_show() RETURNS TABLE (name text, owner regrole, roles regrole[],
  max_concurrency int, rate int, period interval, burst int, paused boolean)
LANGUAGE sql AS $$
  SELECT name, owner, roles, max_concurrency, rate, period, burst,
         paused_until > durable_clock() FROM durable.limiters ORDER BY name
$$;

-- creating and changing
SELECT durable_limiter_set('llm', '{"max_concurrency": 2, "rate": 60, "period": "1 minute", "burst": 5}');
SELECT durable_limiter_set('db', '{"max_concurrency": 1}');
SELECT durable_limiter_set('pace', '{"rate": 1, "period": "1 hour"}');
SELECT * FROM lim_show();
-- options given again replace all of them (here: no rate any more)
SELECT durable_limiter_set('llm', '{"max_concurrency": 3}');
SELECT * FROM lim_show();
SELECT durable_limiter_set('llm', '{"max_concurrency": 2, "rate": 60, "period": "1 minute", "burst": 5}');

-- every bad input is refused with nothing changed
SELECT lim_state() AS before \gset
SELECT durable_limiter_set(NULL, '{"max_concurrency": 1}');
SELECT durable_limiter_set('', '{"max_concurrency": 1}');
SELECT durable_limiter_set(E'a\nb', '{"max_concurrency": 1}');
SELECT durable_limiter_set(repeat('x', 201), '{"max_concurrency": 1}');
SELECT durable_limiter_set('new', NULL);
SELECT durable_limiter_set('new', '[1]');
SELECT durable_limiter_set('new', '"x"');
SELECT durable_limiter_set('new', '{}');
SELECT durable_limiter_set('new', '{"max_concurency": 1}');
SELECT durable_limiter_set('new', '{"max_concurrency": 0}');
SELECT durable_limiter_set('new', '{"max_concurrency": -1}');
SELECT durable_limiter_set('new', '{"max_concurrency": 1.5}');
SELECT durable_limiter_set('new', '{"max_concurrency": "2"}');
SELECT durable_limiter_set('new', '{"max_concurrency": 1000001}');
SELECT durable_limiter_set('new', '{"rate": 0}');
SELECT durable_limiter_set('new', '{"rate": 1, "burst": 0}');
SELECT durable_limiter_set('new', '{"rate": 1, "period": "0 seconds"}');
SELECT durable_limiter_set('new', '{"rate": 1, "period": "-1 second"}');
SELECT durable_limiter_set('new', '{"rate": 1, "period": "soon"}');
SELECT durable_limiter_set('new', '{"rate": 1, "period": 60}');
SELECT durable_limiter_set('new', '{"rate": 1, "period": "100 years"}');
SELECT durable_limiter_set('new', '{"max_concurrency": 1, "period": "1 second"}');
SELECT durable_limiter_set('new', '{"max_concurrency": 1, "burst": 2}');
SELECT durable_limiter_set('new', '{"max_concurrency": 1, "roles": "regress_lim_bob"}');
SELECT durable_limiter_set('new', '{"max_concurrency": 1, "roles": [7]}');
SELECT durable_limiter_set('new', '{"max_concurrency": 1, "roles": ["regress_lim_nobody"]}');
SELECT durable_limiter_set('llm', '{"max_concurrency": 0}');
SELECT durable_limiter_drop(NULL);
SELECT durable_limiter_drop('');
SELECT durable_limiter_drop('nothing');
SELECT lim_state() = :'before' AS nothing_changed;
SELECT * FROM lim_show();

-- names are shared by the roles of the database: another role's is refused
SET ROLE regress_lim_bob;
SELECT count(*) AS bob_sees FROM durable.limiters;
SELECT durable_limiter_set('llm', '{"max_concurrency": 100}');
SELECT durable_limiter_drop('llm');
SELECT durable_limiter_set('bobs', '{"max_concurrency": 1}');
SELECT name, owner FROM durable.limiters;
RESET ROLE;
SELECT lim_state() AS before \gset
-- not inside a workflow
CREATE FUNCTION wfl_set(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_limiter_set('inner', '{"max_concurrency": 1}');
  RETURN '1';
END $$;
SELECT durable_start('wfl_set', '{}', 'l-set') IS NOT NULL AS started;
SELECT durable_drive('l-set');
SELECT status, error->>'message' AS error FROM durable.executions WHERE name = 'l-set';
SELECT lim_state() = :'before' AS nothing_changed;

-- a step that names a limiter: held for its attempt, given back after
CREATE TABLE lim_log (who text, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION wfl_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('work', format($s$INSERT INTO lim_log (who) VALUES (%L);
                                        SELECT count(*) FROM durable.limiter_holders$s$,
                                     input->>'who'),
                      NULL, jsonb_build_object('limiter', input->>'limiter'));
EXCEPTION WHEN sqlstate 'WF023' THEN
  RETURN to_jsonb(SQLSTATE || ': ' || SQLERRM);
END $$;
GRANT EXECUTE ON FUNCTION wfl_step(jsonb) TO regress_lim_bob;
GRANT INSERT ON lim_log TO regress_lim_bob;
SELECT durable_start('wfl_step', '{"who": "a", "limiter": "db"}', 'l-a') IS NOT NULL AS started;
SELECT durable_drive('l-a');
SELECT status, result AS holders_during_the_step FROM durable.executions WHERE name = 'l-a';
SELECT lim_state();
-- a limiter that does not exist fails the operation with WF023
SELECT durable_start('wfl_step', '{"who": "x", "limiter": "nowhere"}', 'l-x') IS NOT NULL AS started;
SELECT durable_drive('l-x');
SELECT status, result FROM durable.executions WHERE name = 'l-x';
-- a bad limiter option is refused at the call, in the workflow
SELECT durable_start('wfl_step', '{"who": "y", "limiter": ""}', 'l-y') IS NOT NULL AS started;
SELECT durable_drive('l-y');
SELECT status, error->>'message' AS error FROM durable.executions WHERE name = 'l-y';

-- who may use a limiter: its owner, and the roles it lists
SET ROLE regress_lim_bob;
SELECT durable_start('wfl_step', '{"who": "bob", "limiter": "db"}', 'l-bob') IS NOT NULL AS started;
SELECT durable_drive('l-bob');
SELECT status, result FROM durable.executions WHERE name = 'l-bob';
RESET ROLE;
SELECT durable_limiter_set('db', '{"max_concurrency": 1, "roles": ["regress_lim_bob"]}');
SET ROLE regress_lim_bob;
SELECT durable_start('wfl_step', '{"who": "bob", "limiter": "db"}', 'l-bob2') IS NOT NULL AS started;
SELECT durable_drive('l-bob2');
SELECT status, result FROM durable.executions WHERE name = 'l-bob2';
-- a role that may use a limiter cannot change or drop it
SELECT durable_limiter_set('db', '{"max_concurrency": 9}');
RESET ROLE;

-- a full limiter: the operation waits in line, suspended, and it shows
CREATE FUNCTION wfl_nap(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('nap', interval '1 hour');
  RETURN '1';
END $$;
SELECT durable_start('wfl_nap', '{}', 'l-holder') IS NOT NULL AS started;
SELECT durable_drive('l-holder');
-- (the holder stands for a request in flight: no session can keep a step
-- running while another drives here)
INSERT INTO durable.limiter_holders
SELECT 'db', id, 1, 99, owner, durable_clock() FROM durable.executions WHERE name = 'l-holder';
SELECT durable_start('wfl_step', '{"who": "b", "limiter": "db"}', 'l-b') IS NOT NULL AS started,
       durable_start('wfl_step', '{"who": "c", "limiter": "db"}', 'l-c') IS NOT NULL AS started;
SELECT durable_drive('l-b'), durable_drive('l-c');
SELECT name, status FROM durable.executions WHERE name IN ('l-b', 'l-c') ORDER BY name;
SELECT e.name, w.limiter FROM durable.limiter_waiters w JOIN durable.executions e ON e.id = w.execution_id
 ORDER BY w.waiter_id;
SELECT e.name, h.event, h.name AS operation, h.details FROM durable.history h
  JOIN durable.executions e ON e.id = h.execution_id
 WHERE e.name IN ('l-b', 'l-c') AND h.event LIKE 'limiter%' ORDER BY h.event_id;
SELECT o.status, o.attempt FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id
 WHERE e.name = 'l-b';
-- driving it again changes nothing: it is not its turn
SELECT durable_drive('l-c');
SELECT count(*) AS in_line FROM durable.limiter_waiters;
-- the holder ends (stopped): the slot goes to the first in line, by its inbox
SELECT durable_stop('l-holder');
SELECT e.name, i.kind FROM durable.inbox i JOIN durable.executions e ON e.id = i.execution_id
 WHERE e.name LIKE 'l-%';
SELECT durable_drive('l-b');
SELECT durable_drive('l-c');
SELECT name, status, result FROM durable.executions WHERE name IN ('l-b', 'l-c') ORDER BY name;
SELECT e.name, h.event FROM durable.history h JOIN durable.executions e ON e.id = h.execution_id
 WHERE e.name IN ('l-b', 'l-c') AND h.event LIKE 'limiter%' ORDER BY h.event_id;
SELECT lim_state();

-- a rate: the token of the next one comes at a known time (a timer)
SELECT durable_start('wfl_step', '{"who": "p1", "limiter": "pace"}', 'l-p1') IS NOT NULL AS started,
       durable_start('wfl_step', '{"who": "p2", "limiter": "pace"}', 'l-p2') IS NOT NULL AS started;
SELECT durable_drive('l-p1'), durable_drive('l-p2');
SELECT e.name, e.status, e.wake_at - durable_clock() BETWEEN interval '59 minutes' AND interval '60 minutes' AS token_in_an_hour
  FROM durable.executions e
 WHERE e.name IN ('l-p1', 'l-p2') ORDER BY e.name;
SET durable.clock_offset = '61 minutes';
SELECT durable_drive('l-p2');
SELECT status FROM durable.executions WHERE name = 'l-p2';
RESET durable.clock_offset;

-- dropping a limiter with a line: those in line fail with WF023
INSERT INTO durable.limiter_holders
SELECT 'db', id, 1, 99, owner, durable_clock() FROM durable.executions WHERE name = 'l-a';
SELECT durable_start('wfl_step', '{"who": "d", "limiter": "db"}', 'l-d') IS NOT NULL AS started;
SELECT durable_drive('l-d');
SELECT durable_limiter_drop('db');
SELECT lim_state();
SELECT durable_drive('l-d');
SELECT status, result FROM durable.executions WHERE name = 'l-d';

-- a 429 with Retry-After on a request governed by a limiter pauses it
CREATE FUNCTION wfl_http(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_http('call', jsonb_build_object('url', current_setting('mock.url') || (input->>'path')),
                      '{"limiter": "llm", "max_attempts": 1}');
EXCEPTION WHEN sqlstate 'WF015' THEN
  RETURN to_jsonb(SQLSTATE);
END $$;
SELECT durable_start('wfl_http', '{"path": "/status/200"}', 'l-h1') IS NOT NULL AS started;
SELECT durable_drive('l-h1');
SELECT status, result->'status' AS http_status FROM durable.executions WHERE name = 'l-h1';
SELECT paused FROM lim_show() WHERE name = 'llm';
SELECT durable_start('wfl_http', '{"path": "/status/429?retry_after=600"}', 'l-h2') IS NOT NULL AS started;
SELECT durable_drive('l-h2');
SELECT status, result FROM durable.executions WHERE name = 'l-h2';
SELECT paused, (SELECT paused_until - durable_clock() BETWEEN interval '9 minutes' AND interval '10 minutes'
                  FROM durable.limiters WHERE name = 'llm') AS for_retry_after
  FROM lim_show() WHERE name = 'llm';
-- the next request waits for the end of the pause
SELECT durable_start('wfl_http', '{"path": "/status/200"}', 'l-h3') IS NOT NULL AS started;
SELECT durable_drive('l-h3');
SELECT status FROM durable.executions WHERE name = 'l-h3';
SET durable.clock_offset = '11 minutes';
SELECT durable_drive('l-h3');
SELECT status, result->'status' AS http_status FROM durable.executions WHERE name = 'l-h3';
RESET durable.clock_offset;
SELECT lim_state();

-- the owner drops its limiter
SET ROLE regress_lim_bob;
SELECT durable_limiter_drop('bobs');
RESET ROLE;
SELECT durable_limiter_drop('llm');
SELECT durable_limiter_drop('pace');
SELECT lim_state();
DROP FUNCTION wfl_step(jsonb);
DROP TABLE lim_log;
REVOKE CREATE ON SCHEMA public FROM regress_lim_ann, regress_lim_bob;
DROP ROLE regress_lim_ann;
DROP ROLE regress_lim_bob;

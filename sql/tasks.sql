-- Task queues for workers outside the database (issue 16): durable_task in
-- a workflow; durable_task_claim, _heartbeat, _complete and _fail from
-- outside; durable_task_queue_grant and _revoke; every bad input refused
-- with nothing changed.  No worker runs (test/regress.conf): executions
-- are driven by name, and the clock moves with durable.clock_offset.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS durable;
\set VERBOSITY default

CREATE FUNCTION terr(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- what a bad call must not change
CREATE FUNCTION tasks_digest() RETURNS text LANGUAGE sql AS $$
  SELECT md5(concat_ws('|',
    (SELECT string_agg(concat_ws(',', execution_id, op_id, status, attempt, available_at, lease,
                                 lease_until, worker, result, error), ';' ORDER BY execution_id, op_id)
       FROM durable.tasks),
    (SELECT count(*) FROM durable.task_leases),
    (SELECT string_agg(concat_ws(',', task_queue, owner, grantee), ';' ORDER BY task_queue, owner, grantee)
       FROM durable.task_queue_grants),
    (SELECT string_agg(concat_ws(',', execution_id, message_id, kind, payload), ';' ORDER BY message_id)
       FROM durable.inbox),
    (SELECT string_agg(concat_ws(',', id, status, updated_at), ';' ORDER BY id) FROM durable.executions),
    (SELECT string_agg(concat_ws(',', execution_id, op_id, status, result, error), ';'
                       ORDER BY execution_id, op_id) FROM durable.operations)))
$$;
CREATE FUNCTION task_row(execution text) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(concat_ws(' ', name, task_queue, status, attempt || '/' || max_attempts,
                              coalesce(worker, '-'), coalesce(result::text, '-'),
                              coalesce(error->>'message', '-')), '; ' ORDER BY op_id)
    FROM durable.tasks WHERE execution_id = durable.execution_id(execution)
$$;
CREATE TABLE claims (label text PRIMARY KEY, task_id text, attempt int);
-- claims into the table claims, under a label; returns how many
CREATE FUNCTION claim(label text, q text, worker text, lease interval DEFAULT '30 seconds',
                      n int DEFAULT 1) RETURNS bigint LANGUAGE sql AS $$
  WITH c AS (SELECT * FROM durable_task_claim(q, worker, lease, n)),
       i AS (INSERT INTO claims SELECT label || row_number() OVER (ORDER BY c.name), c.task_id, c.attempt
               FROM c RETURNING 1)
  SELECT count(*) FROM i
$$;
CREATE FUNCTION task_of(l text) RETURNS text LANGUAGE sql AS $$ SELECT task_id FROM claims WHERE label = l $$;

CREATE FUNCTION wf_task(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_task('summarize', 'llm', input->'payload', input->'options');
END $$;
CREATE FUNCTION wf_task_catch(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_task('summarize', 'llm', input->'payload', input->'options');
EXCEPTION WHEN SQLSTATE 'WF020' OR SQLSTATE 'WF021' THEN
  RETURN jsonb_build_object('caught', SQLSTATE, 'message', SQLERRM);
END $$;

-- ------------------------------------------------------------ the happy path
SELECT durable_start('wf_task', '{"payload": {"text": "hello"}}', name => 't-ok') IS NOT NULL AS started;
SELECT durable_drive('t-ok');
SELECT task_row('t-ok');
SELECT status, current_operation FROM durable_status('t-ok');
-- a role claims its own tasks; the claim hands out a task id
SELECT claim('ok', 'llm', 'w1');
SELECT task_of('ok1') ~ '^tk_[0-9a-f]{32}$' AS task_id_form,
       (SELECT count(*) FROM durable.task_leases) AS leases,
       (SELECT count(*) FROM durable.task_leases l JOIN durable.tasks t USING (execution_id, run_no, op_id)
         WHERE l.lease_hash = sha256(convert_to(task_of('ok1'), 'UTF8'))) AS stored_as_hash;
SELECT task_row('t-ok');
-- what a claim returns
SELECT name, payload, attempt, execution_id = durable.execution_id('t-ok') AS execution,
       lease_until > durable_clock() AS leased
  FROM durable_task_claim('llm', 'w2');   -- nothing left: empty
SELECT durable_drive('t-ok');   -- the claim message moves the deadline to the lease's end
SELECT wake_at = (SELECT lease_until FROM durable.tasks WHERE execution_id = durable.execution_id('t-ok')) AS wakes_at_lease_end
  FROM durable_status('t-ok');
SELECT durable_task_heartbeat(task_of('ok1')) > durable_clock() AS renewed;
SELECT durable_task_complete(task_of('ok1'), '{"summary": "hi"}');
SELECT durable_drive('t-ok');
SELECT status, result FROM durable_status('t-ok');
SELECT task_row('t-ok');
-- a second completion is refused and changes nothing
SELECT tasks_digest() AS d \gset
SELECT terr($$SELECT durable_task_complete(task_of('ok1'), '{"summary": "again"}')$$);
SELECT terr($$SELECT durable_task_fail(task_of('ok1'), '{"message": "late"}')$$);
SELECT terr($$SELECT durable_task_heartbeat(task_of('ok1'))$$);
SELECT tasks_digest() = :'d' AS unchanged;

-- ------------------------------------------------------------ a lease that moves on
SELECT durable_start('wf_task', '{"payload": 2, "options": {"max_attempts": 3, "initial_delay": "10 seconds", "jitter": "none"}}',
                     name => 't-lease') IS NOT NULL AS started;
SELECT durable_drive('t-lease');
SELECT claim('l', 'llm', 'w1', '1 minute');
SELECT durable_drive('t-lease');
SET durable.clock_offset = '2 minutes';   -- the lease of w1 ends
SELECT tasks_digest() AS d \gset
SELECT terr($$SELECT durable_task_complete(task_of('l1'), '{"late": true}')$$);
SELECT tasks_digest() = :'d' AS unchanged;
SELECT durable_drive('t-lease');          -- the execution puts it back, with the backoff
SELECT task_row('t-lease');
SELECT count(*) AS claimable_during_backoff FROM durable_task_claim('llm', 'w2');
SET durable.clock_offset = '2 minutes 11 seconds';
SELECT claim('m', 'llm', 'w2', '1 minute');
SELECT attempt FROM claims WHERE label = 'm1';
-- the first worker's id no longer holds the task: refused, nothing changed
SELECT tasks_digest() AS d \gset
SELECT terr($$SELECT durable_task_complete(task_of('l1'), '{"late": true}')$$);
SELECT terr($$SELECT durable_task_heartbeat(task_of('l1'))$$);
SELECT terr($$SELECT durable_task_fail(task_of('l1'), '{"message": "late"}')$$);
SELECT tasks_digest() = :'d' AS unchanged;
-- a heartbeat with a lease of its own
SELECT durable_task_heartbeat(task_of('m1'), '5 minutes') - durable_clock() BETWEEN interval '4 minutes' AND interval '5 minutes' AS renewed;
SELECT durable_task_complete(task_of('m1'), '"second worker"');
SELECT durable_drive('t-lease');
SELECT status, result FROM durable_status('t-lease');
SELECT string_agg(event || coalesce(' ' || (details->'error'->>'message'), ''), ', ' ORDER BY event_id)
  FROM durable_history('t-lease') WHERE event LIKE 'operation%';
RESET durable.clock_offset;

-- ------------------------------------------------------------ failures
-- retryable failures until max_attempts, then WF020, caught
SELECT durable_start('wf_task_catch', '{"payload": 3, "options": {"max_attempts": 2, "initial_delay": "1 second", "jitter": "none"}}',
                     name => 't-fail') IS NOT NULL AS started;
SELECT durable_drive('t-fail');
SELECT claim('f', 'llm', 'w1');
SELECT durable_task_fail(task_of('f1'), '{"message": "provider down"}');
SELECT task_row('t-fail');
SET durable.clock_offset = '2 seconds';
SELECT claim('g', 'llm', 'w1');
SELECT durable_task_fail(task_of('g1'), '{"message": "provider down again"}');
SELECT durable_drive('t-fail');
SELECT status, result FROM durable_status('t-fail');
RESET durable.clock_offset;
-- a failure that is not retryable ends it at once, uncaught: the execution fails with WF020
SELECT durable_start('wf_task', '{"payload": 4}', name => 't-fatal') IS NOT NULL AS started;
SELECT durable_drive('t-fatal');
SELECT claim('x', 'llm', 'w1');
SELECT durable_task_fail(task_of('x1'), '{"message": "bad input", "code": 400}', false);
SELECT durable_drive('t-fatal');
SELECT status, error->>'sqlstate' AS sqlstate, error->>'message' AS message FROM durable_status('t-fatal');
-- redriven, the task starts over: attempt 1 again, the old task id forgotten
SELECT durable_redrive('t-fatal');
SELECT durable_drive('t-fatal');
SELECT task_row('t-fatal');
SELECT terr($$SELECT durable_task_complete(task_of('x1'), '"old"')$$);
SELECT claim('y', 'llm', 'w1');
SELECT attempt FROM claims WHERE label = 'y1';
SELECT durable_task_complete(task_of('y1'), '"redriven"');
SELECT durable_drive('t-fatal');
SELECT status, result FROM durable_status('t-fatal');
-- a timeout: WF021
SELECT durable_start('wf_task_catch', '{"payload": 5, "options": {"timeout": "1 minute"}}', name => 't-timeout') IS NOT NULL AS started;
SELECT durable_drive('t-timeout');
SET durable.clock_offset = '61 seconds';
SELECT count(*) AS claimable_after_timeout FROM durable_task_claim('llm', 'w1');
SELECT durable_drive('t-timeout');
SELECT status, result FROM durable_status('t-timeout');
SELECT task_row('t-timeout');
RESET durable.clock_offset;
-- max_tasks: several at once; a stopped execution's task is not handed out
SELECT durable_start('wf_task', jsonb_build_object('payload', i), name => 't-many-' || i) IS NOT NULL AS started
  FROM generate_series(1, 3) i;
SELECT durable_drive('t-many-' || i) FROM generate_series(1, 3) i;
SELECT durable_stop('t-many-3');
SELECT claim('n', 'llm', 'w3', '1 minute', 10);
SELECT count(*) FROM durable.tasks WHERE status = 'QUEUED';
SELECT durable_task_complete(task_of('n1'), '1'), durable_task_complete(task_of('n2'), '2');
-- a task held when its execution is stopped: refused, nothing changed
SELECT durable_start('wf_task', '{"payload": 8}', name => 't-cancel') IS NOT NULL AS started;
SELECT durable_drive('t-cancel');
SELECT claim('c', 'llm', 'w1');
SELECT durable_stop('t-cancel');
SELECT tasks_digest() AS d \gset
SELECT terr($$SELECT durable_task_complete(task_of('c1'), '1')$$);
SELECT terr($$SELECT durable_task_heartbeat(task_of('c1'))$$);
SELECT tasks_digest() = :'d' AS unchanged;

-- ------------------------------------------------------------ bad inputs
SELECT durable_start('wf_task', '{"payload": 6}', name => 't-bad') IS NOT NULL AS started;
SELECT durable_drive('t-bad');
SELECT claim('b', 'llm', 'w1');
SELECT tasks_digest() AS d \gset
SELECT terr($$SELECT * FROM durable_task_claim(NULL, 'w')$$);
SELECT terr($$SELECT * FROM durable_task_claim('', 'w')$$);
SELECT terr($$SELECT * FROM durable_task_claim('llm', NULL)$$);
SELECT terr($$SELECT * FROM durable_task_claim('llm', '')$$);
SELECT terr($$SELECT * FROM durable_task_claim('llm', 'w', '0 seconds')$$);
SELECT terr($$SELECT * FROM durable_task_claim('llm', 'w', '-1 seconds')$$);
SELECT terr($$SELECT * FROM durable_task_claim('llm', 'w', NULL)$$);
SELECT terr($$SELECT * FROM durable_task_claim('llm', 'w', '10 years')$$);
SELECT terr($$SELECT * FROM durable_task_claim('llm', 'w', '1 minute', 0)$$);
SELECT terr($$SELECT * FROM durable_task_claim('llm', 'w', '1 minute', 1001)$$);
SELECT terr($$SELECT * FROM durable_task_claim('llm', 'w', '1 minute', NULL)$$);
SELECT terr($$SELECT * FROM durable_task_claim('llm', 'w', '1 minute', 1, '-1 second')$$);
SELECT terr($$SELECT * FROM durable_task_claim('llm', 'w', '1 minute', 1, NULL)$$);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT terr($$SELECT * FROM durable_task_claim('llm', 'w', '1 minute', 1, '1 second')$$);
ROLLBACK;
SELECT terr($$SELECT durable_task_complete(NULL, '1')$$);
SELECT terr($$SELECT durable_task_complete('tk_nothex', '1')$$);
SELECT terr($$SELECT durable_task_complete('cb_00000000000000000000000000000000', '1')$$);
SELECT terr($$SELECT durable_task_complete('tk_00000000000000000000000000000000', '1')$$);
SELECT terr($$SELECT durable_task_complete(task_of('b1'), to_jsonb(repeat('x', 2000000)))$$);
SELECT terr($$SELECT durable_task_fail('tk_00000000000000000000000000000000', '{}')$$);
SELECT terr($$SELECT durable_task_fail(task_of('b1'), '{}', NULL)$$);
SELECT terr($$SELECT durable_task_heartbeat('tk_00000000000000000000000000000000')$$);
SELECT terr($$SELECT durable_task_heartbeat(task_of('b1'), '0 seconds')$$);
SELECT terr($$SELECT durable_task_heartbeat(NULL)$$);
SELECT terr($$SELECT durable_task_queue_grant(NULL, 'postgres')$$);
SELECT terr($$SELECT durable_task_queue_grant('llm', NULL)$$);
SELECT terr($$SELECT durable_task_queue_grant('llm', 'no_such_role')$$);
SELECT terr($$SELECT durable_task_queue_grant('llm', 'postgres', 'no_such_role')$$);
SELECT terr($$SELECT durable_task_queue_grant('llm', 'postgres', NULL)$$);
SELECT terr($$SELECT durable_task_queue_revoke('llm', 'postgres')$$);
SELECT tasks_digest() = :'d' AS unchanged;
SELECT durable_task_complete(task_of('b1'), '"fine"');
SELECT durable_drive('t-bad');
SELECT status FROM durable_status('t-bad');
-- outside a workflow, and bad calls inside one: the workflow fails at the call
SELECT terr($$SELECT durable_task('x', 'llm', '1')$$);
CREATE FUNCTION wf_bad(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_task(input->>'name', input->>'queue', input->'payload', input->'options');
END $$;
SELECT tasks_digest() AS d \gset
SELECT durable_start('wf_bad', i, name => 'bad-' || n) IS NOT NULL AS started
  FROM (VALUES (1, '{"name": null, "queue": "q"}'::jsonb), (2, '{"name": "t", "queue": null}'),
               (3, '{"name": "t", "queue": ""}'), (4, '{"name": "t", "queue": "q", "options": {"color": 1}}'),
               (5, '{"name": "t", "queue": "q", "options": {"max_attempts": 0}}'),
               (6, '{"name": "t", "queue": "q", "options": {"timeout": "-1 second"}}'),
               (7, '{"name": "t", "queue": "q", "options": {"heartbeat_timeout": 5}}'),
               (8, '{"name": "t", "queue": "q", "options": {"limiter": ""}}'),
               (9, '{"name": "t", "queue": "q", "options": [1]}'),
               (10, '{"name": "t", "queue": "q", "options": {"max_delay": "1 second", "initial_delay": "1 minute"}}')) v(n, i);
SELECT durable_drive('bad-' || n) FROM generate_series(1, 10) n;
SELECT n, error->>'sqlstate' AS sqlstate, error->>'message' AS message
  FROM generate_series(1, 10) n, durable_status('bad-' || n) ORDER BY n;
SELECT count(*) AS tasks_made FROM durable.tasks t JOIN durable.executions e ON e.id = t.execution_id
 WHERE e.name LIKE 'bad-%';
-- a step may not claim: it would hold a worker while it waits
CREATE FUNCTION wf_claim_in_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('claim', 'SELECT count(*) FROM durable_task_claim(''llm'', ''w'', wait => ''1 minute'')',
                      options => '{"max_attempts": 1}');
END $$;
SELECT durable_start('wf_claim_in_step', '{}', name => 't-step-claim') IS NOT NULL AS started;
SELECT durable_drive('t-step-claim');
SELECT error->>'sqlstate' AS sqlstate, error->>'message' AS message FROM durable_status('t-step-claim');
-- a task may name a limiter: it is offered once it holds it
SELECT durable_limiter_set('llm-rate', '{"rate": 1000}');
SELECT durable_start('wf_task', '{"payload": 7, "options": {"limiter": "llm-rate", "heartbeat_timeout": "10 seconds"}}',
                     name => 't-limiter') IS NOT NULL AS started;
SELECT durable_drive('t-limiter');
SELECT options, heartbeat_timeout FROM durable.tasks WHERE execution_id = durable.execution_id('t-limiter');
-- heartbeat_timeout caps the lease of a claim and of a heartbeat
SELECT lease_until - durable_clock() <= interval '10 seconds' AS capped FROM durable_task_claim('llm', 'w1', '1 hour');

-- ------------------------------------------------------------ grants
CREATE ROLE regress_task_owner NOLOGIN;
CREATE ROLE regress_task_worker NOLOGIN;
CREATE ROLE regress_task_other NOLOGIN;
GRANT CREATE ON SCHEMA public TO regress_task_owner;
GRANT SELECT, INSERT ON claims TO regress_task_worker, regress_task_other;
SET ROLE regress_task_owner;
CREATE FUNCTION wf_owned(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_task('job', 'owned', input);
END $$;
SELECT durable_start('wf_owned', '{"n": 1}', name => 't-owned') IS NOT NULL AS started;
RESET ROLE;
SELECT durable_drive('t-owned');
SET ROLE regress_task_worker;
SELECT count(*) AS before_grant FROM durable_task_claim('owned', 'w');
SELECT count(*) AS tasks_visible FROM durable.tasks;
SELECT terr($$SELECT durable_task_queue_grant('owned', 'regress_task_worker', 'regress_task_owner')$$);
RESET ROLE;
SET ROLE regress_task_owner;
SELECT durable_task_queue_grant('owned', 'regress_task_worker');
SELECT durable_task_queue_grant('owned', 'regress_task_worker');   -- again: nothing changes
SELECT task_queue, owner, grantee FROM durable.task_queue_grants;
RESET ROLE;
SET ROLE regress_task_other;
SELECT count(*) AS other_sees_grants FROM durable.task_queue_grants;
SELECT count(*) AS other_claims FROM durable_task_claim('owned', 'w');
RESET ROLE;
SET ROLE regress_task_worker;
SELECT name, payload, attempt FROM durable_task_claim('owned', 'w', '1 minute');
RESET ROLE;
SET ROLE regress_task_owner;
SELECT durable_task_queue_revoke('owned', 'regress_task_worker');
SELECT terr($$SELECT durable_task_queue_revoke('owned', 'regress_task_worker')$$);
RESET ROLE;
-- durable_admin grants for any owner
SELECT durable_task_queue_grant('owned', 'regress_task_other', 'regress_task_owner');
SELECT count(*) FROM durable.task_queue_grants;
SELECT durable_task_queue_revoke('owned', 'regress_task_other', 'regress_task_owner');

SELECT durable_stop(e) FROM unnest(ARRAY['t-owned', 't-limiter']) e;
SELECT durable_limiter_drop('llm-rate');

-- ------------------------------------------------- a limiter of tasks
-- A task whose options name a limiter of max_concurrency 1 holds it from
-- when it is offered until it finishes: the second waits in the
-- limiter's line with no task row, and is offered when the first ends.
SELECT durable_limiter_set('one-llm', '{"max_concurrency": 1}');
CREATE FUNCTION wf_lim_task(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_task('summarize', 'lim-q', input, '{"limiter": "one-llm"}');
END $$;
SELECT durable_start('wf_lim_task', to_jsonb(i), name => 't-lim-' || i) IS NOT NULL AS started
  FROM generate_series(1, 2) i;
SELECT durable_drive('t-lim-' || i) FROM generate_series(1, 2) i;
SELECT e.name, t.status FROM durable.tasks t JOIN durable.executions e ON e.id = t.execution_id
 WHERE e.name LIKE 't-lim-%' ORDER BY e.name;
SELECT h.event, h.details FROM durable.history h JOIN durable.executions e ON e.id = h.execution_id
 WHERE e.name = 't-lim-2' AND h.event LIKE 'limiter%';
SELECT count(*) AS offered FROM durable.tasks t JOIN durable.executions e ON e.id = t.execution_id
 WHERE e.name LIKE 't-lim-%';
CREATE TEMP TABLE lim_claims AS SELECT * FROM durable_task_claim('lim-q', 'w-lim', '1 minute', 5);
SELECT name, payload FROM lim_claims;
SELECT durable_task_complete(task_id, '"done"') FROM lim_claims;
SELECT durable_drive('t-lim-1');
SELECT durable_drive('t-lim-2');
SELECT e.name, t.status FROM durable.tasks t JOIN durable.executions e ON e.id = t.execution_id
 WHERE e.name LIKE 't-lim-%' ORDER BY e.name;
DELETE FROM lim_claims;
INSERT INTO lim_claims SELECT * FROM durable_task_claim('lim-q', 'w-lim', '1 minute', 5);
SELECT name, payload FROM lim_claims;
SELECT durable_task_complete(task_id, '"done"') FROM lim_claims;
SELECT durable_drive('t-lim-2');
SELECT name, status, result FROM durable.executions WHERE name LIKE 't-lim-%' ORDER BY name;
DROP TABLE lim_claims;
SELECT count(*) AS holders FROM durable.limiter_holders WHERE limiter = 'one-llm';
SELECT durable_limiter_drop('one-llm');
DROP FUNCTION wf_lim_task(jsonb);
-- purging an execution takes its tasks and their leases with it
SELECT (SELECT count(*) FROM durable.tasks WHERE owner = 'regress_task_owner'::regrole) AS tasks,
       (SELECT count(*) FROM durable.task_leases WHERE owner = 'regress_task_owner'::regrole) AS leases;
SET ROLE regress_task_owner;
SELECT durable_purge('0 seconds') AS purged;
RESET ROLE;
SELECT (SELECT count(*) FROM durable.tasks WHERE owner = 'regress_task_owner'::regrole) AS tasks,
       (SELECT count(*) FROM durable.task_leases WHERE owner = 'regress_task_owner'::regrole) AS leases;
DROP FUNCTION wf_owned(jsonb);
REVOKE CREATE ON SCHEMA public FROM regress_task_owner;
REVOKE ALL ON claims FROM regress_task_worker, regress_task_other;

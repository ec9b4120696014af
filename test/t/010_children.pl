# Child executions run by the background workers: durable_map keeps at
# most max_concurrency children running (as the children themselves
# record it) and returns the results in item order even when they finish
# out of order; durable_parallel tolerates the failures it is told to and
# raises WF006 otherwise, stopping what still runs; min_successful stops
# the branches it no longer needs and cancels those never started;
# stopping or timing out a parent stops its children and grandchildren,
# cancels their callbacks, and cancels a step a child runs in a worker;
# durable_invoke returns a child's result or raises WF006; batch_size runs
# one child per batch and still answers per item.  The 1,000-item map
# takes about 3 s with three workers on two cores.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('children');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 3
durable.database = 'postgres'
});
$node->start;
my $t_all = time;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;

-- what the map's children record about themselves, in their steps
CREATE TABLE gauge (running int NOT NULL, peak int NOT NULL, done int NOT NULL);
INSERT INTO gauge VALUES (0, 0, 0);
CREATE TABLE visits (seq bigint GENERATED ALWAYS AS IDENTITY, idx int NOT NULL, event text NOT NULL);
-- effects of long steps, rolled back when they are cancelled
CREATE TABLE effects (k text);
-- callback ids handed over by submitters
CREATE TABLE outbox (callback_id text NOT NULL);

-- A map child: "running" from its first step to its last.  The UPDATE of
-- the one gauge row serializes the children, so peak is exact.  The wait
-- in between suspends the child, so a worker takes up another one; its
-- length varies with the index, so children finish out of item order.
CREATE FUNCTION gauged(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('enter',
    'WITH v AS (INSERT INTO visits (idx, event) VALUES (($1->>''index'')::int, ''enter''))
     UPDATE gauge SET running = running + 1, peak = greatest(peak, running + 1) RETURNING running',
    input);
  PERFORM durable_wait('busy', ((input->>'index')::int % 7 + 1) * interval '5 milliseconds');
  PERFORM durable_step('leave',
    'WITH v AS (INSERT INTO visits (idx, event) VALUES (($1->>''index'')::int, ''leave''))
     UPDATE gauge SET running = running - 1, done = done + 1 RETURNING running',
    input);
  RETURN to_jsonb((input->>'item')::int * 2);
END $$;

CREATE FUNCTION mapper(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_map('m', input->'items', input->>'workflow', coalesce(input->'options', '{}'));
END $$;

CREATE FUNCTION double(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_step('twice', 'SELECT ($1->>''item'')::int * 2', input);
  RETURN r;
END $$;

CREATE FUNCTION boom(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('before', 'SELECT 1');
  RAISE EXCEPTION 'boom in the child' USING ERRCODE = 'P0001';
END $$;

CREATE FUNCTION sleeper(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('hour', interval '1 hour');
  RETURN '"woke"';
END $$;

CREATE FUNCTION cb_waiter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_callback('approval', 'INSERT INTO outbox VALUES ($1)');
END $$;

-- finishes when the test sends it the event "go"
CREATE FUNCTION gate(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_event('gate', 'go');
END $$;

-- a child that has a child of its own
CREATE FUNCTION invoker(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_invoke('grandchild', 'sleeper', '{}');
END $$;

-- durable_parallel, returning WF006 as a value when it is raised
CREATE FUNCTION par_catch(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_parallel('p', input->'branches', coalesce(input->'options', '{}'));
  RETURN jsonb_build_object('returned', r);
EXCEPTION WHEN SQLSTATE 'WF006' THEN
  RETURN jsonb_build_object('caught', SQLSTATE, 'message', SQLERRM);
END $$;

CREATE FUNCTION par(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_parallel('p', input->'branches', coalesce(input->'options', '{}'));
END $$;

CREATE FUNCTION inv(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE ok jsonb; caught text := 'nothing';
BEGIN
  ok := durable_invoke('good', 'double', '{"item": 21}');
  BEGIN
    PERFORM durable_invoke('bad', 'boom', '{}');
  EXCEPTION WHEN SQLSTATE 'WF006' THEN
    caught := SQLSTATE;
  END;
  RETURN jsonb_build_object('ok', ok, 'caught', caught);
END $$;

-- a batch child: one result per item of its batch, in order
CREATE FUNCTION batch_double(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN (SELECT jsonb_agg((e #>> '{}')::int * 2 ORDER BY n)
            FROM jsonb_array_elements(input->'items') WITH ORDINALITY a(e, n));
END $$;
});

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 3 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'three durable workers are running');

# start a parent, wait (on a condition variable, not polling) until it ends
sub finish
{
	my ($name, $timeout) = @_;
	$timeout //= 60;
	return $node->safe_psql('postgres',
		"SELECT durable_await('$name', '$timeout seconds')");
}

sub q1
{
	return $node->safe_psql('postgres', $_[0]);
}

# the children (or, with $where, some of them) of a named execution
sub children
{
	my ($name, $select, $where) = @_;
	$where = $where ? "AND ($where)" : '';
	return q1("SELECT $select FROM durable.executions "
		  . "WHERE parent_id = durable.execution_id('$name') $where");
}

# --- 1. a map over 1,000 items, at most 10 at once -------------------------
my $t0 = time;
q1(q{
SELECT durable_start('mapper',
  jsonb_build_object('workflow', 'gauged', 'options', '{"max_concurrency": 10}'::jsonb,
                     'items', (SELECT jsonb_agg(1000 + g ORDER BY g) FROM generate_series(0, 999) g)),
  name => 'map1000')});
is(finish('map1000', 110), 'SUCCEEDED', 'the map over 1,000 items succeeded');
my $map_time = time - $t0;
diag(sprintf('map of 1,000 children, max_concurrency 10, 3 workers: %.1f s', $map_time));

is(q1(q{SELECT concat_ws(' ', result->>'status', result->>'completion_reason',
                      result->>'total', result->>'succeeded', result->>'failed',
                      jsonb_array_length(result->'results'))
          FROM durable.executions WHERE name = 'map1000'}),
	'SUCCEEDED ALL_COMPLETED 1000 1000 0 1000',
	'its result: SUCCEEDED, ALL_COMPLETED, 1,000 results');
is(q1(q{SELECT count(*) FROM durable.executions e,
               jsonb_array_elements(e.result->'results') WITH ORDINALITY r(x, n)
         WHERE e.name = 'map1000'
           AND x->'index' = to_jsonb(n - 1)
           AND x->'result' = to_jsonb((1000 + n - 1) * 2)
           AND x->>'status' = 'SUCCEEDED'}),
	'1000', "results are in item order: results[i] is item i's, with its index");
my ($peak, $running, $done) = split /\|/, q1('SELECT peak, running, done FROM gauge');
ok($peak <= 10, "at most 10 children ran at once (peak $peak)");
ok($peak > 1, "children ran concurrently (peak $peak)");
is("$running $done", '0 1000', 'every child entered and left');
is(q1(q{SELECT count(*) FROM (SELECT idx FROM visits GROUP BY idx
          HAVING count(*) FILTER (WHERE event = 'enter') = 1
             AND count(*) FILTER (WHERE event = 'leave') = 1) s}),
	'1000', "each child's steps ran exactly once, for every index");
ok(q1(q{SELECT count(*) FROM visits a JOIN visits b ON a.seq < b.seq AND a.idx > b.idx
         WHERE a.event = 'leave' AND b.event = 'leave'}) > 0,
	'children finished out of item order (so the order of results is not a given)');
is(children('map1000', "count(*) || ' ' || count(*) FILTER (WHERE status = 'SUCCEEDED')"),
	'1000 1000', '1,000 SUCCEEDED children have the parent as parent_id');
is(q1(q{SELECT count(*) FROM durable.children WHERE parent_id = durable.execution_id('map1000')
          AND status = 'SUCCEEDED' AND child_id IS NOT NULL}),
	'1000', 'durable.children lists the 1,000 children SUCCEEDED');
# the parent's own view of the overlap, for information: its record of when
# each child started and finished
diag('overlap of the children by durable.children started_at/finished_at: '
	  . q1(q{SELECT max((SELECT count(*) FROM durable.children d
                          WHERE d.parent_id = c.parent_id AND d.started_at <= c.started_at
                            AND d.finished_at > c.started_at))
               FROM durable.children c WHERE c.parent_id = durable.execution_id('map1000')}));

# --- 2. parallel with a failing branch ------------------------------------
my $three = q{[{"name": "a", "workflow": "double", "input": {"item": 1}},
               {"name": "b", "sql": "SELECT 40 + 2"},
               {"name": "c", "workflow": "boom", "input": {}}]};
my $bad_sql = q{[{"name": "a", "workflow": "double", "input": {"item": 1}},
                 {"name": "b", "sql": "SELECT 40 + 2"},
                 {"name": "c", "sql": "SELECT 1 / 0", "options": {"max_attempts": 1}}]};
q1(qq{
SELECT durable_start('par', jsonb_build_object('branches', '$three'::jsonb,
                     'options', '{"tolerated_failures": 1}'::jsonb), name => 'tolerant');
SELECT durable_start('par', jsonb_build_object('branches', '$bad_sql'::jsonb,
                     'options', '{"tolerated_failures": 1}'::jsonb), name => 'tolerant-sql');
SELECT durable_start('par_catch', jsonb_build_object('branches', '$three'::jsonb), name => 'strict');
SELECT durable_start('par', jsonb_build_object('branches', '$three'::jsonb), name => 'strict-uncaught');
});
for my $name ('tolerant', 'tolerant-sql')
{
	is(finish($name), 'SUCCEEDED', "$name: a parallel tolerating one failure succeeds");
	is(q1(qq{SELECT concat_ws(' ', result->>'status', result->>'completion_reason',
	                          result->>'total', result->>'succeeded', result->>'failed')
	           FROM durable.executions WHERE name = '$name'}),
		'SUCCEEDED ALL_COMPLETED 3 2 1', "$name: 2 succeeded, 1 failed");
	is(q1(qq{SELECT string_agg(concat_ws(':', x->>'name', x->>'status', x->>'result',
	                                     (x->'error' IS NOT NULL
	                                      AND x->'error' <> 'null')::text), ' ' ORDER BY n)
	           FROM durable.executions e,
	                jsonb_array_elements(e.result->'results') WITH ORDINALITY r(x, n)
	          WHERE e.name = '$name'}),
		'a:SUCCEEDED:2:false b:SUCCEEDED:42:false c:FAILED:true',
		"$name: per branch in order, the failed one with an error");
}
like(q1(q{SELECT result->'results'->2->>'error' FROM durable.executions WHERE name = 'tolerant'}),
	qr/boom in the child/, "the failed branch's error is the child's");
is(finish('strict'), 'SUCCEEDED', 'the parent that catches WF006 succeeds');
is(q1(q{SELECT result->>'caught' FROM durable.executions WHERE name = 'strict'}),
	'WF006', 'without tolerated_failures the failing branch raises WF006 in the parent');
is(finish('strict-uncaught'), 'FAILED', 'uncaught, the parent FAILED');
is(q1(q{SELECT error->>'sqlstate' FROM durable.executions WHERE name = 'strict-uncaught'}),
	'WF006', 'with WF006 as its error');

# a failure decides the outcome while another branch still waits: that
# branch is stopped
q1(q{
SELECT durable_start('par_catch', '{"branches": [
   {"name": "fails", "workflow": "boom", "input": {}},
   {"name": "waits", "workflow": "sleeper", "input": {}}]}', name => 'strict-waiting')});
is(finish('strict-waiting'), 'SUCCEEDED', 'strict-waiting: the parent catches WF006');
is(q1(q{SELECT result->>'caught' FROM durable.executions WHERE name = 'strict-waiting'}),
	'WF006', 'strict-waiting: the failure raised WF006 while a branch was still waiting');
ok($node->poll_query_until('postgres', q{
SELECT string_agg(workflow || ':' || status, ' ' ORDER BY workflow) FROM durable.executions
 WHERE parent_id = durable.execution_id('strict-waiting')},
	'public.boom:FAILED public.sleeper:STOPPED'),
	'strict-waiting: the waiting branch was stopped');

# --- 3. min_successful stops the branches no longer needed -----------------
q1(q{
SELECT durable_start('par', '{"branches": [
   {"name": "fast", "workflow": "gate"},
   {"name": "slow-timer", "workflow": "sleeper"},
   {"name": "slow-callback", "workflow": "cb_waiter"}],
  "options": {"min_successful": 1}}', name => 'min1')});
# let both slow children reach their waits before the fast one finishes
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 3 FROM durable.executions
 WHERE parent_id = durable.execution_id('min1') AND status = 'SUSPENDED'
   AND (SELECT count(*) FROM outbox) = 1}),
	'min1: the three children wait');
q1(q{SELECT durable_send_event(id::text, 'go', '"opened"') FROM durable.executions
      WHERE parent_id = durable.execution_id('min1') AND workflow = 'public.gate'});
is(finish('min1'), 'SUCCEEDED', 'min1: the parent succeeds once one branch has');
is(q1(q{SELECT concat_ws(' ', result->>'status', result->>'completion_reason',
                      result->>'succeeded', result->'results'->0->>'result')
          FROM durable.executions WHERE name = 'min1'}),
	'SUCCEEDED MIN_SUCCESSFUL_REACHED 1 opened', 'min1: completion_reason MIN_SUCCESSFUL_REACHED');
is(q1(q{SELECT string_agg(x->>'name' || ':' || (x->>'status'), ' ' ORDER BY n)
          FROM durable.executions e, jsonb_array_elements(e.result->'results') WITH ORDINALITY r(x, n)
         WHERE e.name = 'min1'}),
	'fast:SUCCEEDED slow-timer:STOPPED slow-callback:STOPPED',
	'min1: the slow branches are STOPPED in the result');
ok($node->poll_query_until('postgres', q{
SELECT string_agg(workflow || ':' || status, ' ' ORDER BY workflow) FROM durable.executions
 WHERE parent_id = durable.execution_id('min1')},
	'public.cb_waiter:STOPPED public.gate:SUCCEEDED public.sleeper:STOPPED'),
	'min1: the two slow children end STOPPED');
my $cb = q1('SELECT callback_id FROM outbox');
is(q1(q{SELECT c.status FROM durable.callbacks c JOIN durable.executions e ON e.id = c.execution_id
         WHERE e.parent_id = durable.execution_id('min1')}),
	'CANCELLED', "min1: the stopped child's callback is CANCELLED");
my ($rc, $stdout, $stderr) = $node->psql('postgres',
	"SELECT durable_callback_success('$cb', '\"late\"')", extra_params => ['-v', 'VERBOSITY=verbose']);
like($stderr, qr/55000/, 'completing it afterwards is an error (55000)');

# --- 4. stopping a parent stops its children and grandchildren --------------
q1(q{
SELECT durable_start('par', '{"branches": [
   {"name": "timer", "workflow": "sleeper"},
   {"name": "callback", "workflow": "cb_waiter"},
   {"name": "nested", "workflow": "invoker"}]}', name => 'stopme')});
my $tree = q{
WITH RECURSIVE t AS (
  SELECT id, 0 AS lvl FROM durable.executions WHERE parent_id = durable.execution_id('stopme')
  UNION ALL
  SELECT e.id, t.lvl + 1 FROM durable.executions e JOIN t ON e.parent_id = t.id)
};
ok($node->poll_query_until('postgres', $tree . q{
SELECT count(*) FILTER (WHERE e.status = 'SUSPENDED') = 4 AND max(lvl) = 1
  FROM t JOIN durable.executions e USING (id)}),
	'stopme: three children and a grandchild wait');
is(q1("SELECT durable_stop('stopme', 'enough')"), 'STOPPED', 'durable_stop of the parent');
ok($node->poll_query_until('postgres', $tree . q{
SELECT count(*) FILTER (WHERE e.status = 'STOPPED') FROM t JOIN durable.executions e USING (id)}, '4'),
	'stopme: the children and the grandchild end STOPPED');
is(q1($tree . q{SELECT count(*) FROM durable.queue q JOIN t ON t.id = q.execution_id}),
	'0', 'stopme: none of them has a timer or a queue row left');
is(q1($tree . q{SELECT string_agg(c.status, ',') FROM durable.callbacks c JOIN t ON t.id = c.execution_id}),
	'CANCELLED', "stopme: the child's callback is CANCELLED");

# a child running a long step in a worker: stopping the parent cancels
# the step at once and rolls back its effect
q1(q{
SELECT durable_start('par', '{"branches": [
   {"name": "long", "sql": "INSERT INTO effects VALUES (''long''); SELECT pg_sleep(600)"}]}',
  name => 'stop-step')});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable worker' AND wait_event = 'PgSleep'"),
	'stop-step: a worker runs the long step of the child');
$t0 = time;
is(q1("SELECT durable_stop('stop-step')"), 'STOPPED', 'stop-step: durable_stop of the parent');
ok($node->poll_query_until('postgres',
	"SELECT string_agg(status, ',') FROM durable.executions WHERE parent_id = durable.execution_id('stop-step')",
	'STOPPED'),
	'stop-step: the child is STOPPED');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'durable worker' AND wait_event = 'PgSleep'"),
	'stop-step: no worker runs the step any more');
my $took = time - $t0;
ok($took < 10, "stop-step: at once, not after the 600-second step ($took s)");
is(q1("SELECT count(*) FROM effects WHERE k = 'long'"), '0', "stop-step: the step's effect was rolled back");

# stopping a map with max_concurrency: the running children are stopped,
# the items not started are CANCELLED and never start
q1(q{
SELECT durable_start('mapper', '{"workflow": "sleeper", "items": [1, 2, 3, 4, 5],
                                 "options": {"max_concurrency": 2}}', name => 'stop-map')});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM durable.executions WHERE parent_id = durable.execution_id('stop-map') AND status = 'SUSPENDED'"),
	'stop-map: two children wait');
is(q1("SELECT durable_stop('stop-map')"), 'STOPPED', 'stop-map: durable_stop of the parent');
ok($node->poll_query_until('postgres', q{
SELECT string_agg(status, ' ' ORDER BY idx) FROM durable.children
 WHERE parent_id = durable.execution_id('stop-map')},
	'STOPPED STOPPED CANCELLED CANCELLED CANCELLED'),
	'stop-map: its branches: two STOPPED, three CANCELLED');
is(children('stop-map', "string_agg(status, ' ')"), 'STOPPED STOPPED',
	'stop-map: only the two started children exist, both STOPPED');

# min_successful reached with items not started: those are CANCELLED
q1(q{
SELECT durable_start('mapper', '{"workflow": "double", "items": [1, 2, 3, 4, 5],
                                 "options": {"max_concurrency": 1, "min_successful": 1}}',
  name => 'min-cancel')});
is(finish('min-cancel'), 'SUCCEEDED', 'min-cancel: the map succeeds');
is(q1(q{SELECT concat_ws(' ', result->>'completion_reason', result->>'succeeded',
                      (SELECT string_agg(x->>'status', ',') FROM jsonb_array_elements(result->'results') x))
          FROM durable.executions WHERE name = 'min-cancel'}),
	'MIN_SUCCESSFUL_REACHED 1 SUCCEEDED,CANCELLED,CANCELLED,CANCELLED,CANCELLED',
	'min-cancel: the items never started are CANCELLED');
is(children('min-cancel', 'count(*)'), '1', 'min-cancel: and no execution was started for them');

# a parent that times out stops its children
q1(q{
SELECT durable_start('par', '{"branches": [{"name": "waits", "workflow": "sleeper", "input": {}}]}',
  name => 'timed', options => '{"execution_timeout": "1 second"}')});
is(finish('timed'), 'TIMED_OUT', 'timed: the parent TIMED_OUT');
ok($node->poll_query_until('postgres',
	"SELECT string_agg(status, ',') FROM durable.executions WHERE parent_id = durable.execution_id('timed')",
	'STOPPED'),
	'timed: its child is STOPPED');

# --- 5. durable_invoke ------------------------------------------------------
q1("SELECT durable_start('inv', '{}', name => 'inv')");
is(finish('inv'), 'SUCCEEDED', 'inv: the invoking parent succeeds');
is(q1(q{SELECT result FROM durable.executions WHERE name = 'inv'}),
	'{"ok": 42, "caught": "WF006"}',
	"durable_invoke returns the child's result, and a failed child raises WF006");
is(children('inv', "string_agg(workflow || ':' || status, ' ' ORDER BY workflow)"),
	'public.boom:FAILED public.double:SUCCEEDED', 'inv: its two children');

# --- 6. batch_size ----------------------------------------------------------
q1(q{
SELECT durable_start('mapper',
  jsonb_build_object('workflow', 'batch_double', 'options', '{"batch_size": 3}'::jsonb,
                     'items', (SELECT jsonb_agg(100 + g ORDER BY g) FROM generate_series(0, 9) g)),
  name => 'batched')});
is(finish('batched'), 'SUCCEEDED', 'batched: the map with batch_size 3 succeeds');
is(children('batched', "string_agg((input->>'index') || ':' || jsonb_array_length(input->'items'), ' ' "
	  . "ORDER BY (input->>'index')::int)"),
	'0:3 3:3 6:3 9:1', 'batched: 10 items in batches of 3 make 4 children');
is(q1(q{SELECT concat_ws(' ', result->>'total', result->>'succeeded',
                      jsonb_array_length(result->'results'))
          FROM durable.executions WHERE name = 'batched'}),
	'10 10 10', 'batched: the counts are per item');
is(q1(q{SELECT count(*) FROM durable.executions e,
               jsonb_array_elements(e.result->'results') WITH ORDINALITY r(x, n)
         WHERE e.name = 'batched' AND x->'index' = to_jsonb(n - 1)
           AND x->'result' = to_jsonb((100 + n - 1) * 2) AND x->>'status' = 'SUCCEEDED'}),
	'10', 'batched: one result per item, in item order');

# --- nothing keeps running ----------------------------------------------------
is(q1(q{SELECT count(*) FROM durable.executions
         WHERE status NOT IN ('SUCCEEDED', 'FAILED', 'STOPPED', 'TIMED_OUT')}),
	'0', 'every execution has ended');
is(q1('SELECT count(*) FROM durable.queue'), '0', 'the queue is empty: no timer, nothing ready');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING/, 'no warning in the log');
unlike($log, qr/terminated by signal|PANIC|TRAP:/, 'no process crashed');
diag(sprintf('whole test after the server start: %.1f s', time - $t_all));
done_testing();

# Background workers: executions run to completion with no client driving
# them, each step exactly once; a start wakes a worker at commit, never
# before and never after a rollback; a timer fires on time.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('workers');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE TABLE effects (execution text, step text);
CREATE FUNCTION wf3(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb; b jsonb; c jsonb;
BEGIN
  a := durable_step('a', 'INSERT INTO effects VALUES ($1->>''k'', ''a'') RETURNING 1', input);
  b := durable_step('b', 'INSERT INTO effects VALUES ($1->>''k'', ''b'') RETURNING 2', input);
  c := durable_step('c', 'INSERT INTO effects VALUES ($1->>''k'', ''c'') RETURNING 3', input);
  RETURN jsonb_build_array(a, b, c);
END $$;
CREATE FUNCTION wf_timer(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE t jsonb;
BEGIN
  PERFORM durable_wait('two-seconds', interval '2 seconds');
  t := durable_step('woke', 'SELECT clock_timestamp()');
  RETURN t;
END $$;
});

# the workers show up with their own backend type
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'two durable workers are running');

# many executions at once, no client driving them
$node->safe_psql('postgres',
	"SELECT count(durable_start('wf3', jsonb_build_object('k', 'many-' || g))) FROM generate_series(1, 300) g");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 300 FROM durable.executions WHERE status = 'SUCCEEDED'"),
	'300 executions finished through the workers');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM (SELECT execution, step FROM effects GROUP BY 1, 2 HAVING count(*) = 1) s"),
	'900', 'every step of every execution ran exactly once');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM durable.executions WHERE result <> '[1, 2, 3]'"),
	'0', 'every result is right');

# wake on commit: nothing runs before COMMIT, nothing after ROLLBACK
my $session = $node->background_psql('postgres');
$session->query_safe("BEGIN");
$session->query_safe("SELECT durable_start('wf3', '{\"k\": \"in-txn\"}', name => 'in-txn')");
# A negative check needs a window: give an idle worker half a second to
# (wrongly) run the uncommitted start; a woken worker runs one in ~1 ms.
$node->safe_psql('postgres', "SELECT pg_sleep(0.5)");
is($node->safe_psql('postgres', "SELECT count(*) FROM effects WHERE execution = 'in-txn'"),
	'0', 'nothing runs before the start commits');
my $t0 = time();
$session->query_safe("COMMIT");
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable_status('in-txn')"),
	'the execution runs once its start commits');
my $latency = time() - $t0;
ok($latency < 2, "a committed start ran within a bounded time ($latency s)");

$session->query_safe("BEGIN");
$session->query_safe("SELECT durable_start('wf3', '{\"k\": \"rolled-back\"}')");
$session->query_safe("ROLLBACK");
$session->quit;
$node->safe_psql('postgres', "SELECT pg_sleep(0.5)");    # the same window
is($node->safe_psql('postgres', "SELECT count(*) FROM effects WHERE execution = 'rolled-back'"),
	'0', 'nothing runs after a rollback');

# a timer due in 2 seconds fires between 2 and 2.5 seconds later
$node->safe_psql('postgres', "SELECT durable_start('wf_timer', '{}', name => 'timer')");
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable_status('timer')"),
	'the timer execution finished');
my $late = $node->safe_psql('postgres', q{
	SELECT extract(epoch FROM (e.result#>>'{}')::timestamptz - o.wake_at)
	  FROM durable.executions e JOIN durable.operations o ON o.execution_id = e.id
	 WHERE e.name = 'timer' AND o.name = 'two-seconds'});
my $slept = $node->safe_psql('postgres', q{
	SELECT extract(epoch FROM (result#>>'{}')::timestamptz - created_at)
	  FROM durable.executions WHERE name = 'timer'});
ok($late >= 0 && $slept >= 2 && $slept < 2.5,
	"the timer fired on time (after $slept s, $late s after its due time)");

# DROP EXTENSION while the workers are busy neither hangs nor fails, and
# the workers neither crash nor stop: they idle until it is created again
$node->safe_psql('postgres', q{
CREATE FUNCTION wf_busy(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  FOR i IN 1..3 LOOP r := durable_step('s' || i, 'SELECT pg_sleep(0.01)'); END LOOP;
  RETURN r;
END $$;
SELECT count(durable_start('wf_busy', '{}')) FROM generate_series(1, 200);
});
ok($node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id WHERE e.workflow = 'public.wf_busy'"),
	'the workers are busy');
ok($node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_stat_activity a JOIN durable.executions e ON a.query = 'durable: driving execution ' || e.id WHERE a.backend_type = 'durable worker' AND e.workflow = 'public.wf_busy'"),
	'pg_stat_activity shows the execution a worker drives');
my ($ret, $out, $err) = $node->psql('postgres', 'DROP EXTENSION durable CASCADE',
	timeout => 60);
is($ret, 0, "DROP EXTENSION while the workers are busy succeeds $err");
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'2', 'both workers are still there');
$node->safe_psql('postgres', "CREATE EXTENSION durable");
$node->safe_psql('postgres', "SELECT durable_start('wf3', '{\"k\": \"again\"}', name => 'again')");
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable_status('again')"),
	'after CREATE EXTENSION the workers drive executions again');

# nothing unexpected in the server log
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING|terminated by signal|PANIC/, 'no warning or crash in the server log');

$node->stop;
done_testing();

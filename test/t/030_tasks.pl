# Task queues for external workers (issue 16), with the background workers.
#
# - A worker, a separate psql process, claims a task and is killed with
#   kill -9 while it holds the lease: the task is taken again only after
#   the lease ends, by another worker, at attempt 2, and completes once;
#   the first worker's task id is refused.
# - Heartbeats keep a lease for three times its length: nobody else can
#   claim the task meanwhile, and it completes at attempt 1.
# - Leases that expire max_attempts times fail the operation with WF020,
#   which the workflow catches.
# - A claim with a wait returns as soon as a task is added, well before
#   its wait ends; one whose task never comes returns empty after its wait.
# - Four workers waiting on an empty queue share 40 tasks that come: each
#   task is claimed once, at attempt 1.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('tasks');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
});
$node->start;

sub query { return $node->safe_psql('postgres', $_[0]); }

query(q{
CREATE EXTENSION durable;
CREATE FUNCTION wf(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_task('job', input->>'queue', input->'payload', input->'options');
EXCEPTION WHEN SQLSTATE 'WF020' THEN
  RETURN jsonb_build_object('caught', SQLSTATE, 'message', SQLERRM);
END $$;
});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'two durable workers are running');

# the task of an execution, once the workers have created it
sub await_task
{
	my ($name) = @_;
	ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM durable.tasks WHERE execution_id = durable.execution_id('$name')"),
		"the task of $name is queued");
}

# ------------------------------------------------------------ kill -9 of a worker
query(q{SELECT durable_start('wf', '{"queue": "crash", "payload": {"n": 1},
  "options": {"max_attempts": 3, "initial_delay": "100 milliseconds", "jitter": "none"}}', name => 'crash')});
await_task('crash');
my ($out, $err) = ('', '');
my $psql = IPC::Run::start(
	[ $node->installed_command('psql'), '-X', '-At', '-d', $node->connstr('postgres'),
	  '-c', q{SELECT task_id FROM durable_task_claim('crash', 'doomed', '3 seconds')},
	  '-c', 'SELECT pg_sleep(120)' ],
	'>', \$out, '2>', \$err);
my $deadline = time + 60;
sleep 0.05 while $out !~ /^tk_/ && time < $deadline && $psql->pumpable && ($psql->pump_nb, 1);
my ($first_id) = $out =~ /^(tk_[0-9a-f]{32})/;
ok(defined $first_id, 'a separate psql process claimed the task');
my $pid = $psql->{KIDS}[0]{PID};
ok(kill('KILL', $pid), "kill -9 of the worker process $pid while it holds the lease");
$psql->finish;
is(query(q{SELECT status || ' ' || attempt || ' ' || worker FROM durable.tasks
            WHERE execution_id = durable.execution_id('crash')}), 'CLAIMED 1 doomed',
	'the task is still claimed by the dead worker');
# another worker waits for it: it comes back when the lease has ended
my $claimed = query(q{
SELECT concat_ws(' ', c.attempt, c.name, c.payload, clock_timestamp() >= t.lease_until_1, c.task_id)
  FROM (SELECT l.claimed_at + interval '3 seconds' AS lease_until_1 FROM durable.task_leases l
         WHERE l.execution_id = durable.execution_id('crash')) t,
       durable_task_claim('crash', 'rescuer', '1 minute', 1, '60 seconds') c});
like($claimed, qr/^2 job \{"n": 1\} t tk_[0-9a-f]{32}$/,
	'another worker takes it again at attempt 2, not before the lease ended');
my ($second_id) = $claimed =~ /(tk_[0-9a-f]{32})$/;
query("SELECT durable_task_complete('$second_id', '{\"by\": \"rescuer\"}')");
is(query(q{SELECT durable_await('crash', '60 seconds')}), 'SUCCEEDED', 'the execution succeeds');
is(query(q{SELECT result FROM durable_status('crash')}), '{"by": "rescuer"}', 'with the result of the second attempt');
is(query(q{SELECT count(*) FROM durable_history('crash') WHERE event = 'operation_succeeded'}), '1',
	'the task completed once');
my ($rc, $o, $e) = $node->psql('postgres', "SELECT durable_task_complete('$first_id', '{\"by\": \"ghost\"}')");
like($e, qr/the lease of this task has moved on/, "the killed worker's task id is refused");
is(query(q{SELECT status || ' ' || attempt || ' ' || result FROM durable.tasks
            WHERE execution_id = durable.execution_id('crash')}), 'SUCCEEDED 2 {"by": "rescuer"}',
	'and changed nothing');

# ------------------------------------------------------------ heartbeats keep a lease
query(q{SELECT durable_start('wf', '{"queue": "beat", "payload": 2, "options": {"max_attempts": 1}}', name => 'beat')});
await_task('beat');
my $id = query(q{SELECT task_id FROM durable_task_claim('beat', 'steady', '2 seconds')});
like($id, qr/^tk_/, 'a worker claims a task with a lease of 2 seconds');
my $t0 = time;
my $beats = 0;
while (time - $t0 < 6)
{
	query("SELECT durable_task_heartbeat('$id')");
	$beats++;
	sleep 0.5;
}
is(query(q{SELECT count(*) FROM durable_task_claim('beat', 'thief')}), '0',
	"after ${beats} heartbeats over 6 seconds, nobody else can claim it");
is(query(q{SELECT status || ' ' || attempt FROM durable.tasks WHERE execution_id = durable.execution_id('beat')}),
	'CLAIMED 1', 'it is still at attempt 1');
query("SELECT durable_task_complete('$id', '\"kept\"')");
is(query(q{SELECT durable_await('beat', '60 seconds')}), 'SUCCEEDED', 'it completes');
is(query(q{SELECT result FROM durable_status('beat')}), '"kept"', 'with the result of its only attempt');

# ------------------------------------------------------------ max_attempts, then WF020
query(q{SELECT durable_start('wf', '{"queue": "flaky", "payload": 3,
  "options": {"max_attempts": 2, "initial_delay": "100 milliseconds", "jitter": "none"}}', name => 'flaky')});
await_task('flaky');
is(query(q{SELECT attempt FROM durable_task_claim('flaky', 'w', '1 second', 1, '60 seconds')}), '1',
	'attempt 1 is claimed and left to expire');
is(query(q{SELECT attempt FROM durable_task_claim('flaky', 'w', '1 second', 1, '60 seconds')}), '2',
	'attempt 2 comes back after the lease and the backoff, and is left to expire');
is(query(q{SELECT durable_await('flaky', '60 seconds')}), 'SUCCEEDED', 'the execution ends');
is(query(q{SELECT result FROM durable_status('flaky')}),
	'{"caught": "WF020", "message": "task \"job\" failed: the lease of attempt 2 expired"}',
	'the workflow caught WF020 after max_attempts');
is(query(q{SELECT status FROM durable.tasks WHERE execution_id = durable.execution_id('flaky')}), 'FAILED',
	'the task is FAILED');

# ------------------------------------------------------------ a claim that waits
($out, $err) = ('', '');
my $waiting = IPC::Run::start(
	[ $node->installed_command('psql'), '-X', '-At', '-d', $node->connstr('postgres'),
	  '-c', q{SELECT name || ' ' || payload FROM durable_task_claim('late', 'patient', '1 minute', 1, '90 seconds')} ],
	'>', \$out, '2>', \$err);
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%durable_task_claim(''late''%'
	  AND wait_event_type = 'Extension'}), 'a claim waits for a task of an empty queue');
my $added = time;
query(q{SELECT durable_start('wf', '{"queue": "late", "payload": 4}', name => 'late')});
$waiting->finish;
my $took = time - $added;
is($out, "job 4\n", 'it returns the task added meanwhile');
cmp_ok($took, '<', 30, sprintf('as soon as it is added (%.2f s), well before its wait of 90 s ends', $took));
diag(sprintf('a waiting claim returned %.3f s after the start that added its task', $took));
$t0 = time;
is(query(q{SELECT count(*) FROM durable_task_claim('never', 'patient', '1 minute', 1, '2 seconds')}), '0',
	'a claim whose task never comes returns empty');
my $waited = time - $t0;
cmp_ok($waited, '>=', 1.9, sprintf('after its wait (%.2f s)', $waited));
cmp_ok($waited, '<', 30, 'and not much later');

# ------------------------------------------------------------ concurrent claimers
# four workers wait on an empty queue; 40 tasks come: each is claimed once
my @claimers;
for my $w (1 .. 4)
{
	my $script = join('', map { qq{SELECT task_id AS tid FROM durable_task_claim('many', 'w$w', '1 minute', 1, '120 seconds') \\gset
SELECT durable_task_complete(:'tid', '"w$w"');
} } 1 .. 10);
	my $file = PostgreSQL::Test::Utils::tempdir() . "/claimer$w.sql";
	PostgreSQL::Test::Utils::append_to_file($file, $script);
	my ($o, $e) = ('', '');
	push @claimers, [ IPC::Run::start(
		[ $node->installed_command('psql'), '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
		  '-d', $node->connstr('postgres'), '-f', $file ],
		'>', \$o, '2>', \$e), \$e ];
}
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 4 FROM pg_stat_activity WHERE query LIKE '%durable_task_claim(''many''%'
	  AND wait_event_type = 'Extension'}), 'four workers wait on the queue');
query(q{SELECT count(durable_start('wf', jsonb_build_object('queue', 'many', 'payload', i), name => 'many-' || i))
          FROM generate_series(1, 40) i});
my $all_ok = 1;
for my $c (@claimers)
{
	$c->[0]->finish or $all_ok = 0;
	diag(${ $c->[1] }) if ${ $c->[1] } ne '';
}
ok($all_ok, 'each worker claimed and completed ten tasks');
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 40 FROM durable.executions WHERE name LIKE 'many-%' AND status = 'SUCCEEDED'}),
	'the 40 executions succeed');
is(query(q{SELECT count(*) || ' ' || count(DISTINCT (execution_id, op_id)) || ' ' || max(attempt)
             FROM durable.task_leases l WHERE worker LIKE 'w_'}), '40 40 1',
	'40 claims for 40 tasks, all at attempt 1: no task was handed out twice');
is(query(q{SELECT string_agg(n::text, ',') FROM (SELECT count(*) n FROM durable.executions
             WHERE name LIKE 'many-%' GROUP BY result ORDER BY result) s}), '10,10,10,10',
	'each worker completed ten of them');

$node->stop;
done_testing();

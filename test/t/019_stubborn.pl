# Code that catches cancels and runs on (a PL/pgSQL loop over pg_sleep with
# EXCEPTION WHEN query_canceled) cannot hold a worker: a step attempt past
# its timeout, a replay past durable.replay_timeout and a drive that
# durable_stop abandons end within about a second of their cancel, because
# the worker ends itself.  No crash is charged for that, the timed-out
# attempt is recorded (and retried per its options), the stop completes,
# the launcher starts the worker again and the workers serve others.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('stubborn');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
durable.replay_timeout = 2000
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE TABLE effects (k text);
-- runs until it is killed: swallows every cancel
CREATE FUNCTION stubborn() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  LOOP
    BEGIN
      PERFORM pg_sleep(0.2);
    EXCEPTION WHEN query_canceled THEN
      NULL;
    END;
  END LOOP;
END $$;
-- input->'options': the step's options
CREATE FUNCTION wf_hog(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('hog', 'SELECT stubborn()', NULL, coalesce(input->'options', '{}'));
  RETURN '"done"';
END $$;
-- a body that never yields and swallows the cancel of its replay timeout
CREATE FUNCTION wf_spin(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM stubborn();
  RETURN '"spun"';
END $$;
CREATE FUNCTION wf_quick(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_step('quick', 'INSERT INTO effects VALUES ($1->>''k'') RETURNING 1', input);
  RETURN r;
END $$;
});

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'both workers run');

# Starts an execution and polls until it leaves PENDING/RUNNING/SUSPENDED
# (up to 60 s); returns its status and the seconds this client waited.
sub run_until_done
{
	my ($name, $workflow, $input, $options) = @_;
	my $t0 = time();
	$options //= '{}';
	$node->safe_psql('postgres',
		"SELECT durable_start('$workflow', \$j\$$input\$j\$, name => '$name', options => '$options')");
	my $deadline = time() + 60;
	my $status = '';
	while (time() < $deadline)
	{
		$status = $node->safe_psql('postgres',
			"SELECT status FROM durable.executions WHERE name = '$name'");
		last unless $status =~ /^(PENDING|RUNNING|SUSPENDED)$/;
		usleep(50_000);
	}
	return ($status, time() - $t0);
}

sub crash_count
{
	my ($name) = @_;
	return $node->safe_psql('postgres',
		"SELECT crash_count FROM durable.executions WHERE name = '$name'");
}

# a step with a 2-second timeout that swallows its cancel: one attempt
my ($status, $took) = run_until_done('hog-1', 'wf_hog',
	'{"options": {"timeout": "2 seconds", "max_attempts": 1}}');
is($status, 'FAILED', 'a step that swallows the cancel of its timeout fails');
ok($took < 6, "it ends within the timeout and about 2 s ($took s)");
is($node->safe_psql('postgres',
	"SELECT o.status || ' ' || o.attempt || ' ' || (o.error->>'detail') FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id WHERE e.name = 'hog-1'"),
	'FAILED 1 Attempt 1 of 1 raised SQLSTATE WF011: The attempt caught the cancel of its timeout and ran on; the worker driving it exited to end it.',
	'its attempt is recorded as timed out (WF011)');
is(crash_count('hog-1'), '0', 'no crash is charged to it');

# with two attempts: the first times out and is retried, the second too
($status, $took) = run_until_done('hog-2', 'wf_hog',
	'{"options": {"timeout": "2 seconds", "max_attempts": 2, "initial_delay": "0.1 seconds"}}');
is($status, 'FAILED', 'a retried step that swallows cancels fails after its attempts');
ok($took < 12, "both attempts end within their timeouts and about 2 s each ($took s)");
is($node->safe_psql('postgres',
	"SELECT o.status || ' ' || o.attempt FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id WHERE e.name = 'hog-2'"),
	'FAILED 2', 'its second attempt failed');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM durable.history h JOIN durable.executions e ON e.id = h.execution_id WHERE e.name = 'hog-2' AND h.event = 'operation_retried'"),
	'1', 'its first attempt was retried');
is(crash_count('hog-2'), '0', 'no crash is charged to it');

# no step timeout, but the execution's: it is TIMED_OUT at its deadline
($status, $took) = run_until_done('hog-deadline', 'wf_hog', '{}',
	'{"execution_timeout": "2 seconds"}');
is($status, 'TIMED_OUT', 'a step that swallows the cancel at the deadline is TIMED_OUT');
ok($took < 6, "it ends within execution_timeout and about 2 s ($took s)");
is(crash_count('hog-deadline'), '0', 'no crash is charged to it');

# durable_stop of a drive that swallows the cancels
my $id = $node->safe_psql('postgres',
	"SELECT durable_start('wf_hog', '{}', name => 'hog-stop')");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable worker' "
	  . "AND query LIKE '%$id%' AND wait_event = 'PgSleep'"),
	'a worker runs the stubborn step');
my $t0 = time();
$node->safe_psql('postgres', "SELECT durable_stop('$id')");
my $stop_took = time() - $t0;
ok($stop_took < 4, "durable_stop returns within about 2 s ($stop_took s)");
is($node->safe_psql('postgres', "SELECT status FROM durable.executions WHERE id = '$id'"),
	'STOPPED', 'the execution is STOPPED');
is(crash_count('hog-stop'), '0', 'no crash is charged to it');

# a body that never yields and swallows the cancel of durable.replay_timeout
($status, $took) = run_until_done('spin', 'wf_spin', '{}');
is($status, 'FAILED', 'a replay that swallows the cancel of its timeout fails');
ok($took < 6, "it ends within durable.replay_timeout and about 2 s ($took s)");
like($node->safe_psql('postgres',
	"SELECT (error->>'sqlstate') || ' ' || (error->>'message') FROM durable.executions WHERE name = 'spin'"),
	qr/^WF009 replay of the workflow ran longer than durable.replay_timeout/,
	'its error says the replay ran too long');
is(crash_count('spin'), '0', 'no crash is charged to it');

# the launcher started the workers again, and both serve others
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'both workers run again');
$node->safe_psql('postgres',
	"SELECT count(durable_start('wf_quick', jsonb_build_object('k', 'q' || g), name => 'q' || g)) FROM generate_series(1, 6) g");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 6 FROM durable.executions WHERE name LIKE 'q%' AND status = 'SUCCEEDED'"),
	'the workers run other executions');
is($node->safe_psql('postgres',
	"SELECT count(DISTINCT pid) FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'2', 'two workers are there');
is($node->safe_psql('postgres', "SELECT sum(crash_count) FROM durable.executions"),
	'0', 'no execution was charged a crash');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/ died /, 'no worker died');
unlike($log, qr/WARNING|terminated by signal|PANIC/, 'no warning or crash in the server log');
like($log, qr/step "hog" of execution \S+ ignored the cancel of its timeout; its worker exits/,
	'the log says why a worker exited');
like($log, qr/code run for execution \S+ ignored the cancel at its deadline; its worker exits/,
	'and when it was the deadline');
done_testing();

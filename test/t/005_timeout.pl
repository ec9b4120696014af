# execution_timeout with the workers: an execution started with a timeout
# of one second ends TIMED_OUT a second after its start, whether it waits
# on a long timer or runs a long step (which is cancelled and leaves no
# effect), and the worker goes on with other executions.  One worker, so
# that a step it could not stop would hold up everything after it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('timeout');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 1
durable.database = 'postgres'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE TABLE effects (k text);
CREATE FUNCTION wf_wait(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('a-minute', interval '60 seconds');
  RETURN '"woke"';
END $$;
-- a step that writes, then runs long; input->'options' are its options
CREATE FUNCTION wf_long(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_step('long',
    'INSERT INTO effects VALUES ($1->>''k''); SELECT pg_sleep(60)',
    input, coalesce(input->'options', '{}'));
  RETURN r;
END $$;
CREATE FUNCTION wf_quick(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_step('quick', 'INSERT INTO effects VALUES ($1->>''k'') RETURNING 1', input);
  RETURN r;
END $$;
});

# Starts an execution with a one-second timeout and polls (every 10 ms, up
# to 30 s) until it leaves PENDING/RUNNING/SUSPENDED; returns its status,
# the seconds from its start to its end as the server recorded them, and
# the seconds until this client saw it end.
sub run_with_timeout
{
	my ($name, $workflow, $input) = @_;
	my $t0 = time();
	$node->safe_psql('postgres',
		"SELECT durable_start('$workflow', \$j\$$input\$j\$, name => '$name', "
		  . "options => '{\"execution_timeout\": \"1 second\"}')");
	my $deadline = time() + 30;
	my $status = '';
	while (time() < $deadline)
	{
		$status = $node->safe_psql('postgres',
			"SELECT status FROM durable.executions WHERE name = '$name'");
		last unless $status =~ /^(PENDING|RUNNING|SUSPENDED)$/;
		usleep(10_000);
	}
	my $seen = time() - $t0;
	my $took = $node->safe_psql('postgres',
		"SELECT extract(epoch FROM finished_at - created_at) FROM durable.executions WHERE name = '$name'");
	return ($status, $took, $seen);
}

sub check_timed_out
{
	my ($name, $what) = @_;
	my ($status, $took, $seen) = @_[2 .. 4];
	is($status, 'TIMED_OUT', "$what: the execution is TIMED_OUT");
	ok($took ne '' && $took >= 1 && $took < 1.5,
		"$what: it ended between 1 and 1.5 s after its start ($took s)");
	# the client's view adds psql start-ups on a busy machine: a looser bound
	ok($seen < 3, "$what: the client saw it end within 3 s ($seen s)");
	is($node->safe_psql('postgres',
		"SELECT error->>'sqlstate' || ' ' || (error->>'message') FROM durable.executions WHERE name = '$name'"),
		'WF009 execution timed out', "$what: its error says it timed out");
}

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'the worker is running');

# a 60-second timer: the execution's deadline comes first
check_timed_out('wait', 'a long wait', run_with_timeout('wait', 'wf_wait', '{}'));
is($node->safe_psql('postgres',
	"SELECT o.status FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id WHERE e.name = 'wait'"),
	'CANCELLED', 'a long wait: its timer is cancelled');

# a 60-second step with no timeout of its own, and one whose own timeout
# comes after the deadline: the deadline cancels the attempt
foreach my $case (['long-step', '{"k": "long-step"}'],
	['long-step-own-timeout', '{"k": "long-step-own-timeout", "options": {"timeout": "10 seconds"}}'])
{
	my ($name, $input) = @$case;
	check_timed_out($name, $name, run_with_timeout($name, 'wf_long', $input));
	is($node->safe_psql('postgres',
		"SELECT o.status || ' ' || o.attempt FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id WHERE e.name = '$name'"),
		'TIMED_OUT 1', "$name: the step's attempt is TIMED_OUT");
	is($node->safe_psql('postgres', "SELECT error->>'operation' FROM durable.executions WHERE name = '$name'"),
		'long', "$name: the error names the step");
	is($node->safe_psql('postgres', "SELECT count(*) FROM effects WHERE k = '$name'"),
		'0', "$name: the cancelled attempt left no effect");
}

# the worker is free again: a quick execution runs at once
$node->safe_psql('postgres', q{SELECT durable_start('wf_quick', '{"k": "after"}', name => 'after')});
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'after'"),
	'the worker runs the next execution');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING|terminated by signal|PANIC/, 'no warning or crash in the server log');
done_testing();

# Crash loops: an execution whose step brings the server down (here: the
# test kill -9s the worker each time it runs that step) is retried at most
# durable.max_crashes times and then FAILED with an error saying why; the
# other executions finish, each step's effect once, and the server serves.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('crashloop');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.max_crashes = 3
durable.database = 'postgres'
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE TABLE effects (execution text, step int);
CREATE FUNCTION wf_poison(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_step('before', 'SELECT 1');
  r := durable_step('crashes', 'SELECT pg_sleep(600)');
  RETURN r;
END $$;
CREATE FUNCTION wf_slow(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  FOR i IN 1..5 LOOP
    r := durable_step('s' || i,
      'INSERT INTO effects SELECT $1->>''k'', ($1->>''i'')::int FROM pg_sleep(0.05) RETURNING step',
      input || jsonb_build_object('i', i));
  END LOOP;
  RETURN r;
END $$;
});

my $poison = $node->safe_psql('postgres',
	"SELECT durable_start('wf_poison', '{}', name => 'poison')");
$node->safe_psql('postgres',
	"SELECT count(durable_start('wf_slow', jsonb_build_object('k', 'ok-' || g), name => 'ok-' || g)) FROM generate_series(1, 20) g");

# a query that may fail while the server restarts after a crash
sub try_query
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $sql);
	return $rc == 0 ? $out : undef;
}

# kill -9 the worker each time it runs the crashing step, until the
# execution has finished.  Only once its transaction is half a second old:
# the commit of the step before it is asynchronous (durable.synchronous_commit
# is off), and a kill within the WAL writer's delay (200 ms) loses it, so
# the step before runs again, which is progress and starts the count anew.
my $kills = 0;
my $deadline = time + 120;
while (time < $deadline)
{
	my $status = try_query("SELECT status FROM durable.executions WHERE name = 'poison'");
	last if defined $status && $status eq 'FAILED';
	my $pid = try_query(
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'durable worker' "
		  . "AND wait_event = 'PgSleep' AND query LIKE '%$poison%' "
		  . "AND xact_start < now() - interval '500 ms'");
	if (defined $pid && $pid ne '')
	{
		kill('KILL', $pid) and $kills++;
		# wait for the crash to take the server down before looking again
		my $down = time + 10;
		usleep(20_000) while time < $down && kill(0, $pid);
	}
	usleep(20_000);
}

is($kills, 3, 'the worker was killed three times in the crashing step');
ok($node->poll_query_until('postgres',
	"SELECT status = 'FAILED' FROM durable.executions WHERE name = 'poison'"),
	'the crashing execution FAILED');
my $row = $node->safe_psql('postgres',
	"SELECT error->>'sqlstate', error->>'message', crash_count FROM durable.executions WHERE name = 'poison'");
is($row, 'WF013|execution crashed the server 3 times|3',
	'its error says it crashed the server durable.max_crashes times');
like($node->safe_psql('postgres',
	"SELECT error->>'detail' FROM durable.executions WHERE name = 'poison'"),
	qr/durable\.max_crashes is 3/, 'the detail names the setting');

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 20 FROM durable.executions WHERE name LIKE 'ok-%' AND status = 'SUCCEEDED'"),
	'the other executions finished');
is($node->safe_psql('postgres',
	"SELECT count(*) || '/' || count(DISTINCT (execution, step)) FROM effects"),
	'100/100', 'each of their steps took effect exactly once');
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server keeps serving');

# an orderly restart is no crash: nothing is charged for it
$node->safe_psql('postgres',
	"SELECT durable_start('wf_poison', '{}', name => 'poison-2')");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable worker' AND wait_event = 'PgSleep'"),
	'a second execution is in the long step');
$node->restart;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable worker' AND wait_event = 'PgSleep'"),
	'after a fast restart it runs the step again');
is($node->safe_psql('postgres',
	"SELECT crash_count FROM durable.executions WHERE name = 'poison-2'"),
	'0', 'a fast restart charges no crash');
$node->safe_psql('postgres', "SELECT durable_stop('poison-2')");

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING(?!:  terminating connection because of crash)/,
	'no warning in the log but those a crash causes');
like($log, qr/the worker driving execution $poison died \(3 times in a row\)/,
	'the log tells of the crashes');
done_testing();

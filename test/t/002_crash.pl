# Crash safety with the workers: after kill -9 of a worker in the middle of
# steps, and after an immediate stop of the whole server, every execution
# finishes, each SQL step's effect happened exactly once, and none is left
# RUNNING.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE TABLE effects (execution text, step int);
CREATE FUNCTION wf_slow(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  FOR i IN 1..5 LOOP
    r := durable_step('s' || i,
      'INSERT INTO effects SELECT $1->>''k'', ($1->>''i'')::int FROM pg_sleep(0.02) RETURNING step',
      input || jsonb_build_object('i', i));
  END LOOP;
  RETURN r;
END $$;
});

sub start_batch
{
	my ($prefix, $n) = @_;
	$node->safe_psql('postgres',
		"SELECT count(durable_start('wf_slow', jsonb_build_object('k', '$prefix-' || g), name => '$prefix-' || g)) FROM generate_series(1, $n) g");
}

sub check_batch
{
	my ($prefix, $n, $what) = @_;
	ok($node->poll_query_until('postgres',
		"SELECT count(*) = $n FROM durable.executions WHERE name LIKE '$prefix-%' AND status = 'SUCCEEDED'"),
		"$what: every execution finished");
	is($node->safe_psql('postgres',
		"SELECT count(*) FROM effects WHERE execution LIKE '$prefix-%'"),
		5 * $n, "$what: as many effects as steps");
	is($node->safe_psql('postgres',
		"SELECT count(*) FROM (SELECT execution, step FROM effects WHERE execution LIKE '$prefix-%' GROUP BY 1, 2 HAVING count(*) > 1) d"),
		'0', "$what: no step's effect happened twice");
	is($node->safe_psql('postgres',
		"SELECT count(*) FROM durable.executions WHERE status = 'RUNNING'"),
		'0', "$what: nothing is left RUNNING");
}

# kill -9 of a worker while it is in the middle of steps
start_batch('kill', 40);
ok($node->poll_query_until('postgres',
	"SELECT count(*) > 20 FROM effects WHERE execution LIKE 'kill-%'"),
	'the workers are in the middle of the batch');
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'durable worker' AND state = 'active' LIMIT 1");
$pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'durable worker' LIMIT 1") if $pid eq '';
ok(kill('KILL', $pid), "kill -9 of worker $pid");
# the postmaster restarts the whole cluster after a crash
$node->poll_query_until('postgres', 'SELECT 1', '1');
check_batch('kill', 40, 'after kill -9 of a worker');

# an immediate stop of the whole server in the middle of steps
start_batch('stop', 40);
ok($node->poll_query_until('postgres',
	"SELECT count(*) > 20 FROM effects WHERE execution LIKE 'stop-%'"),
	'the workers are in the middle of the second batch');
$node->stop('immediate');
$node->start;
check_batch('stop', 40, 'after an immediate stop');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING(?!:  terminating connection because of crash)/,
	'no warning in the log but those a crash causes');
done_testing();

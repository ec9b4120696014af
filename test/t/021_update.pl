# ALTER EXTENSION durable UPDATE while the workers (and a session running
# CALL durable_run) drive hundreds of executions: the update waits for the
# transactions in flight and the drives wait for the update, so neither
# side meets "deadlock detected"; the update succeeds every time, every
# execution finishes, and every step's effect exists exactly once.  Four
# rounds, from 1.0 and from 1.1, with the extension dropped and created
# again between them.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('update');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
deadlock_timeout = '100ms'
});
$node->start;

my $latest = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'durable'");

$node->safe_psql('postgres', q{
CREATE TABLE effects (k int, step text);
CREATE FUNCTION wf_update(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('a', 'INSERT INTO effects VALUES (($1->>''k'')::int, ''a'') RETURNING 1', input);
  PERFORM durable_wait('nap', interval '1 second');
  PERFORM durable_step('b', 'INSERT INTO effects VALUES (($1->>''k'')::int, ''b'') RETURNING 2', input);
  RETURN '"done"';
END $$;
});

my $n = 300;
my $round = 0;
foreach my $from ('1.0', '1.1', '1.0', '1.1')
{
	$round++;
	$node->safe_psql('postgres', qq{
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS durable CASCADE;
CREATE EXTENSION durable VERSION '$from';
TRUNCATE effects;
});
	$node->safe_psql('postgres',
		"SELECT count(durable_start('wf_update', jsonb_build_object('k', i), 'u-' || i))
		   FROM generate_series(1, $n) i");

	# the workers are at it: some executions have checkpoints, many do not yet
	ok($node->poll_query_until('postgres', 'SELECT count(*) >= 20 FROM effects'),
		"round $round: the workers drive the executions of $from");

	# a session driver too, across the update
	my ($out, $err) = ('', '');
	my $driver = IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		  '-c', "CALL durable_run('5 seconds')" ],
		'>', \$out, '2>', \$err);

	my ($rc, $stdout, $stderr) = $node->psql('postgres', 'ALTER EXTENSION durable UPDATE');
	is($rc, 0, "round $round: the update from $from succeeds") or diag($stderr);
	is($node->safe_psql('postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'durable'"),
		$latest, "round $round: the extension is at $latest");

	ok($driver->finish, "round $round: CALL durable_run across the update succeeds")
	  or diag($err);

	ok($node->poll_query_until('postgres',
		"SELECT count(*) = $n FROM durable.executions WHERE status = 'SUCCEEDED'"),
		"round $round: all $n executions finish");
	is($node->safe_psql('postgres',
		'SELECT count(*), count(DISTINCT (k, step)) FROM effects'),
		(2 * $n) . '|' . (2 * $n), "round $round: each step's effect exactly once");
}

my $log = slurp_file($node->logfile);
unlike($log, qr/deadlock detected/, 'no deadlock between the updates and the drives');

$node->stop;
done_testing();

# The runtime around the workers: the launcher follows durable.database and
# durable.max_workers at reload, DROP DATABASE goes through while workers
# are busy, durable_stop cancels a step running in a worker, durable_await
# wakes when an execution finishes, NOTIFY on the owner's channel
# (durable_status_<oid>), durable.stats.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('runtime');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'app'
durable.notify = 'terminal'
});
$node->start;

sub workers
{
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'durable worker'");
}

# --- the launcher waits for the database, then starts the workers --------
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'durable launcher'"),
	'1', 'the launcher runs');
is(workers(), '0', 'no worker while database "app" does not exist');
$node->safe_psql('postgres', 'CREATE DATABASE app');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker' AND datname = 'app'"),
	'CREATE DATABASE app brings two workers');

$node->safe_psql('app', q{
CREATE EXTENSION durable;
CREATE TABLE effects (execution text);
CREATE FUNCTION quick(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb;
BEGIN
  a := durable_step('one', 'SELECT 1');
  a := durable_step('two', 'SELECT 2');
  PERFORM durable_wait('nap', interval '10 milliseconds');
  a := durable_step('three', 'SELECT 3');
  RETURN a;
END $$;
CREATE FUNCTION long_step(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb;
BEGIN
  a := durable_step('long', 'INSERT INTO effects SELECT $1->>''k'' FROM pg_sleep(600) RETURNING 1', input);
  RETURN a;
END $$;
CREATE FUNCTION sleeper(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('hour', interval '1 hour');
  RETURN NULL;
END $$;
});

# --- max_workers follows a reload -----------------------------------------
$node->safe_psql('postgres', 'ALTER SYSTEM SET durable.max_workers = 3');
$node->reload;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 3 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'durable.max_workers = 3 at reload: three workers');
$node->safe_psql('postgres', 'ALTER SYSTEM SET durable.max_workers = 1');
$node->reload;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'durable.max_workers = 1 at reload: one worker');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET durable.max_workers');
$node->reload;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'back to two workers');

# --- durable_await and NOTIFY ---------------------------------------------
my $out = $node->safe_psql('app', q{
SELECT durable_status_channel() AS channel \gset
LISTEN :"channel";
SELECT durable_start('quick', '{}', name => 'q1');
SELECT durable_await('q1', '30 seconds');
-- the worker's commit wakes durable_await and signals the listener at
-- about the same time: a notification goes to psql after the query during
-- which it reached this backend, so give it round trips, up to 3 seconds
-- on a loaded machine
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
SELECT pg_sleep(0.1);
});
like($out, qr/^SUCCEEDED$/m, 'durable_await returns the final status');
my $q1 = $node->safe_psql('app', "SELECT durable.execution_id('q1')");
my @notes = $out =~ /Asynchronous notification "durable_status_\d+" with payload "(.*)" received/g;
is(scalar(@notes), 1, 'one notification with durable.notify = terminal');
is($notes[0] // '', qq({"id": "$q1", "status": "SUCCEEDED"}),
	'its payload is the execution id and status, on the channel of the owner');

$out = $node->safe_psql('app', q{
SET durable.notify = 'all';
SELECT durable_status_channel() AS channel \gset
LISTEN :"channel";
SELECT durable_start('sleeper', '{}', name => 's1');
SET durable.notify = 'none';
SELECT durable_stop('s1');
SELECT 'after';
});
@notes = $out =~ /payload "(.*)" received/g;
is(join(',', map { /"status": "(\w+)"/ ? $1 : '?' } @notes), 'PENDING',
	"durable.notify = 'all' notifies the start; 'none' not the stop");

my $t0 = time;
like($node->safe_psql('app', q{
SELECT durable_start('sleeper', '{}', name => 's2');
SELECT durable_await('s2', '0.3 seconds');
}), qr/\nSUSPENDED$/, 'durable_await returns the current status when the timeout passes');
my $waited = time - $t0;
ok($waited >= 0.3 && $waited < 5, "it waited the timeout ($waited s)");

# durable_await wakes at the commit that finishes the execution
my $await = $node->background_psql('app');
$await->query_safe("SELECT durable_start('sleeper', '{}', name => 's3')");
my $started = time;
$await->query_until(qr/ready/, "\\echo ready\nSELECT durable_await('s3', '60 seconds');\n");
$node->safe_psql('app', "SELECT durable_stop('s3')");
is($await->query_safe('SELECT 1'), "STOPPED\n1", 'it returned the final status');
$await->quit;
ok(time - $started < 10, 'durable_await woke when a stop finished the execution');

# --- durable_stop of a step running in a worker ---------------------------
$node->safe_psql('app', q{SELECT durable_start('long_step', '{"k": "long"}', name => 'long')});
my $id = $node->safe_psql('app', "SELECT durable.execution_id('long')");
ok($node->poll_query_until('app',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable worker' "
	  . "AND wait_event = 'PgSleep' AND query LIKE '%$id%'"),
	'a worker runs the long step');
my $pid = $node->safe_psql('app',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'durable worker' AND query LIKE '%$id%'");
$t0 = time;
is($node->safe_psql('app', "SELECT durable_stop('long', 'enough')"), 'STOPPED',
	'durable_stop of the running step returns STOPPED');
my $took = time - $t0;
ok($took < 5, "at once, not after the 600-second step ($took s)");
is($node->safe_psql('app',
	"SELECT status || ' ' || (error->>'reason') FROM durable.executions WHERE name = 'long'"),
	'STOPPED enough', 'the execution is STOPPED with the reason');
is($node->safe_psql('app', "SELECT count(*) FROM effects WHERE execution = 'long'"),
	'0', "the cancelled step's effect was rolled back");
is($node->safe_psql('app', "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid"),
	'1', 'the worker lives on');
$node->safe_psql('app', "SELECT durable_start('quick', '{}', name => 'q2')");
is($node->safe_psql('app', "SELECT durable_await('q2', '30 seconds')"), 'SUCCEEDED',
	'and runs the next execution');

# --- durable.stats --------------------------------------------------------
# six starts; two succeeded, three stopped, one (s2) still waits; six step
# attempts committed (the cancelled one rolled back, and so did its count)
is($node->safe_psql('app', q{
SELECT started, succeeded, stopped, steps, timers_fired >= 2,
       claims >= 6, wake_to_run_avg_ms IS NOT NULL, workers
  FROM durable.stats}),
	'6|2|3|6|t|t|t|2', 'durable.stats counts starts, outcomes, steps, timers, claims');

# --- DROP DATABASE while the workers are busy ------------------------------
$node->safe_psql('app', q{SELECT durable_start('long_step', '{"k": "drop"}', name => 'drop')});
ok($node->poll_query_until('app',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable worker' AND wait_event = 'PgSleep'"),
	'a worker is busy in a long step');
$t0 = time;
my ($rc, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE app');
is($rc, 0, 'DROP DATABASE of the workers\' database succeeds') or diag($stderr);
ok(time - $t0 < 10, 'without waiting for the step');
is(workers(), '0', 'no worker is left');
sleep(1.5);    # longer than a worker restart takes: none may come back
is(workers(), '0', 'and none comes back while the database is missing');
$node->safe_psql('postgres', 'CREATE DATABASE app');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker' AND datname = 'app'"),
	'the workers return when it is created again');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING/, 'no warning in the log');
unlike($log, qr/terminated by signal|PANIC/, 'no process crashed');
done_testing();

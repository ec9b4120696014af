# pg_cron out of the box (issue 14): on a server that listens only on a
# Unix socket (listen_addresses = '', the test clusters' default) and with
# pg_cron's defaults (cron.host = 'localhost', no background workers), the
# jobs durable makes point at the socket directory, so the tick that CREATE
# EXTENSION schedules runs and drives an execution, and a schedule of an
# ordinary role fires.  DROP EXTENSION durable removes the tick's and the
# schedules' jobs and keeps the other jobs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron_socket');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_cron,durable'
durable.max_workers = 0
cron.database_name = 'postgres'
});
$node->start;
my $host = $node->host;

is($node->safe_psql('postgres', 'SHOW listen_addresses'), '', 'the server listens on no TCP address');
is($node->safe_psql('postgres', 'SHOW cron.host'), 'localhost', "pg_cron's default cron.host");
is($node->safe_psql('postgres', 'SHOW cron.use_background_workers'), 'off',
	"pg_cron's default: jobs connect through libpq");

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_cron;
SELECT cron.schedule('other-job', '0 3 * * *', 'SELECT 1');
CREATE EXTENSION durable;
});
is($node->safe_psql('postgres',
	"SELECT nodename FROM cron.job WHERE jobname = 'durable_tick'"), $host,
	"the tick's job reaches the server through its socket directory");
is($node->safe_psql('postgres',
	"SELECT nodename FROM cron.job WHERE jobname = 'other-job'"), 'localhost',
	"another job keeps pg_cron's nodename");

# a tick job restored from a cluster with another socket directory: enabling
# it again points it here
$node->safe_psql('postgres',
	"UPDATE cron.job SET nodename = '/old/socket/dir' WHERE jobname = 'durable_tick'");
$node->safe_psql('postgres', 'SELECT durable_cron_enable()');
is($node->safe_psql('postgres',
	"SELECT nodename FROM cron.job WHERE jobname = 'durable_tick'"), $host,
	"durable_cron_enable() points a tick job with another socket directory at this one");

# the tick, run by pg_cron, drives an execution (no worker runs)
$node->safe_psql('postgres', q{
CREATE TABLE effects (who text);
CREATE FUNCTION wf_socket(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('record', 'INSERT INTO effects VALUES (current_user) RETURNING 1');
END $$;
SELECT durable_start('wf_socket', '{}', name => 'by-the-tick');
CREATE ROLE scheduler LOGIN;
GRANT USAGE ON SCHEMA cron TO scheduler;
GRANT INSERT ON effects TO scheduler;
});
my $sched_job = $node->safe_psql('postgres',
	"SELECT durable_schedule('minutely', '* * * * *', 'wf_socket', '{}')",
	extra_params => [ '-U', 'scheduler' ]);
is($node->safe_psql('postgres', "SELECT nodename || ' ' || username FROM cron.job WHERE jobid = $sched_job"),
	"$host scheduler", "an ordinary role's schedule job reaches the socket too");

# pg_cron runs every minute: allow a few
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable_status('by-the-tick')"),
	"pg_cron's tick drove the execution to the end")
  or diag($node->safe_psql('postgres', 'SELECT * FROM cron.job_run_details'));
ok($node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM cron.job_run_details WHERE jobid = $sched_job AND status = 'succeeded'"),
	"the schedule's job ran and succeeded")
  or diag($node->safe_psql('postgres', 'SELECT * FROM cron.job_run_details'));
ok($node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM durable.executions WHERE name LIKE 'minutely@%' AND status = 'SUCCEEDED'"),
	'the schedule started an execution, which the tick drove');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM cron.job_run_details WHERE status = 'failed'"), '0',
	'no job failed to connect');

# DROP EXTENSION durable removes the jobs it made, and only those
$node->safe_psql('postgres', 'DROP EXTENSION durable');
is($node->safe_psql('postgres', "SELECT string_agg(jobname, ',' ORDER BY jobname) FROM cron.job"),
	'other-job', "DROP EXTENSION removed the tick's and the schedule's jobs, not the others");

# a failed drop keeps them (the same transaction)
$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE VIEW depends_on_durable AS SELECT count(*) FROM durable.executions;
});
$node->safe_psql('postgres', "SELECT durable_schedule('again', '0 1 * * *', 'wf_socket', '{}')");
my ($rc, $out, $err) = $node->psql('postgres', 'DROP EXTENSION durable');
like($err, qr/cannot drop extension durable because other objects depend on it/,
	'a drop that fails on a dependency');
is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job"), '3',
	'keeps the tick, the schedule and the other job');
$node->safe_psql('postgres', 'DROP EXTENSION durable CASCADE');
is($node->safe_psql('postgres', "SELECT string_agg(jobname, ',' ORDER BY jobname) FROM cron.job"),
	'other-job', 'DROP EXTENSION ... CASCADE removes them');

# cron.use_background_workers on: pg_cron does not connect, nodename stays
$node->append_conf('postgresql.conf', "cron.use_background_workers = on\n");
$node->restart;
$node->safe_psql('postgres', 'CREATE EXTENSION durable');
is($node->safe_psql('postgres',
	"SELECT nodename FROM cron.job WHERE jobname = 'durable_tick'"), 'localhost',
	'with cron.use_background_workers on, the tick keeps pg_cron\'s nodename');

$node->stop;
my @bad = grep { /WARNING|terminated by signal|PANIC/ } split /\n/, slurp_file($node->logfile);
is(join("\n", @bad), '', 'no warning or crash in the server log');

done_testing();

# pg_cron: with durable.max_workers = 0, the tick job that CREATE EXTENSION
# schedules drives executions and fires timers; a schedule starts one
# execution per fire minute, however often it fires; a real pg_cron minute
# runs both jobs and the tick leaves no pile of run details.  A database
# without pg_cron keeps everything but schedules.  With a worker running,
# the tick leaves the driving to it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
# pg_cron runs jobs through libpq: point it at the test's socket directory
my $host = $node->host;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron,durable'
durable.max_workers = 0
cron.database_name = 'postgres'
cron.host = '$host'
});
$node->start;

# run the tick job's command as pg_cron does, until a condition holds
sub tick_until
{
	my ($command, $condition, $timeout) = @_;
	my $deadline = time() + ($timeout // 60);
	while (time() < $deadline)
	{
		$node->safe_psql('postgres', $command);
		return 1 if $node->safe_psql('postgres', "SELECT ($condition)::int") eq '1';
		sleep(0.2);
	}
	return 0;
}

# an error's SQLSTATE and message, from psql in verbose mode
sub error_of
{
	my ($sql, @params) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql",
		extra_params => [@params]);
	return $ret == 0 ? 'no error' : ($err =~ /ERROR:\s+(\w{5}: [^\n]*)/ ? $1 : $err);
}

# ---------------------------------------------------------------------
# CREATE EXTENSION schedules the tick when pg_cron is there
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
$node->safe_psql('postgres', 'CREATE EXTENSION durable');
my ($tick_job, $tick_command) = split /\|/, $node->safe_psql('postgres',
	"SELECT jobid, command FROM cron.job WHERE jobname = 'durable_tick' AND schedule = '* * * * *' AND username = 'postgres'");
ok($tick_job, 'CREATE EXTENSION scheduled the tick job');
is($tick_command, 'CALL public.durable_tick()', 'the job calls durable_tick()');
is($node->safe_psql('postgres', 'SELECT durable_cron_enable()'), $tick_job,
	'durable_cron_enable() again gives the same job');
is($node->safe_psql('postgres', 'SELECT count(*) FROM cron.job'), '1',
	'and still one job');

# ---------------------------------------------------------------------
# the tick's command drives executions and fires their timers
$node->safe_psql('postgres', q{
CREATE TABLE effects (execution text, step text);
CREATE FUNCTION wf_timer(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb;
BEGIN
  a := durable_step('a', 'INSERT INTO effects VALUES ($1->>''k'', ''a'') RETURNING 1', input);
  PERFORM durable_wait('two-seconds', interval '2 seconds');
  RETURN jsonb_build_array(a,
    durable_step('b', 'INSERT INTO effects VALUES ($1->>''k'', ''b'') RETURNING 2', input));
END $$;
CREATE FUNCTION wf_forever(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('a-day', interval '1 day');
  RETURN input;
END $$;
SELECT count(durable_start('wf_timer', jsonb_build_object('k', 't' || g))) FROM generate_series(1, 5) g;
SELECT durable_start('wf_forever', '{}', name => 'forever',
                     options => '{"execution_timeout": "3 seconds"}');
});
$node->safe_psql('postgres', $tick_command);
# every execution ran up to its timer (or, on a loaded machine where the
# tick took longer than a timer, past it): none is left ready
is($node->safe_psql('postgres',
	"SELECT count(*) FROM durable.executions WHERE status IN ('PENDING', 'RUNNING') OR wake_at IS NULL AND status = 'SUSPENDED'"),
	'0', 'one tick ran every execution up to its timer');
ok(tick_until($tick_command,
	"SELECT count(*) = 5 FROM durable.executions WHERE workflow = 'public.wf_timer' AND status = 'SUCCEEDED'"),
	'repeated ticks fired the timers');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM durable.operations b JOIN durable.operations w USING (execution_id)
	 WHERE b.name = 'b' AND w.name = 'two-seconds' AND b.started_at >= w.wake_at}),
	'5', 'no timer fired early');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM (SELECT execution, step FROM effects GROUP BY 1, 2 HAVING count(*) = 1) s"),
	'10', 'every step ran exactly once');
ok(tick_until($tick_command, "SELECT status = 'TIMED_OUT' FROM durable_status('forever')"),
	'a tick ended the execution past its execution_timeout');

# ---------------------------------------------------------------------
# schedules, made by an ordinary role that may use pg_cron
$node->safe_psql('postgres', q{
CREATE ROLE scheduler LOGIN;
CREATE ROLE stranger LOGIN;
GRANT USAGE ON SCHEMA cron TO scheduler;
GRANT INSERT ON effects TO scheduler;
CREATE FUNCTION wf_sched(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('record', 'INSERT INTO effects VALUES (''sched'', current_user) RETURNING $1', input);
END $$;
});
my @as_scheduler = ('-U', 'scheduler');
my $sched_job = $node->safe_psql('postgres',
	"SELECT durable_schedule('minutely', '* * * * *', 'wf_sched', '{\"n\": 1}')",
	extra_params => [@as_scheduler]);
is($node->safe_psql('postgres', "SELECT username || ' ' || command FROM cron.job WHERE jobid = $sched_job"),
	"scheduler SELECT durable.schedule_fire('minutely')",
	'the schedule has a pg_cron job run as the scheduling role');

# bad input changes nothing
my $before = $node->safe_psql('postgres',
	"SELECT (SELECT count(*) FROM cron.job) || '/' || (SELECT count(*) FROM durable.schedules)");
is(error_of("SELECT durable_schedule('minutely', '0 * * * *', 'wf_sched')", @as_scheduler),
	'42710: schedule "minutely" already exists', 'a schedule name is taken once');
is(error_of("SELECT durable_schedule('other', '61 * * * *', 'wf_sched')", @as_scheduler),
	'22023: invalid cron expression "61 * * * *"', 'a bad cron expression is an error');
is(error_of("SELECT durable_schedule('other', '* * * * *', 'no_such_wf')", @as_scheduler),
	'42883: workflow function no_such_wf(jsonb) does not exist', 'an unknown workflow is an error');
is(error_of("SELECT durable_schedule('other', '* * * * *', 'wf_sched')", '-U', 'stranger'),
	'42501: permission denied for schema cron', 'a role that may not use pg_cron cannot schedule');
is(error_of("SELECT durable_unschedule('minutely')", '-U', 'stranger'),
	'42704: schedule "minutely" does not exist', 'nor unschedule what is not its own');
is(error_of("SELECT durable.schedule_fire('minutely')", '-U', 'stranger'),
	'42704: schedule "minutely" does not exist', 'nor fire it');
is($node->safe_psql('postgres',
	"SELECT (SELECT count(*) FROM cron.job) || '/' || (SELECT count(*) FROM durable.schedules)"),
	$before, 'the errors left no job and no schedule behind');

# schedule names are per role: another role's 'minutely' is a schedule of
# its own (durable_schedule tells it nothing of the first), and it
# unschedules its own only
$node->safe_psql('postgres', 'CREATE ROLE scheduler2 LOGIN; GRANT USAGE ON SCHEMA cron TO scheduler2;');
$node->safe_psql('postgres', "SELECT durable_schedule('minutely', '0 0 1 1 *', 'wf_sched')",
	extra_params => ['-U', 'scheduler2']);
is($node->safe_psql('postgres',
	"SELECT string_agg(owner::text, ',' ORDER BY owner::text) FROM durable.schedules WHERE name = 'minutely'"),
	'scheduler,scheduler2', 'another role schedules the same name');
$node->safe_psql('postgres', "SELECT durable_unschedule('minutely')", extra_params => ['-U', 'scheduler2']);
is($node->safe_psql('postgres',
	"SELECT (SELECT count(*) FROM cron.job) || '/' || (SELECT string_agg(owner::text, ',') FROM durable.schedules)"),
	(split m{/}, $before)[0] . '/scheduler', 'and unschedules its own schedule and job only');

# the job's command run twice in a minute starts one execution (tried
# again if the two runs fell in different minutes)
my $sched_command = $node->safe_psql('postgres', "SELECT command FROM cron.job WHERE jobid = $sched_job");
my ($first, $second);
for my $try (1 .. 3)
{
	my $minute = "to_char(now() AT TIME ZONE 'UTC', 'HH24:MI')";
	my $before_minute = $node->safe_psql('postgres', "SELECT $minute");
	$first = $node->safe_psql('postgres', $sched_command, extra_params => [@as_scheduler]);
	$second = $node->safe_psql('postgres', $sched_command, extra_params => [@as_scheduler]);
	last if $node->safe_psql('postgres', "SELECT $minute") eq $before_minute;
}
is($second, $first, 'a second fire in the same minute gives the same execution');
like($node->safe_psql('postgres', "SELECT name || ' ' || owner FROM durable.executions WHERE id = '$first'"),
	qr/^minutely\@\d{4}-\d\d-\d\dT\d\d:\d\dZ scheduler$/,
	'named by the schedule and the fire minute, owned by the scheduling role');
is($node->safe_psql('postgres', "SELECT count(*) FROM durable.executions WHERE name = (SELECT name FROM durable.executions WHERE id = '$first')"),
	'1', 'one execution for that minute');

# ---------------------------------------------------------------------
# a real pg_cron minute: the tick drives what is ready, the schedule fires,
# and the tick's old run details are gone
$node->safe_psql('postgres', qq{
INSERT INTO cron.job_run_details (jobid, runid, database, username, status, command, start_time, end_time)
SELECT $tick_job, nextval('cron.runid_seq'), 'postgres', 'postgres', s, 'old',
       now() - interval '1 hour', now() - interval '1 hour'
  FROM unnest(ARRAY['succeeded', 'failed', 'succeeded']) s;
SELECT durable_start('wf_sched', '{"n": 2}', name => 'for-the-real-tick');
});
my $t0 = $node->safe_psql('postgres', 'SELECT now()');
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) > 0 FROM cron.job_run_details
	 WHERE jobid = $tick_job AND status = 'succeeded' AND start_time > '$t0'}),
	'pg_cron ran the tick job');
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable_status('for-the-real-tick')"),
	'the real tick drove an execution');
is($node->safe_psql('postgres',
	"SELECT string_agg(status, ',') FROM cron.job_run_details WHERE jobid = $tick_job"),
	'succeeded', 'the tick left only its latest run in cron.job_run_details');
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) > 0 FROM cron.job_run_details
	 WHERE jobid = $sched_job AND status = 'succeeded' AND start_time > '$t0'}),
	'pg_cron fired the schedule');
ok($node->safe_psql('postgres', qq{
	SELECT count(*) FROM durable.executions
	 WHERE name = 'minutely\@' || to_char(date_trunc('minute', (SELECT max(start_time) FROM cron.job_run_details WHERE jobid = $sched_job)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"')
	   AND owner = 'scheduler'::regrole}) eq '1',
	'the fire started the execution of its minute');

# ---------------------------------------------------------------------
# unschedule, disable, enable
$node->safe_psql('postgres', "SELECT durable_unschedule('minutely')", extra_params => [@as_scheduler]);
is($node->safe_psql('postgres',
	"SELECT (SELECT count(*) FROM cron.job WHERE jobid = $sched_job) || '/' || (SELECT count(*) FROM durable.schedules)"),
	'0/0', 'durable_unschedule removed the schedule and its job');
is($node->safe_psql('postgres', 'SELECT durable_cron_disable()'), 't', 'durable_cron_disable() removed the tick job');
is($node->safe_psql('postgres', 'SELECT durable_cron_disable()'), 'f', 'and then has nothing to remove');
is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job"), '0', 'no job left');
ok($node->safe_psql('postgres', 'SELECT durable_cron_enable()') > 0, 'durable_cron_enable() schedules it again');
is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job WHERE jobname = 'durable_tick'"), '1', 'once');

# ---------------------------------------------------------------------
# a database without pg_cron: no job, and everything but schedules works
$node->safe_psql('postgres', 'CREATE DATABASE nocron');
$node->safe_psql('nocron', q{
CREATE EXTENSION durable;
CREATE FUNCTION wf_one(input jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT input $$;
SELECT durable_start('wf_one', '{"ok": true}', name => 'one');
});
is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job WHERE database = 'nocron'"), '0',
	'CREATE EXTENSION scheduled nothing where pg_cron is not installed');
$node->safe_psql('nocron', 'CALL durable_tick()');
is($node->safe_psql('nocron', "SELECT result FROM durable_status('one')"), '{"ok": true}',
	'the tick drives executions there too');
my ($ret, $out, $err) = $node->psql('nocron',
	"SELECT durable_schedule('s', '* * * * *', 'wf_one')");
like($err, qr/durable_schedule needs the extension pg_cron/, 'schedules need pg_cron');

# ---------------------------------------------------------------------
# with a worker running, the tick leaves driving to it: while the worker
# is stopped (SIGSTOP) the tick drives nothing; once it goes on, it runs
$node->append_conf('postgresql.conf', "durable.max_workers = 1");
$node->restart;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable worker' AND wait_event = 'Extension'"),
	'a worker runs and idles');
my $worker = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'durable worker'");
kill 'STOP', $worker;
$node->safe_psql('postgres', "SELECT durable_start('wf_sched', '{\"n\": 3}', name => 'for-the-worker')");
$node->safe_psql('postgres', 'CALL durable_tick()');
is($node->safe_psql('postgres', "SELECT status FROM durable_status('for-the-worker')"),
	'PENDING', 'the tick does not drive while a worker runs');
kill 'CONT', $worker;
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable_status('for-the-worker')"),
	'the worker drives it');

# nothing unexpected in the server log
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING|terminated by signal|PANIC/, 'no warning or crash in the server log');

$node->stop;
done_testing();

# Monitoring (issue 14), with one background worker: a failed execution, a
# step or HTTP request out of attempts (the mock HTTP server answers 503)
# and a timed-out execution each leave a LOG line in
# the server log (and none with durable.log_failures off); the Prometheus
# exporter of Debian (prometheus-postgres-exporter), started with
# examples/prometheus/durable_queries.yaml as a member of durable_monitor,
# serves the counters, the per-workflow statistics, the executions by
# status and the ready queue with the right values; the per-workflow
# statistics and durable.stats survive a clean restart (pg_ctl stop -m
# fast) and start from zero after an immediate stop (a crash).
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use HTTP::Tiny;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use DurableMock;

my $exporter_bin = '/usr/bin/prometheus-postgres-exporter';
my $queries = File::Spec->rel2abs(
	dirname(__FILE__) . '/../../examples/prometheus/durable_queries.yaml');

my $mock = DurableMock->new(name => 'mock_022');
my $url = $mock->url;

my $node = PostgreSQL::Test::Cluster->new('monitoring');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 1
durable.database = 'postgres'
durable.http_allow_addresses = '127.0.0.1'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE ROLE durable_prom LOGIN IN ROLE durable_monitor;
CREATE FUNCTION wf_ok(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('one', 'SELECT pg_sleep(0.02); SELECT 1');
END $$;
CREATE FUNCTION wf_fail(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('boom', 'SELECT 1/0', NULL,
                      '{"max_attempts": 2, "initial_delay": "10 ms", "jitter": "none"}');
END $$;
CREATE FUNCTION wf_http(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_http('call', jsonb_build_object('url', input->>'url'),
                      '{"max_attempts": 2, "initial_delay": "10 ms", "jitter": "none"}');
END $$;
CREATE FUNCTION wf_slow(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('nap', interval '1 hour');
  RETURN '"woke"';
END $$;
});

sub finished
{
	my ($names) = @_;
	my $list = join(', ', map { "'$_'" } @$names);
	return $node->poll_query_until('postgres',
		"SELECT count(*) = " . scalar(@$names) . " FROM durable.executions
		  WHERE name IN ($list) AND status IN ('SUCCEEDED', 'FAILED', 'TIMED_OUT', 'STOPPED')");
}

# --- executions: three succeed, one fails after two attempts of a step,
# one after two attempts of an HTTP request, one times out
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', qq{
SELECT durable_start('wf_ok', '{}', 'ok-' || i) FROM generate_series(1, 3) i;
SELECT durable_start('wf_fail', '{}', 't-fail');
SELECT durable_start('wf_http', '{"url": "$url/status/503"}', 't-http');
SELECT durable_start('wf_slow', '{}', 't-slow', options => '{"execution_timeout": "1 second"}');
});
ok(finished([qw(ok-1 ok-2 ok-3 t-fail t-http t-slow)]), 'the six executions finished');
is($node->safe_psql('postgres',
	"SELECT string_agg(name || ' ' || status, ', ' ORDER BY name) FROM durable.executions"),
	'ok-1 SUCCEEDED, ok-2 SUCCEEDED, ok-3 SUCCEEDED, t-fail FAILED, t-http FAILED, t-slow TIMED_OUT',
	'statuses');
is(scalar(@{ $mock->requests('/status/503') }), 2, 'the mock saw the two attempts');

# --- the log lines, written when the deciding transaction commits
my $fail_id = $node->safe_psql('postgres',
	"SELECT id FROM durable.executions WHERE name = 't-fail'");
my $slow_id = $node->safe_psql('postgres',
	"SELECT id FROM durable.executions WHERE name = 't-slow'");
ok($node->wait_for_log(
	qr/LOG:  durable execution \Q$fail_id\E \("t-fail"\) of workflow public\.wf_fail failed: step "boom" failed: division by zero \(SQLSTATE WF001\)/,
	$log_offset), 'a LOG line for the failed execution: id, name, workflow, error');
ok($node->wait_for_log(
	qr/LOG:  durable execution \Q$fail_id\E \("t-fail"\) of workflow public\.wf_fail: operation "boom" gave up after 2 attempts: division by zero \(SQLSTATE 22012\)/,
	$log_offset), 'a LOG line for the step out of attempts, with its own SQLSTATE');
my $http_id = $node->safe_psql('postgres',
	"SELECT id FROM durable.executions WHERE name = 't-http'");
ok($node->wait_for_log(
	qr/LOG:  durable execution \Q$http_id\E \("t-http"\) of workflow public\.wf_http: operation "call" gave up after 2 attempts: http request "call" failed: status 503 \(SQLSTATE WF015\)/,
	$log_offset), 'a LOG line for the HTTP request out of attempts');
ok($node->wait_for_log(
	qr/LOG:  durable execution \Q$http_id\E \("t-http"\) of workflow public\.wf_http failed: /,
	$log_offset), 'a LOG line for the execution it failed');
ok($node->wait_for_log(
	qr/LOG:  durable execution \Q$slow_id\E \("t-slow"\) of workflow public\.wf_slow timed out: execution timed out \(SQLSTATE WF009\)/,
	$log_offset), 'a LOG line for the timed-out execution');
my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/durable execution [^\n]*"ok-\d"/, 'no line for the executions that succeeded');
unlike($log, qr/WARNING:[^\n]*durable/, 'no WARNING about them');

# --- the statistics per workflow
my $stats_sql = "SELECT string_agg(concat_ws(' ', workflow, started, succeeded, failed, timed_out,
                   stopped, retries, steps, finished), ', ' ORDER BY workflow)
                   FROM durable.workflow_stats";
my $stats = $node->safe_psql('postgres', $stats_sql);
is($stats,
	'public.wf_fail 1 0 1 0 0 1 2 1, public.wf_http 1 0 1 0 0 1 0 1, '
	  . 'public.wf_ok 3 3 0 0 0 0 3 3, public.wf_slow 1 0 0 1 0 0 0 1',
	'durable.workflow_stats counts per workflow (HTTP requests through the HTTP worker are no steps)');
my ($p50, $p99, $max) = split /\|/, $node->safe_psql('postgres',
	"SELECT p50_ms, p99_ms, max_ms FROM durable.workflow_stats WHERE workflow = 'public.wf_ok'");
ok($p50 >= 20 && $p50 <= $p99 && $p99 <= $max,
	"wf_ok durations: 20 ms <= p50 ($p50) <= p99 ($p99) <= max ($max)");
my ($slow_p50) = $node->safe_psql('postgres',
	"SELECT p50_ms FROM durable.workflow_stats WHERE workflow = 'public.wf_slow'");
ok($slow_p50 >= 1000 && $slow_p50 < 60000, "wf_slow ran about its 1 s timeout ($slow_p50 ms)");

# --- the Prometheus exporter, as a member of durable_monitor
my ($exporter, $exporter_out);
END
{
	# stopped whatever happened to the test
	if ($exporter && $exporter->pumpable)
	{
		$exporter->signal('TERM');
		$exporter->finish;
	}
}

SKIP:
{
	skip "$exporter_bin is not installed", 16 unless -x $exporter_bin;

	# stop the worker: an execution stays ready, for the queue metrics
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET durable.max_workers = 0; SELECT pg_reload_conf()");
	ok($node->poll_query_until('postgres', 'SELECT workers = 0 FROM durable.stats'),
		'the worker stopped');
	$node->safe_psql('postgres', "SELECT durable_start('wf_ok', '{}', 'waiting')");

	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $dsn = sprintf('host=%s port=%d user=durable_prom dbname=postgres sslmode=disable',
		$node->host, $node->port);
	$exporter = IPC::Run::start(
		[
			$exporter_bin, "--web.listen-address=127.0.0.1:$port",
			"--extend.query-path=$queries", '--disable-default-metrics',
			'--disable-settings-metrics'
		],
		'<', \undef, '>&', \$exporter_out,
		init => sub { $ENV{DATA_SOURCE_NAME} = $dsn; });

	# scrape until the durable metrics are there, and the ready execution
	# has waited a second
	my $http = HTTP::Tiny->new(timeout => 10);
	my $metrics = '';
	my $deadline = time() + 60;
	while (time() < $deadline)
	{
		my $r = $http->get("http://127.0.0.1:$port/metrics");
		$metrics = $r->{success} ? $r->{content} : '';
		last if $metrics =~ /^durable_queue_oldest_ready_age_seconds(?:\{[^}]*\})? ([0-9.e+]+)$/m
		  && $1 >= 1;
		usleep(200_000);
	}
	$exporter->pump_nb;
	note("exporter output:\n" . ($exporter_out // ''));

	# the value of a metric whose labels include those given
	my $value = sub {
		my ($name, %labels) = @_;
		for my $line (split /\n/, $metrics)
		{
			next unless $line =~ /^\Q$name\E(?:\{([^}]*)\})? (\S+)$/;
			my ($l, $v) = ($1 // '', $2);
			next if grep { $l !~ /(?:^|,)\Q$_\E="\Q$labels{$_}\E"/ } keys %labels;
			return $v;
		}
		return undef;
	};
	is($value->('durable_stats_started'), 7, 'durable_stats_started');
	is($value->('durable_stats_failed'), 2, 'durable_stats_failed');
	is($value->('durable_stats_timed_out'), 1, 'durable_stats_timed_out');
	is($value->('durable_stats_retries'), 2, 'durable_stats_retries');
	is($value->('durable_workflow_succeeded', workflow => 'public.wf_ok'), 3,
		'durable_workflow_succeeded of wf_ok');
	is($value->('durable_workflow_started', workflow => 'public.wf_ok'), 4,
		'durable_workflow_started of wf_ok, with the waiting one');
	is($value->('durable_workflow_failed', workflow => 'public.wf_fail'), 1,
		'durable_workflow_failed of wf_fail');
	is($value->('durable_workflow_timed_out', workflow => 'public.wf_slow'), 1,
		'durable_workflow_timed_out of wf_slow');
	ok(($value->('durable_workflow_p99_ms', workflow => 'public.wf_ok') // 0) >= 20,
		'durable_workflow_p99_ms of wf_ok');
	is($value->('durable_executions_count', status => 'SUCCEEDED'), 3,
		'durable_executions_count of SUCCEEDED');
	is($value->('durable_executions_count', status => 'PENDING'), 1,
		'durable_executions_count of PENDING');
	is($value->('durable_executions_count', status => 'RUNNING'), 0,
		'durable_executions_count of RUNNING, a status with none');
	is($value->('durable_queue_ready'), 1, 'durable_queue_ready');
	ok(($value->('durable_queue_oldest_ready_age_seconds') // 0) >= 1,
		'durable_queue_oldest_ready_age_seconds');

	$exporter->signal('TERM');
	$exporter->finish;
	$exporter = undef;

	$node->safe_psql('postgres',
		"ALTER SYSTEM RESET durable.max_workers; SELECT pg_reload_conf()");
	ok(finished(['waiting']), 'the worker is back and drove the waiting one');
}

# --- a clean restart keeps the statistics, and durable.log_failures = off
$stats = $node->safe_psql('postgres', $stats_sql);
my $counters_sql = 'SELECT concat_ws(\' \', started, succeeded, failed, timed_out, steps, retries)
                      FROM durable.stats';
my $counters = $node->safe_psql('postgres', $counters_sql);
$node->append_conf('postgresql.conf', "durable.log_failures = off\n");
$node->stop('fast');
$node->start;
is($node->safe_psql('postgres', $stats_sql), $stats,
	'durable.workflow_stats survived a clean restart');
is($node->safe_psql('postgres', $counters_sql), $counters,
	'the counters of durable.stats survived a clean restart');
ok(!-e $node->data_dir . '/pg_stat/durable.stat', 'the file was read and removed');

$log_offset = -s $node->logfile;
$node->safe_psql('postgres', "SELECT durable_start('wf_fail', '{}', 't-quiet')");
ok(finished(['t-quiet']), 't-quiet failed');
# one worker: once a later execution has finished, t-quiet's commit is done
$node->safe_psql('postgres', "SELECT durable_start('wf_ok', '{}', 'after-quiet')");
ok(finished(['after-quiet']), 'a later execution finished');
$log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/durable execution [^\n]*"t-quiet"/, 'no log line with durable.log_failures = off');
like($node->safe_psql('postgres',
	"SELECT concat_ws(' ', started, failed) FROM durable.workflow_stats WHERE workflow = 'public.wf_fail'"),
	qr/^2 2$/, 'counting went on after the restart');

# --- an immediate stop (a crash) starts the statistics from zero
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', 'SELECT count(*) FROM durable.workflow_stats'), '0',
	'no durable.workflow_stats after an immediate stop');
is($node->safe_psql('postgres', 'SELECT started FROM durable.stats'), '0',
	'durable.stats from zero after an immediate stop');

$node->stop;
$mock->stop;
done_testing();

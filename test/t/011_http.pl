# durable_http through the workers and the "durable http" worker, against
# the mock HTTP server (test/perl/DurableMock.pm): many slow requests are in
# flight at once and an execution of plain steps does not wait behind them;
# a 429 with Retry-After is retried after the delay it asks for, each
# attempt with the same Idempotency-Key; kill -9 of the http worker with
# requests in flight loses none of them; with semantics at_most_once such a
# crash fails the operation with WF017 and the request is not sent again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use DurableMock;

my $mock = DurableMock->new(name => 'mock_011');
my $url  = $mock->url;

my $node = PostgreSQL::Test::Cluster->new('http');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
durable.http_allow_addresses = '127.0.0.1'
# every request here is one role's: no quota per role (015_poison tests it)
durable.http_max_in_flight_per_role = 0
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
-- one GET of input.url with input.options
CREATE FUNCTION wf_get(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_http('get', jsonb_build_object('url', input->>'url'),
                      coalesce(input->'options', '{}'));
END $$;
CREATE FUNCTION wf3(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb; b jsonb; c jsonb;
BEGIN
  a := durable_step('a', 'SELECT 1');
  b := durable_step('b', 'SELECT 2');
  c := durable_step('c', 'SELECT 3');
  RETURN jsonb_build_array(a, b, c);
END $$;
});

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable http'"),
	'the durable http worker is running');

# starts n executions of wf_get named "<prefix>-<i>", GET <path>?k=<prefix>-<i>
sub start_gets
{
	my ($prefix, $n, $path, $options) = @_;
	$options //= '{}';
	$node->safe_psql('postgres', qq{
SELECT count(durable_start('wf_get',
         jsonb_build_object('url', '$url$path?k=$prefix-' || g, 'options', '$options'::jsonb),
         name => '$prefix-' || g))
  FROM generate_series(1, $n) g});
}

# the pid of the durable http worker, after it is up
sub http_worker_pid
{
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable http'")
	  or die "no durable http worker";
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'durable http'");
}

# --- (a) 200 slow requests at once; plain steps do not wait behind them ----
start_gets('slow', 200, '/delay/500');
$node->safe_psql('postgres', "SELECT durable_start('wf3', '{}', name => 'steps')");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 200 FROM durable.executions WHERE name LIKE 'slow-%' AND status = 'SUCCEEDED'"),
	'200 executions with a 500 ms request each finished');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM durable.executions
	 WHERE name LIKE 'slow-%' AND result->'status' = '200' AND result->'body' = '{"delayed_ms": 500}'}),
	'200', 'each got its answer');
my $span = $node->safe_psql('postgres', q{
	SELECT extract(epoch FROM max(finished_at) - min(created_at))
	  FROM durable.executions WHERE name LIKE 'slow-%'});
ok($span < 20, "they ran concurrently: all done in $span s, 200 x 0.5 s one at a time would be 100 s");
is(scalar(@{ $mock->requests('/delay/500') }), 200, 'the mock saw one request per execution');
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable_status('steps')"),
	'the execution of plain steps finished');
my $before = $node->safe_psql('postgres', q{
	SELECT count(*) FROM durable.executions s, durable.executions h
	 WHERE s.name = 'steps' AND h.name LIKE 'slow-%' AND h.finished_at > s.finished_at});
ok($before == 200,
	"the plain steps, started after them, finished before the HTTP executions ($before of 200 finished later)");

# --- (b) 429, 429, 200 with Retry-After: 1 ------------------------------------
$mock->reset;
my $rid = $node->safe_psql('postgres', qq{
SELECT durable_start('wf_get',
         jsonb_build_object('url', '$url/seq/retry/429,429,200?retry_after=1',
                            'options', '{"initial_delay": "10 ms"}'::jsonb),
         name => 'retry')});
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable_status('retry')"),
	'the request retried on 429 succeeded');
is($node->safe_psql('postgres', q{
	SELECT (result->>'status') || ' ' || (result->'body'->>'n')
	  FROM durable.executions WHERE name = 'retry'}),
	'200 3', 'the result is the third answer');
is($node->safe_psql('postgres', q{
	SELECT o.attempt FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id
	 WHERE e.name = 'retry' AND o.kind = 'http'}),
	'3', 'the operation succeeded on attempt 3');
my $seen = $mock->requests('/seq/retry/');
is(scalar(@$seen), 3, 'the mock saw 3 requests');
is_deeply([ map { $_->{headers}{'idempotency-key'} // '(none)' } @$seen ],
	[ ("$rid:1") x 3 ], 'each carried the Idempotency-Key <execution id>:1');
my @gaps = map { $seen->[$_]{time} - $seen->[ $_ - 1 ]{time} } 1 .. $#$seen;
ok(@gaps == 2 && $gaps[0] >= 0.95 && $gaps[1] >= 0.95,
	"Retry-After: 1 was honoured over a 10 ms backoff (gaps @{[ map { sprintf '%.3f s', $_ } @gaps ]})");

# --- (c) kill -9 of the http worker with 100 requests in flight --------------
$mock->reset;
start_gets('crash', 100, '/delay/3000');
ok($mock->wait_requests('/delay/3000', 100), '100 requests are in flight');
my $pid = http_worker_pid();
is($node->safe_psql('postgres',
	"SELECT count(*) FROM durable.http_requests WHERE taken_at IS NOT NULL"),
	'100', 'the http worker holds 100 taken requests');
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 100 FROM durable.executions WHERE name LIKE 'crash-%' AND status = 'SUCCEEDED'"),
	'after the crash every execution finished');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM durable.executions
	 WHERE name LIKE 'crash-%' AND result->'status' = '200' AND result->'body' = '{"delayed_ms": 3000}'}),
	'100', 'each got its answer');
my %per_key;
$per_key{ $_->{args}{k} // '' }++ for @{ $mock->requests('/delay/3000') };
is(scalar(grep { ($per_key{"crash-$_"} // 0) >= 1 } 1 .. 100), 100,
	'the mock saw every request at least once ('
	  . scalar(grep { ($per_key{"crash-$_"} // 0) >= 2 } 1 .. 100)
	  . ' sent again after the crash)');
isnt(http_worker_pid(), $pid, 'a new http worker runs');
is($node->safe_psql('postgres', "SELECT count(*) FROM durable.http_requests"),
	'0', 'no request is left in durable.http_requests');

# --- (d) at_most_once: a crash in flight makes the outcome unknown -----------
$mock->reset;
start_gets('amo', 1, '/delay/3000', '{"semantics": "at_most_once"}');
ok($mock->wait_requests('/delay/3000', 1), 'the at_most_once request is in flight');
$pid = http_worker_pid();
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
	"SELECT status = 'FAILED' FROM durable_status('amo-1')"),
	'the at_most_once execution failed after the crash');
is($node->safe_psql('postgres',
	"SELECT error->>'sqlstate' FROM durable.executions WHERE name = 'amo-1'"),
	'WF017', 'with WF017, outcome unknown');
is($node->safe_psql('postgres', q{
	SELECT o.status || ' ' || (o.error->>'sqlstate')
	  FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id
	 WHERE e.name = 'amo-1' AND o.kind = 'http'}),
	'FAILED WF017', 'the operation failed with WF017');
# the http worker has restarted and taken up its requests again (a later
# one goes through); only then is "not sent again" meaningful
start_gets('after', 1, '/text');
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable_status('after-1')"),
	'a request after the crash goes through');
is(scalar(@{ $mock->requests('/delay/3000') }), 1,
	'the mock saw the at_most_once request exactly once');

my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING(?!:  terminating connection because of crash)/,
	'no unexpected warning in the server log');
unlike($log, qr/PANIC|TRAP:/, 'no PANIC or assertion failure');

$node->stop;
$mock->stop;
done_testing();

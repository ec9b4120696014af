# What a remote server, or one role's requests, may not do to the others
# (issue 13, the HTTP side), through the workers and the "durable http"
# worker against the mock HTTP server:
#  (a) hostile bodies (a number out of numeric's range, 200,000-deep
#      nesting, 200,000 digits, invalid UTF-8 called JSON, a 1 GB
#      Content-Length, an endless chunked body) sent to alice's executions
#      while 100 trivial executions of bob's run: bob's all finish, each of
#      alice's ends with a clear outcome, and the HTTP worker never restarts;
#  (b) a request row whose preparation raises an error is answered and
#      never taken again first: the requests after it are sent;
#  (c) with durable.http_max_in_flight 4 and a quota of 2 per role, alice's
#      requests to an endpoint that never answers hold only her 2 slots and
#      bob's request is sent; durable_stop of alice's executions ends the
#      transfers (the mock sees the connections go) and frees her slots;
#  (d) semantics at_most_once: a timeout is an unknown outcome (WF017) and
#      the mock gets exactly one POST;
#  (e) an operation whose request row cannot be prepared fails with WF015,
#      and the HTTP worker goes on.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use DurableMock;

my $mock = DurableMock->new(name => 'mock_015');
my $url  = $mock->url;

my $node = PostgreSQL::Test::Cluster->new('poison');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
durable.http_allow_addresses = '127.0.0.1'
durable.http_max_in_flight = 4
durable.http_max_in_flight_per_role = 2
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO alice, bob;
-- one request: input.url, input.request (more keys), input.options
CREATE FUNCTION app.wf_get(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_http('get', jsonb_build_object('url', input->>'url') || coalesce(input->'request', '{}'),
                      coalesce(input->'options', '{}'));
END $$;
CREATE FUNCTION app.wf_noop(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('s', 'SELECT 1');
END $$;
CREATE FUNCTION app.wf_wait(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('w', interval '1 hour');
  RETURN NULL;
END $$;
});

sub http_worker_pid
{
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable http'")
	  or die "no durable http worker";
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'durable http'");
}

sub stats
{
	my (undef, $s) = $mock->request('GET', '/_stats');
	return $s;
}

# polls the mock until $check->(stats) holds, up to $timeout seconds
sub wait_stats
{
	my ($check, $timeout) = @_;
	my $deadline = time() + ($timeout // 120);
	while (time() < $deadline)
	{
		return 1 if $check->(stats());
		Time::HiRes::usleep(100_000);
	}
	return 0;
}

my $pid = http_worker_pid();

# --- (a) hostile bodies while bob's executions run ---------------------------
my @poisons = qw(hugeexp deep digits badutf8 hugelength endless);
$node->safe_psql('postgres', "SET ROLE alice; "
	  . join(' ', map { "SELECT durable_start('app.wf_get', jsonb_build_object('url', '$url/poison/$_', 'options', '{\"max_attempts\": 1}'::jsonb), name => 'poison-$_');" } @poisons));
my $t0 = time();
$node->safe_psql('postgres', q{
SET ROLE bob;
SELECT count(durable_start('app.wf_noop', '{}', name => 'bob-' || g)) FROM generate_series(1, 100) g});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 100 FROM durable.executions WHERE name LIKE 'bob-%' AND status = 'SUCCEEDED'"),
	"bob's 100 executions finished");
my $bob_s = time() - $t0;
ok($bob_s < 60, sprintf("... within %.1f s", $bob_s));
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 6 FROM durable.executions WHERE name LIKE 'poison-%' AND status IN ('SUCCEEDED', 'FAILED')"),
	"each of alice's poisoned executions ended");
my %outcome = map { split /\|/, $_, 2 } split /\n/, $node->safe_psql('postgres', q{
	SELECT substr(name, 8) || '|' || status || ' ' || coalesce(error->>'sqlstate', '')
	       || ' ' || coalesce(jsonb_typeof(result->'body'), '') || ' ' || coalesce(result->>'base64', '')
	       || ' ' || coalesce(left(result->>'json_error', 30), '')
	  FROM durable.executions WHERE name LIKE 'poison-%'});
is($outcome{hugeexp}, 'SUCCEEDED  string  value overflows numeric format',
	'1e1000000000: the body as a string, json_error says why');
is($outcome{deep}, 'SUCCEEDED  string  stack depth limit exceeded',
	'200,000-deep nesting: the body as a string');
is($outcome{digits}, 'SUCCEEDED  string  value overflows numeric format',
	'200,000 digits: the body as a string');
is($outcome{badutf8}, 'SUCCEEDED  string true ', 'invalid UTF-8: base64');
is($outcome{hugelength}, 'FAILED WF009   ', 'a 1 GB Content-Length: WF009 at once');
is($outcome{endless}, 'FAILED WF009   ', 'an endless body: WF009 at durable.http_max_response_size');
is(http_worker_pid(), $pid, 'the HTTP worker never restarted');

# --- (b) a request row whose preparation raises ------------------------------
$node->safe_psql('postgres', q{
SET ROLE alice;
SELECT durable_start('app.wf_wait', '{}', name => 'alice-waits')});
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUSPENDED' FROM durable_status('alice-waits')"), 'alice-waits is suspended');
# a row no durable_http call would write: an unknown method fails the
# preparation (an error, not a refusal)
$node->safe_psql('postgres', q{
INSERT INTO durable.http_requests (execution_id, run_no, op_id, attempt, owner, request, options,
                                   idempotency_key, at_most_once, created_at)
SELECT id, run_no, 999, 1, owner, '{"url": "http://127.0.0.1:1/poison-row", "method": "FETCH"}',
       '{}', 'poison-row', false, now()
  FROM durable.executions WHERE name = 'alice-waits'});
$node->safe_psql('postgres', qq{
SET ROLE bob;
SELECT count(durable_start('app.wf_get', jsonb_build_object('url', '$url/text?after-poison=' || g),
                           name => 'bob-after-poison-' || g))
  FROM generate_series(1, 3) g});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 3 FROM durable.executions WHERE name LIKE 'bob-after-poison-%' AND status = 'SUCCEEDED'"),
	'the requests after the poison row were sent and answered');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM durable.http_requests WHERE idempotency_key = 'poison-row'"),
	'the poison row was answered and is gone');
is($node->safe_psql('postgres', "SELECT status FROM durable_status('alice-waits')"),
	'SUSPENDED', 'the answer to an operation it does not have changed nothing for alice-waits');
is(http_worker_pid(), $pid, 'the HTTP worker never restarted');

# --- (c) quotas per role; durable_stop ends the transfers --------------------
$mock->reset;
$node->safe_psql('postgres', qq{
SET ROLE alice;
SELECT count(durable_start('app.wf_get', jsonb_build_object('url', '$url/delay/600000?k=' || g,
                                                           'request', '{"timeout": "4 minutes"}'::jsonb),
                           name => 'alice-hang-' || g))
  FROM generate_series(1, 4) g});
ok(wait_stats(sub { $_[0]{in_progress} == 2 }), "two of alice's requests are in flight");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 4 FROM durable.http_requests WHERE request->>'url' LIKE '%/delay/600000%'"),
	"alice has four requests");
$node->safe_psql('postgres', qq{
SET ROLE bob;
SELECT durable_start('app.wf_get', jsonb_build_object('url', '$url/text?bob=1'), name => 'bob-beside')});
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable_status('bob-beside')"),
	"bob's request was sent while alice's wait");
is($node->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE taken_at IS NOT NULL) || ' ' || count(*) FILTER (WHERE taken_at IS NULL)
	   FROM durable.http_requests WHERE request->>'url' LIKE '%/delay/600000%'"),
	'2 2', 'alice has no more than her quota of 2 in flight; 2 wait');
is(scalar(@{ $mock->requests('/delay/600000') }), 2, 'the mock got 2 of them');

my $t1 = time();
$node->safe_psql('postgres', q{
SET ROLE alice;
SELECT count(durable_stop('alice-hang-' || g)) FROM generate_series(1, 4) g});
ok(wait_stats(sub { $_[0]{in_progress} == 0 && $_[0]{closed_early} == 2 }),
	'after durable_stop the mock saw the 2 connections closed before their answers');
my $stop_s = time() - $t1;
ok($stop_s < 30, sprintf("... %.1f s after the stop", $stop_s));
$node->safe_psql('postgres', qq{
SET ROLE alice;
SELECT count(durable_start('app.wf_get', jsonb_build_object('url', '$url/text?alice-again=' || g),
                           name => 'alice-again-' || g))
  FROM generate_series(1, 2) g});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM durable.executions WHERE name LIKE 'alice-again-%' AND status = 'SUCCEEDED'"),
	"alice's slots are free again: her next 2 requests went through");
is(scalar(@{ $mock->requests('/delay/600000') }), 2,
	'the 2 stopped requests that were waiting were never sent');
is($node->safe_psql('postgres', "SELECT count(*) FROM durable.http_requests"),
	'0', 'no request row is left');

# --- (d) at_most_once: a timeout is not sent again ----------------------------
$mock->reset;
$node->safe_psql('postgres', qq{
SET ROLE alice;
SELECT durable_start('app.wf_get',
  jsonb_build_object('url', '$url/delay/3000?charge=100',
                     'request', '{"method": "POST", "body": "charge 100 EUR", "timeout": "500 ms"}'::jsonb,
                     'options', '{"semantics": "at_most_once", "max_attempts": 3, "initial_delay": "0 s", "max_delay": "0 s"}'::jsonb),
  name => 'alice-charge')});
ok($node->poll_query_until('postgres',
	"SELECT status = 'FAILED' FROM durable_status('alice-charge')"),
	'the at_most_once request that timed out failed');
is($node->safe_psql('postgres',
	"SELECT error->>'sqlstate' || ' ' || (SELECT max(attempt) FROM durable_operations('alice-charge'))
	   FROM durable_status('alice-charge')"),
	'WF017 1', 'with WF017 after one attempt');
# the timeout is 500 ms; the mock would have got a retry by now
ok(wait_stats(sub { $_[0]{in_progress} == 0 }), 'the mock is done with it');
is(scalar(grep { $_->{method} eq 'POST' } @{ $mock->requests('/delay/3000') }), 1,
	'the mock got exactly one POST');

# --- (e) a real operation whose request row cannot be prepared --------------
# alice's quota is full of requests that do not answer, so her next request
# waits untaken; its row is then spoiled, and a stop lets the take meet it
$mock->reset;
$node->safe_psql('postgres', qq{
SET ROLE alice;
SELECT count(durable_start('app.wf_get', jsonb_build_object('url', '$url/delay/600000?hold=' || g,
                                                           'request', '{"timeout": "4 minutes"}'::jsonb),
                           name => 'alice-hold-' || g))
  FROM generate_series(1, 2) g});
ok(wait_stats(sub { $_[0]{in_progress} == 2 }), "alice's quota is full");
$node->safe_psql('postgres', qq{
SET ROLE alice;
SELECT durable_start('app.wf_get', jsonb_build_object('url', '$url/text?spoiled=1'), name => 'alice-spoiled')});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM durable.http_requests r JOIN durable.executions e ON e.id = r.execution_id
	 WHERE e.name = 'alice-spoiled' AND r.taken_at IS NULL}),
	"alice-spoiled's request waits for a slot");
$node->safe_psql('postgres', q{
UPDATE durable.http_requests r SET request = r.request || '{"method": "FETCH"}'
  FROM durable.executions e WHERE e.id = r.execution_id AND e.name = 'alice-spoiled'});
$node->safe_psql('postgres', "SET ROLE alice; SELECT durable_stop('alice-hold-1')");
ok($node->poll_query_until('postgres',
	"SELECT status = 'FAILED' FROM durable_status('alice-spoiled')"),
	'the operation whose request could not be prepared failed');
like($node->safe_psql('postgres',
	"SELECT error->>'sqlstate' || ' ' || (error->>'message') FROM durable_status('alice-spoiled')"),
	qr/^WF015 http request "get" failed: the request could not be prepared: /,
	'with WF015 and a clear message');
$node->safe_psql('postgres', "SET ROLE alice; SELECT durable_stop('alice-hold-2')");
ok(wait_stats(sub { $_[0]{in_progress} == 0 }), "alice's last transfer ended with its stop");
is(scalar(@{ $mock->requests('/text') }), 0, 'the spoiled request was never sent');
is(http_worker_pid(), $pid, 'the HTTP worker never restarted');

my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING/, 'no warning in the server log');
unlike($log, qr/PANIC|TRAP:|stack depth limit exceeded/, 'no PANIC, no error left in the log');

$node->stop;
$mock->stop;
done_testing();

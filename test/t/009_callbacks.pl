# Callbacks and events with the background workers: many completions from
# concurrent clients each resume their own execution; concurrent
# completions of one callback have exactly one winner; heartbeats keep a
# callback alive and their absence times it out (WF004), as a timeout does
# (WF003), both on time, and a late completion changes nothing; a failure
# raises WF002; no pending callback or committed completion is lost across
# kill -9 of a worker; events wake a waiting execution, and events sent
# before the wait are kept, first in first out; a completion or event that
# commits while a worker drives the execution is not lost.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('callbacks');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
restart_after_crash = on
max_connections = 80
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
-- the submitters' outbox: one row per callback id handed out
CREATE TABLE cb_queue (callback_id text, args jsonb);
-- one row per run of the step after the wait
CREATE TABLE effects (k text);
CREATE FUNCTION wf_cb(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_wait_for_callback('approval',
         'INSERT INTO cb_queue (callback_id, args) VALUES ($1, $2)', input,
         timeout => (input->>'timeout')::interval,
         heartbeat_timeout => (input->>'heartbeat_timeout')::interval);
  PERFORM durable_step('after', 'INSERT INTO effects VALUES ($1->>''k'') RETURNING 1', input);
  RETURN r;
END $$;
-- the same, catching the timeouts
CREATE FUNCTION wf_catch(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  BEGIN
    r := durable_wait_for_callback('approval',
           'INSERT INTO cb_queue (callback_id, args) VALUES ($1, $2)', input,
           timeout => (input->>'timeout')::interval,
           heartbeat_timeout => (input->>'heartbeat_timeout')::interval);
  EXCEPTION
    WHEN SQLSTATE 'WF003' THEN
      RETURN jsonb_build_object('timed_out', true);
    WHEN SQLSTATE 'WF004' THEN
      RETURN jsonb_build_object('heartbeat_timed_out', true);
  END;
  PERFORM durable_step('after', 'INSERT INTO effects VALUES ($1->>''k'') RETURNING 1', input);
  RETURN r;
END $$;
CREATE FUNCTION wf_event(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_event('wait-go', 'go');
END $$;
-- hands out a callback id, then runs a step that blocks on an advisory
-- lock the test holds, then waits for the callback and an event
CREATE FUNCTION wf_busy(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE id text; a jsonb; b jsonb;
BEGIN
  id := durable_create_callback('split');
  PERFORM durable_step('hand-out',
    'INSERT INTO cb_queue (callback_id, args) SELECT $1->>''id'', $1->''input'' RETURNING 1',
    jsonb_build_object('id', id, 'input', input));
  PERFORM durable_step('block', 'SELECT 1 FROM pg_advisory_xact_lock_shared(77)');
  a := durable_await_callback('split', id);
  b := durable_wait_for_event('ping', 'ping');
  RETURN jsonb_build_array(a, b);
END $$;
-- waits on a gate callback first, then takes two events of one name
CREATE FUNCTION wf_two_events(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE a jsonb; b jsonb;
BEGIN
  PERFORM durable_wait_for_callback('gate',
    'INSERT INTO cb_queue (callback_id, args) VALUES ($1, $2)', input);
  a := durable_wait_for_event('first', 'item');
  b := durable_wait_for_event('second', 'item');
  RETURN jsonb_build_array(a, b);
END $$;
});

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'two durable workers are running');

# the callback id an execution's submitter handed out
sub callback_id
{
	my ($k) = @_;
	return $node->safe_psql('postgres',
		"SELECT callback_id FROM cb_queue WHERE args->>'k' = '$k'");
}

my $scripts_dir = PostgreSQL::Test::Utils::tempdir;
my $script_no = 0;

# Start psql scripts at once, one connection each, without waiting for
# them; errors are printed with their SQLSTATE, and stop a script.

sub start_scripts
{
	my @runs;
	foreach my $script (@_)
	{
		my $file = "$scripts_dir/" . $script_no++;
		append_to_file("$file.sql", "\\set VERBOSITY verbose\n$script");
		# files, not scalars: IPC::Run feeds a scalar only while pumped
		my $run = { file => $file };
		$run->{h} = IPC::Run::start(
			[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') ],
			'<', "$file.sql", '>', "$file.out", '2>', "$file.err",
			IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
		push @runs, $run;
	}
	return @runs;
}

# Wait for them; each run gets its exit code, stdout and stderr.
sub finish_scripts
{
	foreach my $run (@_)
	{
		$run->{h}->finish;
		$run->{rc} = ($run->{h}->results)[0];
		$run->{out} = slurp_file("$run->{file}.out");
		$run->{err} = slurp_file("$run->{file}.err");
	}
	return @_;
}

# psql's error of a failed statement: "<sqlstate> <message>"
sub sql_error
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	return 'no error' if $rc == 0;
	return $err =~ /ERROR:\s+(\w{5}):\s+(.*)/ ? "$1 $2" : $err;
}

# --- 1. 200 callbacks completed from 8 concurrent connections ---------------
$node->safe_psql('postgres',
	"SELECT count(durable_start('wf_cb', jsonb_build_object('k', 'many-' || g), name => 'many-' || g)) FROM generate_series(1, 200) g");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 200 FROM cb_queue WHERE args->>'k' LIKE 'many-%'"),
	'the 200 submitters handed out their callback ids');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 200 FROM durable.executions WHERE name LIKE 'many-%' AND status = 'SUSPENDED'"),
	'the 200 executions are suspended on their callbacks');
is($node->safe_psql('postgres',
	"SELECT count(DISTINCT callback_id) FROM cb_queue WHERE callback_id ~ '^cb_[0-9a-f]{32}\$'"),
	'200', 'the 200 ids are distinct and look like cb_ + 32 hex digits');
is($node->safe_psql('postgres', 'SELECT count(*) FROM effects'), '0',
	'no execution went past its wait');

my @rows = split /\n/, $node->safe_psql('postgres',
	"SELECT callback_id, args->>'k' FROM cb_queue WHERE args->>'k' LIKE 'many-%' ORDER BY random()");
my @scripts = ('') x 8;
my $i = 0;
foreach my $row (@rows)
{
	my ($cb, $k) = split /\|/, $row;
	$scripts[ $i++ % 8 ] .= "SELECT durable_callback_success('$cb', '{\"for\": \"$k\"}');\n";
}
my @runs = finish_scripts(start_scripts(@scripts));
is(join(',', map { $_->{rc} } @runs), '0,0,0,0,0,0,0,0',
	'the 8 sessions completed their 25 callbacks each without an error')
  or diag(join("\n", map { $_->{err} } @runs));
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 200 FROM durable.executions WHERE name LIKE 'many-%' AND status = 'SUCCEEDED'"),
	'the 200 executions resumed and SUCCEEDED');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM durable.executions WHERE name LIKE 'many-%' AND result = jsonb_build_object('for', name)"),
	'200', 'each returned the result its own callback was completed with');
is($node->safe_psql('postgres',
	"SELECT count(*) || '/' || count(DISTINCT k) FROM effects WHERE k LIKE 'many-%'"),
	'200/200', 'the step after the wait ran once in each');
is($node->safe_psql('postgres', q{
	SELECT count(*) || '/' || count(DISTINCT h.execution_id)
	  FROM durable.history h JOIN durable.executions e ON e.id = h.execution_id
	 WHERE e.name LIKE 'many-%' AND h.event = 'resumed'}),
	'200/200', 'each was resumed once');

# the callbacks are completed: completing one again is an error
my $cb = callback_id('many-1');
like(sql_error("SELECT durable_callback_success('$cb', '{\"again\": true}')"),
	qr/^55000 /, 'completing a completed callback again fails with 55000');
like(sql_error("SELECT durable_callback_failure('$cb', '{\"again\": true}')"),
	qr/^55000 /, 'and so does failing it');
like(sql_error("SELECT durable_callback_success('cb_0123456789abcdef0123456789abcdef')"),
	qr/^42704 /, 'an unknown id fails with 42704');
like(sql_error("SELECT durable_callback_success('not-an-id')"),
	qr/^22023 /, 'a malformed id fails with 22023');
is($node->safe_psql('postgres', "SELECT result FROM durable.executions WHERE name = 'many-1'"),
	'{"for": "many-1"}', 'none of that changed the result');

# --- 2. 50 concurrent completions of one callback ----------------------------
$node->safe_psql('postgres', q{SELECT durable_start('wf_cb', '{"k": "race"}', name => 'race')});
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUSPENDED' FROM durable.executions WHERE name = 'race'"),
	'the race execution is suspended on its callback');
$cb = callback_id('race');

# a barrier: the 50 sessions queue on an advisory lock the test holds, and
# all get it at once when the test lets go
my $barrier = $node->background_psql('postgres');
$barrier->query_safe('SELECT pg_advisory_lock(4242)');
my @race_handles = start_scripts(map {
	"SELECT 'go' FROM pg_advisory_lock_shared(4242);\n"
	  . "SELECT durable_callback_success('$cb', '{\"winner\": $_}');\n"
} 1 .. 50);
$race_handles[ $_ - 1 ]{n} = $_ foreach 1 .. 50;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 50 FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted"),
	'50 sessions wait at the barrier');
$barrier->query_safe('SELECT pg_advisory_unlock(4242)');
$barrier->quit;
finish_scripts(@race_handles);
my @winners = grep { $_->{out} =~ /^go$/m && $_->{err} eq '' } @race_handles;
my @losers = grep { $_->{err} =~ /ERROR/ } @race_handles;
is(scalar(@winners), 1, 'exactly one of 50 concurrent completions succeeded')
  or diag(join("\n", map { "$_->{n}: $_->{err}" } @race_handles));
is(scalar(grep { $_->{err} =~ /ERROR:\s+55000:\s+.*already/ } @losers), 49,
	'the 49 others failed with 55000, saying it was already completed')
  or diag(join("\n", map { "$_->{n}: $_->{err}" } @losers));
my $winner = @winners ? $winners[0]{n} : 0;
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'race'"),
	'the race execution SUCCEEDED');
is($node->safe_psql('postgres', "SELECT result FROM durable.executions WHERE name = 'race'"),
	"{\"winner\": $winner}", "it returned the winner's result");
is($node->safe_psql('postgres', "SELECT count(*) FROM effects WHERE k = 'race'"),
	'1', 'the step after the wait ran once');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM durable.history h JOIN durable.executions e ON e.id = h.execution_id
	 WHERE e.name = 'race' AND h.event = 'resumed'}),
	'1', 'the workflow was resumed once');
is($node->safe_psql('postgres',
	"SELECT c.status || ' ' || c.result::text FROM durable.callbacks c JOIN durable.executions e ON e.id = c.execution_id WHERE e.name = 'race'"),
	"SUCCEEDED {\"winner\": $winner}", "the callback holds the winner's result");

# --- 3, 4. heartbeats and timeouts -------------------------------------------
# All at once: one callback kept alive by heartbeats past its 2-second
# heartbeat timeout, two without heartbeats (one caught, one not), one with
# a 1-second timeout.
$node->safe_psql('postgres', q{
SELECT durable_start('wf_catch', '{"k": "hb-alive", "heartbeat_timeout": "2 seconds"}', name => 'hb-alive');
SELECT durable_start('wf_catch', '{"k": "hb-dead", "heartbeat_timeout": "2 seconds"}', name => 'hb-dead');
SELECT durable_start('wf_cb', '{"k": "hb-uncaught", "heartbeat_timeout": "2 seconds"}', name => 'hb-uncaught');
SELECT durable_start('wf_catch', '{"k": "timeout", "timeout": "1 second"}', name => 'timeout');
SELECT durable_start('wf_cb', '{"k": "rejected"}', name => 'rejected');
});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 5 FROM cb_queue WHERE args->>'k' IN ('hb-alive', 'hb-dead', 'hb-uncaught', 'timeout', 'rejected')"),
	'the five callbacks were handed out');
my $cb_alive = callback_id('hb-alive');
my $cb_dead = callback_id('hb-dead');
my $cb_timeout = callback_id('timeout');

my $hb = $node->background_psql('postgres', on_error_stop => 0);
my $t0 = time;
my $beats = 0;
my $beat_errors = '';
# at least 8 beats and at least 5 seconds: on a loaded machine a beat can
# take longer than its pace, and fewer would fit in a fixed 5 seconds
while (time - $t0 < 5 || $beats < 8)
{
	# the heartbeat's pace is what is tested here: sleep between beats
	usleep(500_000);
	my ($out, $ret) = $hb->query("SELECT durable_callback_heartbeat('$cb_alive')");
	if ($ret)
	{
		$beat_errors .= $hb->{stderr};
		$hb->{stderr} = '';    # BackgroundPsql keeps it otherwise
		last;
	}
	else
	{
		$beats++;
	}
}
$hb->quit;
ok($beats >= 8 && $beat_errors eq '', "$beats heartbeats over " . (time - $t0) . " seconds succeeded")
  or diag($beat_errors);
is($node->safe_psql('postgres',
	"SELECT status FROM durable.executions WHERE name = 'hb-alive'"),
	'SUSPENDED', 'the callback kept alive by heartbeats still waits, past its heartbeat timeout');
$node->safe_psql('postgres', "SELECT durable_callback_success('$cb_alive', '{\"alive\": true}')");
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'hb-alive'"),
	'completed after the heartbeats, it SUCCEEDED');
is($node->safe_psql('postgres', "SELECT result FROM durable.executions WHERE name = 'hb-alive'"),
	'{"alive": true}', 'with the result it was given');

ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'hb-dead'"),
	'the callback without heartbeats ended the wait');
is($node->safe_psql('postgres', "SELECT result FROM durable.executions WHERE name = 'hb-dead'"),
	'{"heartbeat_timed_out": true}', 'the workflow caught WF004');
ok($node->poll_query_until('postgres',
	"SELECT status = 'FAILED' FROM durable.executions WHERE name = 'hb-uncaught'"),
	'uncaught, the missed heartbeat FAILED the execution');
is($node->safe_psql('postgres', "SELECT error->>'sqlstate' FROM durable.executions WHERE name = 'hb-uncaught'"),
	'WF004', 'with error WF004');

ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'timeout'"),
	'the callback with a 1-second timeout ended the wait');
is($node->safe_psql('postgres', "SELECT result FROM durable.executions WHERE name = 'timeout'"),
	'{"timed_out": true}', 'the workflow caught WF003');
# a worker enforces the deadlines: on time, give or take a busy machine
my $lived = $node->safe_psql('postgres', q{
	SELECT string_agg(e.name || ' ' || c.status || ' '
	         || round(extract(epoch FROM c.completed_at - c.created_at), 2), ', ' ORDER BY e.name)
	  FROM durable.callbacks c JOIN durable.executions e ON e.id = c.execution_id
	 WHERE e.name IN ('hb-dead', 'hb-uncaught', 'timeout')});
my @lived = $lived =~ /^hb-dead TIMED_OUT ([\d.]+), hb-uncaught TIMED_OUT ([\d.]+), timeout TIMED_OUT ([\d.]+)$/;
ok(@lived == 3 && $lived[0] >= 2 && $lived[1] >= 2 && $lived[2] >= 1,
	"the three callbacks TIMED_OUT, none before its deadline ($lived)");
ok(@lived == 3 && $lived[0] < 4 && $lived[1] < 4 && $lived[2] < 3,
	'and within two seconds after it');
like(sql_error("SELECT durable_callback_success('$cb_timeout', '{\"late\": true}')"),
	qr/^55000 /, 'completing the timed-out callback fails with 55000');
like(sql_error("SELECT durable_callback_heartbeat('$cb_timeout')"),
	qr/^55000 /, 'and so does a heartbeat');
like(sql_error("SELECT durable_callback_success('$cb_dead', '{\"late\": true}')"),
	qr/^55000 /, 'as does completing the callback that missed its heartbeat');
is($node->safe_psql('postgres', q{
	SELECT string_agg(e.status || ' ' || e.result::text || ' ' || c.status || ' ' || (c.result IS NULL), ', ' ORDER BY e.name)
	  FROM durable.callbacks c JOIN durable.executions e ON e.id = c.execution_id
	 WHERE e.name IN ('hb-dead', 'timeout')}),
	'SUCCEEDED {"heartbeat_timed_out": true} TIMED_OUT true, SUCCEEDED {"timed_out": true} TIMED_OUT true',
	'the late completions changed nothing');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM effects WHERE k IN ('hb-dead', 'hb-uncaught', 'timeout')"),
	'0', 'no timed-out wait went on to the step after it');

# a callback completed as failed raises WF002 in the workflow
$cb = callback_id('rejected');
$node->safe_psql('postgres', "SELECT durable_callback_failure('$cb', '{\"message\": \"not approved\"}')");
ok($node->poll_query_until('postgres',
	"SELECT status = 'FAILED' FROM durable.executions WHERE name = 'rejected'"),
	'a callback completed as failed FAILED its execution');
is($node->safe_psql('postgres',
	"SELECT error->>'sqlstate' || ' ' || (error->>'message') FROM durable.executions WHERE name = 'rejected'"),
	'WF002 callback "approval" failed: not approved', 'with WF002 and the message given');

# stopping an execution cancels its callback: a completion is then an error
$node->safe_psql('postgres', q{SELECT durable_start('wf_cb', '{"k": "stopped"}', name => 'stopped')});
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUSPENDED' FROM durable.executions WHERE name = 'stopped'"),
	'an execution waits on a callback');
$node->safe_psql('postgres', "SELECT durable_stop('stopped')");
$cb = callback_id('stopped');
like(sql_error("SELECT durable_callback_success('$cb', '{\"late\": true}')"),
	qr/^55000 /, 'once it is stopped, completing its callback fails with 55000');
is($node->safe_psql('postgres', q{
	SELECT e.status || ' ' || c.status FROM durable.callbacks c JOIN durable.executions e ON e.id = c.execution_id
	 WHERE e.name = 'stopped'}),
	'STOPPED CANCELLED', 'the execution is STOPPED and its callback CANCELLED');

# --- 5. kill -9 of a worker while 50 callbacks are pending -------------------
$node->safe_psql('postgres',
	"SELECT count(durable_start('wf_cb', jsonb_build_object('k', 'crash-' || g), name => 'crash-' || g)) FROM generate_series(1, 50) g");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 50 FROM durable.executions WHERE name LIKE 'crash-%' AND status = 'SUSPENDED'"),
	'50 executions wait on their callbacks');
my %crash_cb = map { split /\|/ } split /\n/, $node->safe_psql('postgres',
	"SELECT args->>'k', callback_id FROM cb_queue WHERE args->>'k' LIKE 'crash-%'");
is(scalar(keys %crash_cb), 50, 'and handed out 50 ids');

# the callbacks of crash-<from>..<to> still pending, as SQL statements that
# complete them, for \gexec
sub pending_completions
{
	my ($from, $to) = @_;
	return qq{SELECT format('SELECT durable_callback_success(%L, %L)', q.callback_id, jsonb_build_object('for', e.name))
	  FROM cb_queue q JOIN durable.executions e ON e.name = q.args->>'k'
	  JOIN durable.callbacks c ON c.execution_id = e.id
	 WHERE e.name IN (SELECT 'crash-' || g FROM generate_series($from, $to) g) AND c.status = 'PENDING'
	\\gexec};
}

# A session completes crash-1..30, one every 20 ms; kill -9 a worker once
# the workers are resuming the first ones, in the middle of the others.
my ($paced) = start_scripts(join('', map {
	"SELECT 'done-$_' FROM durable_callback_success('" . $crash_cb{"crash-$_"}
	  . "', '{\"for\": \"crash-$_\"}');\n"
	  . "SELECT FROM pg_sleep(0.02);\n"
} 1 .. 30));
ok($node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM effects WHERE k LIKE 'crash-%'"),
	'the workers resume the first completed executions');
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'durable worker' ORDER BY state = 'active' DESC LIMIT 1");
ok(kill('KILL', $pid), "kill -9 of worker $pid");
my $down = time + 30;
usleep(10_000) while time < $down && kill(0, $pid);
finish_scripts($paced);
my @done = $paced->{out} =~ /^done-(\d+)$/mg;
note(scalar(@done) . ' of 30 completions had committed when the worker died');

# As soon as the server takes connections again, maybe before the workers
# are back: no completion that committed is lost; complete the rest of
# crash-1..40.
my ($rc, $out, $err);
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
do
{
	usleep(20_000);
	($rc, $out, $err) = $node->psql('postgres', 'SELECT 1');
} while ($rc != 0 && time < $deadline);
is($rc, 0, 'the server takes connections again after the crash');
my $done_list = join(',', map { "'crash-$_'" } @done) || "''";
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM durable.callbacks c JOIN durable.executions e ON e.id = c.execution_id
	 WHERE e.name IN ($done_list) AND c.status <> 'SUCCEEDED'}),
	'0', 'every completion committed before the crash is kept');
($rc, $out, $err) = $node->psql('postgres', pending_completions(1, 40));
is($rc, 0, 'the other callbacks of crash-1..40 completed just after the restart') or diag($err);
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'two workers are back');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM durable.callbacks c JOIN durable.executions e ON e.id = c.execution_id WHERE e.name LIKE 'crash-%' AND c.status = 'PENDING'"),
	'10', 'the 10 callbacks not completed yet are still pending');
($rc, $out, $err) = $node->psql('postgres', pending_completions(41, 50));
is($rc, 0, 'the last 10 callbacks completed') or diag($err);
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 50 FROM durable.executions WHERE name LIKE 'crash-%' AND status = 'SUCCEEDED'"),
	'after the crash, all 50 executions SUCCEEDED');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM durable.executions WHERE name LIKE 'crash-%' AND result = jsonb_build_object('for', name)"),
	'50', 'each with the result of its own callback');
is($node->safe_psql('postgres',
	"SELECT count(*) || '/' || count(DISTINCT k) FROM effects WHERE k LIKE 'crash-%'"),
	'50/50', 'the step after the wait ran once in each');

# --- 6. events -----------------------------------------------------------------
$node->safe_psql('postgres', "SELECT durable_start('wf_event', '{}', name => 'ev')");
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUSPENDED' FROM durable.executions WHERE name = 'ev'"),
	'an execution waits for event "go"');
is($node->safe_psql('postgres', q{
	SELECT o.kind || ' ' || o.status FROM durable.operations o JOIN durable.executions e ON e.id = o.execution_id
	 WHERE e.name = 'ev' AND o.name = 'wait-go'}),
	'event PENDING', 'its event operation is pending');
$node->safe_psql('postgres', q{SELECT durable_send_event('ev', 'other', '{"wrong": true}')});
$t0 = time;
$node->safe_psql('postgres', q{SELECT durable_send_event('ev', 'go', '{"x": 1}')});
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'ev'"),
	'durable_send_event resumed it');
my $took = time - $t0;
ok($took < 5, "at once ($took s)");
is($node->safe_psql('postgres', "SELECT result FROM durable.executions WHERE name = 'ev'"),
	'{"x": 1}', 'the wait returned the payload of "go", not of the other event');
like(sql_error("SELECT durable_send_event('ev', 'go')"),
	qr/^55000 /, 'an event to a finished execution fails with 55000');
like(sql_error("SELECT durable_send_event('no-such-execution', 'go')"),
	qr/^42704 /, 'an event to an unknown execution fails with 42704');

# two events sent before the waits are reached: delivered in order, one each
my $id = $node->safe_psql('postgres', q{SELECT durable_start('wf_two_events', '{"k": "gate"}', name => 'two')});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM cb_queue WHERE args->>'k' = 'gate'"),
	'the two-event execution waits on its gate callback');
$node->safe_psql('postgres', qq{SELECT durable_send_event('$id', 'item', '{"n": 1}')});
$node->safe_psql('postgres', qq{SELECT durable_send_event('two', 'item', '{"n": 2}')});
is($node->safe_psql('postgres', "SELECT count(*) FROM durable.events WHERE execution_id = '$id'"),
	'2', 'both events are kept while the execution does not wait for them');
$cb = callback_id('gate');
$node->safe_psql('postgres', "SELECT durable_callback_success('$cb')");
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'two'"),
	'past the gate, it took both events and SUCCEEDED');
is($node->safe_psql('postgres', "SELECT result FROM durable.executions WHERE name = 'two'"),
	'[{"n": 1}, {"n": 2}]', 'first in, first out, one per wait');
is($node->safe_psql('postgres', "SELECT count(*) FROM durable.events WHERE execution_id = '$id'"),
	'0', 'no event is left over');

# --- 7. a completion and an event that come while a worker drives -----------
# The worker is in a step, before the execution waits: neither may be lost.
my $blocker = $node->background_psql('postgres');
$blocker->query_safe('SELECT pg_advisory_lock(77)');
$node->safe_psql('postgres', q{SELECT durable_start('wf_busy', '{"k": "busy"}', name => 'busy')});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
	 WHERE l.locktype = 'advisory' AND l.objid = 77 AND NOT l.granted
	   AND a.backend_type = 'durable worker'}),
	'a worker is in the blocked step, after handing out the callback id');
$cb = callback_id('busy');
$node->safe_psql('postgres', qq{
SELECT durable_callback_success('$cb', '{"split": true}');
SELECT durable_send_event('busy', 'ping', '{"ping": true}');
});
is($node->safe_psql('postgres', "SELECT status FROM durable.executions WHERE name = 'busy'"),
	'RUNNING', 'the completion and the event came while it was RUNNING');
$t0 = time;
$blocker->query_safe('SELECT pg_advisory_unlock(77)');
$blocker->quit;
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'busy'"),
	'once the step ends, it goes through both waits');
$took = time - $t0;
ok($took < 5, "at once ($took s), with no other wake-up");
is($node->safe_psql('postgres', "SELECT result FROM durable.executions WHERE name = 'busy'"),
	'[{"split": true}, {"ping": true}]', 'with the result of the callback and the event');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING(?!:  terminating connection because of crash)/,
	'no warning in the log but those a crash causes');
unlike($log, qr/PANIC|TRAP:/, 'no PANIC or assertion failure');
done_testing();

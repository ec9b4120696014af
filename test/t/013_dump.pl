# pg_dump / pg_restore round trip (issue 6, item 6): executions suspended
# on callbacks, timers, events and a child survive a dump of node A and a
# restore into a fresh node B with the same statuses, operations, history
# and callbacks; on B the ORIGINAL callback ids (capabilities: only their
# hashes are stored) complete them, events and timers resume the others,
# all of them SUCCEED, and new executions start without duplicate keys
# (the identity sequences of history and inbox were carried over).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $conf = qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'app'
};

# --- node A: executions in every suspended state, and finished ones --------
my $node_a = PostgreSQL::Test::Cluster->new('dump_a');
$node_a->init;
$node_a->append_conf('postgresql.conf', $conf);
$node_a->start;
$node_a->safe_psql('postgres', 'CREATE DATABASE app');
$node_a->safe_psql('postgres', 'CREATE ROLE app_user NOLOGIN');
$node_a->safe_psql('app', q{
CREATE EXTENSION durable;
-- where submitters hand out callback ids (as the owner of the execution)
CREATE TABLE cb_out (k text, cb text);
GRANT INSERT ON cb_out TO app_user;
CREATE FUNCTION wf_cb(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  PERFORM durable_step('before', 'SELECT 1');
  r := durable_wait_for_callback('approval', 'INSERT INTO cb_out VALUES ($2->>''k'', $1)', input);
  RETURN jsonb_build_object('callback', r, 'after', durable_step('after', 'SELECT 2'));
END $$;
CREATE FUNCTION wf_timer(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_wait('nap', (input->>'secs')::interval);
  RETURN durable_step('woke', 'SELECT ''woke''::text');
END $$;
CREATE FUNCTION wf_event(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_wait_for_event('wait-go', 'go');
END $$;
CREATE FUNCTION wf_parent(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN jsonb_build_object('child', durable_invoke('kid', 'wf_cb', input));
END $$;
CREATE FUNCTION wf_quick(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('one', 'SELECT $1', input);
END $$;
});

ok($node_a->poll_query_until('app',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'A: two durable workers are running');

# finished first, then the waiting ones; the timers are long enough to be
# pending at the dump and short enough to fire on B
$node_a->safe_psql('app', q{
SELECT durable_start('wf_quick', to_jsonb(g), name => 'done-' || g) FROM generate_series(1, 3) g;
SELECT durable_start('wf_event', '{}', name => 'stopped-1');
});
ok($node_a->poll_query_until('app', q{
	SELECT count(*) FILTER (WHERE name LIKE 'done-%' AND status = 'SUCCEEDED') = 3
	   AND count(*) FILTER (WHERE name = 'stopped-1' AND status = 'SUSPENDED') = 1
	  FROM durable.executions}), 'A: the quick ones finished');
$node_a->safe_psql('app', "SELECT durable_stop('stopped-1', 'before the dump')");
$node_a->safe_psql('app', q{
SELECT durable_start('wf_cb', jsonb_build_object('k', 'cb-' || g), name => 'cb-' || g)
  FROM generate_series(1, 3) g;
SET ROLE app_user;
SELECT durable_start('wf_cb', '{"k": "cb-user"}', name => 'cb-user');
RESET ROLE;
SELECT durable_start('wf_timer', '{"secs": "8 seconds"}', name => 'timer-' || g)
  FROM generate_series(1, 2) g;
SELECT durable_start('wf_event', '{}', name => 'event-' || g) FROM generate_series(1, 2) g;
SELECT durable_start('wf_parent', '{"k": "child"}', name => 'parent');
});
ok($node_a->poll_query_until('app', q{
	SELECT count(*) = 10 FROM durable.executions
	 WHERE (name ~ '^(cb|timer|event)-' OR name = 'parent' OR parent_id IS NOT NULL)
	   AND status = 'SUSPENDED'}),
	'A: callbacks, timers, events, the parent and its child are suspended');
ok($node_a->poll_query_until('app', "SELECT count(*) = 5 FROM cb_out"),
	'A: the five submitters handed out their callback ids');
# an event sent to an execution that waits for another (kept), one not
# taken yet (inbox), a callback heartbeat: state only a restore keeps
$node_a->safe_psql('app', q{
SELECT durable_send_event('event-1', 'unrelated', '"kept"');
});
ok($node_a->poll_query_until('app', "SELECT count(*) = 1 FROM durable.events"),
	'A: the unrelated event is kept for a later wait');

# no more changes on A: the workers stop, so that the dump and the
# snapshot it is compared with are the same state
$node_a->safe_psql('postgres', 'ALTER SYSTEM SET durable.max_workers = 0');
$node_a->reload;
ok($node_a->poll_query_until('app',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'A: the workers stopped');
$node_a->safe_psql('app', q{SELECT durable_send_event('event-2', 'unrelated', '"in the inbox"')});

# what B must have: every row of the state, as text
my $snapshot_sql = q{
SELECT string_agg(x, E'\n' ORDER BY x) FROM (
  SELECT 'execution ' || concat_ws(' ', id, name, workflow, workflow_hash, status, run_no,
                                   owner, input, result, error, parent_id, wake_at) FROM durable.executions
  UNION ALL
  SELECT 'operation ' || concat_ws(' ', execution_id, run_no, op_id, name, kind, status, attempt,
                                   result, error, wake_at) FROM durable.operations
  UNION ALL
  SELECT 'history ' || concat_ws(' ', execution_id, event_id, run_no, event, name, details, owner)
    FROM durable.history
  UNION ALL
  SELECT 'callback ' || concat_ws(' ', encode(token_hash, 'hex'), execution_id, name, status, owner)
    FROM durable.callbacks
  UNION ALL
  SELECT 'queue ' || concat_ws(' ', execution_id, due_at, owner) FROM durable.queue
  UNION ALL
  SELECT 'inbox ' || concat_ws(' ', execution_id, message_id, kind, payload) FROM durable.inbox
  UNION ALL
  SELECT 'event ' || concat_ws(' ', execution_id, event_id, name, payload) FROM durable.events
  UNION ALL
  SELECT 'child ' || concat_ws(' ', parent_id, idx, workflow, child_id, status) FROM durable.children
  UNION ALL
  SELECT 'name ' || concat_ws(' ', name, execution_id, owner) FROM durable.names) s(x)};
my $snapshot_a = $node_a->safe_psql('app', $snapshot_sql);
my %count_a = map { $_ => $node_a->safe_psql('app', "SELECT count(*) FROM durable.$_") }
  qw(executions operations history callbacks queue inbox events children names);
my $max_event_a = $node_a->safe_psql('app', 'SELECT max(event_id) FROM durable.history');
my $max_message_a = $node_a->safe_psql('app', 'SELECT max(message_id) FROM durable.inbox');
my %cb = map { split /\|/ } split /\n/, $node_a->safe_psql('app', 'SELECT k, cb FROM cb_out');
is(join(',', sort keys %cb), 'cb-1,cb-2,cb-3,cb-user,child', 'A: the callback ids, kept by the test');

# --- dump ------------------------------------------------------------------
my $dir = PostgreSQL::Test::Utils::tempdir;
$node_a->command_ok([ 'pg_dumpall', '--globals-only', '-f', "$dir/globals.sql" ],
	'pg_dumpall --globals-only');
$node_a->command_ok([ 'pg_dump', '-Fc', '-d', 'app', '-f', "$dir/app.dump" ], 'pg_dump -Fc app');
my $dump_list = `pg_restore -l "$dir/app.dump"`;
like($dump_list, qr/TABLE DATA durable executions/, 'the dump holds the rows of durable.executions');
like($dump_list, qr/SEQUENCE SET durable history_event_id_seq/,
	'and the position of the identity sequence of durable.history');
$node_a->stop;

# --- node B: a fresh cluster with the same settings ------------------------
# Its workers start with the restore done: durable.max_workers = 0 until
# then, so that no worker reads a half-restored database.
my $node_b = PostgreSQL::Test::Cluster->new('dump_b');
$node_b->init;
$node_b->append_conf('postgresql.conf', $conf);
$node_b->append_conf('postgresql.conf', "durable.max_workers = 0\n");
$node_b->start;
# the roles, but the bootstrap superuser's (it exists already)
my $boot = $node_b->safe_psql('postgres', 'SELECT rolname FROM pg_roles WHERE oid = 10');
my $globals = join "\n",
  grep { !/^(CREATE|ALTER) ROLE \Q$boot\E( |;)/ } split /\n/, slurp_file("$dir/globals.sql");
append_to_file("$dir/globals_b.sql", $globals);
$node_b->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-f', "$dir/globals_b.sql" ],
	'B: the roles restored');
$node_b->safe_psql('postgres', 'CREATE DATABASE app');
my ($restore_out, $restore_err) = ('', '');
my $restore_ok = IPC::Run::run([ 'pg_restore', '-h', $node_b->host, '-p', $node_b->port,
	'-d', 'app', "$dir/app.dump" ], '>', \$restore_out, '2>', \$restore_err);
ok($restore_ok, 'B: pg_restore without an error') or diag($restore_err);

is($node_b->safe_psql('app', $snapshot_sql), $snapshot_a,
	'B: executions, operations, history, callbacks, queue, inbox, events, children, names as on A');
is($node_b->safe_psql('app', "SELECT count(*) FROM durable.$_"), $count_a{$_}, "B: durable.$_ has the rows of A")
  foreach sort keys %count_a;
is($node_b->safe_psql('app', q{SELECT string_agg(name || ':' || status, ',' ORDER BY name)
	FROM durable.executions WHERE name IS NOT NULL}),
	'cb-1:SUSPENDED,cb-2:SUSPENDED,cb-3:SUSPENDED,cb-user:SUSPENDED,done-1:SUCCEEDED,done-2:SUCCEEDED,'
	  . 'done-3:SUCCEEDED,event-1:SUSPENDED,event-2:SUSPENDED,parent:SUSPENDED,stopped-1:STOPPED,'
	  . 'timer-1:SUSPENDED,timer-2:SUSPENDED',
	'B: the statuses');
is($node_b->safe_psql('app', q{SELECT count(*) FROM durable.callbacks WHERE status = 'PENDING'}),
	'5', 'B: the five callbacks are pending');

# the workers of B
$node_b->safe_psql('postgres', 'ALTER SYSTEM SET durable.max_workers = 2');
$node_b->reload;
ok($node_b->poll_query_until('app',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'B: two durable workers are running');

# the original ids complete the callbacks on B: they are capabilities,
# B has only their hashes
foreach my $k (sort keys %cb)
{
	$node_b->safe_psql('app', "SELECT durable_callback_success('$cb{$k}', '\"ok-$k\"')");
}
$node_b->safe_psql('app', q{
SELECT durable_send_event('event-' || g, 'go', to_jsonb('go-' || g)) FROM generate_series(1, 2) g;
});
ok($node_b->poll_query_until('app', q{
	SELECT count(*) = 0 FROM durable.executions
	 WHERE status <> 'SUCCEEDED' AND name IS DISTINCT FROM 'stopped-1'}),
	'B: every suspended execution resumed and SUCCEEDED (callbacks, events, timers, the child and its parent)')
  or diag($node_b->safe_psql('app',
	"SELECT name, status, error FROM durable.executions WHERE status <> 'SUCCEEDED'"));
is($node_b->safe_psql('app', q{SELECT string_agg(name || '=' || result::text, ' ' ORDER BY name)
	FROM durable.executions WHERE name ~ '^(cb|event|parent)'}),
	'cb-1={"after": 2, "callback": "ok-cb-1"} cb-2={"after": 2, "callback": "ok-cb-2"} '
	  . 'cb-3={"after": 2, "callback": "ok-cb-3"} cb-user={"after": 2, "callback": "ok-cb-user"} '
	  . 'event-1="go-1" event-2="go-2" parent={"child": {"after": 2, "callback": "ok-child"}}',
	'B: the results carry the callback results and events sent on B');
is($node_b->safe_psql('app', q{SELECT string_agg(DISTINCT result::text, ',') FROM durable.executions
	WHERE name LIKE 'timer-%'}), '"woke"', 'B: the timers fired');
is($node_b->safe_psql('app', q{SELECT owner FROM durable.executions WHERE name = 'cb-user'}),
	'app_user', 'B: the execution of app_user is still its own');
# a used id stays used
my ($rc, $out, $err) = $node_b->psql('app', "SELECT durable_callback_success('$cb{'cb-1'}', '\"again\"')");
like($err, qr/callback has already been completed/, 'B: a completed id cannot be used again');

# new executions: history and inbox ids continue after those of A
$node_b->safe_psql('app', q{
SELECT durable_start('wf_quick', to_jsonb(g), name => 'new-' || g) FROM generate_series(1, 5) g;
SELECT durable_start('wf_event', '{}', name => 'new-event');
});
ok($node_b->poll_query_until('app',
	"SELECT status = 'SUSPENDED' FROM durable_status('new-event')"), 'B: a new execution waits for its event');
$node_b->safe_psql('app', q{SELECT durable_send_event('new-event', 'go', '"new"')});
ok($node_b->poll_query_until('app', q{
	SELECT count(*) = 6 FROM durable.executions WHERE name LIKE 'new-%' AND status = 'SUCCEEDED'}),
	'B: new executions start and finish');
ok($node_b->safe_psql('app', q{SELECT min(event_id) FROM durable.history h
	JOIN durable.executions e ON e.id = h.execution_id WHERE e.name LIKE 'new-%'}) > $max_event_a,
	'B: history ids of new executions continue after those of A');
ok($node_b->safe_psql('app', q{SELECT last_value FROM durable.inbox_message_id_seq}) > $max_message_a,
	'B: inbox ids continue after those of A');

# nothing unexpected in either server log
$node_b->stop;
foreach my $node ($node_a, $node_b)
{
	# but the error of the reused callback id this test asked for
	my @bad = grep { /WARNING|ERROR|terminated by signal|PANIC/
					   && !/ERROR:  callback has already been completed/ }
	  split /\n/, slurp_file($node->logfile);
	is(join("\n", @bad), '', $node->name . ': no warning, error or crash in the server log');
}

done_testing();

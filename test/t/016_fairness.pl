# Fairness between roles (issue 13, F1 and F2), with two workers:
# (b) an execution of alice whose drives raise an error (a malformed inbox
#     message) does not stop bob's executions; it backs off between tries
#     and ends FAILED with WF018 after durable.max_drive_errors of them;
# (c) in a database the workers do not serve, the tick drives the others
#     past such an execution instead of failing;
# (a) alice's two endless continue_as_new loops and a 200,000-item
#     durable_map do not keep bob's 100 executions from finishing within
#     seconds: drives are time-sliced, continue_as_new ends a drive, and
#     claims take turns between owners.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('fairness');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
durable.max_drive_errors = 3
durable.drive_slice = 200
durable.max_payload_size = 8388608
});
$node->start;

my $setup = q{
CREATE EXTENSION durable;
CREATE SCHEMA alice AUTHORIZATION alice;
CREATE SCHEMA bob AUTHORIZATION bob;
SET ROLE alice;
CREATE FUNCTION alice.spin(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_continue_as_new(jsonb_build_object('n', coalesce((input->>'n')::int, 0) + 1));
  RETURN NULL;
END $$;
CREATE FUNCTION alice.item(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN input->'index'; END $$;
CREATE FUNCTION alice.widemap(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN durable_map('m', input->'items', 'alice.item') - 'results'; END $$;
CREATE FUNCTION alice.waiter(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN durable_wait_for_event('e', 'go'); END $$;
RESET ROLE;
SET ROLE bob;
CREATE FUNCTION bob.noop(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN input; END $$;
RESET ROLE;
};
$node->safe_psql('postgres', "CREATE ROLE alice NOLOGIN; CREATE ROLE bob NOLOGIN;");
$node->safe_psql('postgres', $setup);
$node->safe_psql('postgres', "CREATE DATABASE other");
$node->safe_psql('other', $setup);

# a message whose drain raises an error: an event that no wait takes, whose
# parking collides with an event row already there
sub poison
{
	my ($db, $name) = @_;
	$node->safe_psql($db, qq{
INSERT INTO durable.events (execution_id, event_id, name, owner, sent_at)
  SELECT id, 1000000000, 'junk', owner, now() FROM durable.executions WHERE name = '$name';
INSERT INTO durable.inbox (execution_id, message_id, kind, payload, owner, created_at)
  OVERRIDING SYSTEM VALUE
  SELECT id, 1000000000, 'event', '{"event": "junk"}', owner, now()
    FROM durable.executions WHERE name = '$name';
});
}

# --- (b) a poisoned execution under the workers -----------------------------
$node->safe_psql('postgres',
	"SET ROLE alice; SELECT durable_start('alice.waiter', '{}', name => 'poison')");
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUSPENDED' FROM durable.executions WHERE name = 'poison'"),
	'the execution to poison waits for its event');
poison('postgres', 'poison');
my $started = time;
$node->safe_psql('postgres',
	"SET ROLE bob; SELECT count(durable_start('bob.noop', '{}', name => 'bob-b-' || g)) FROM generate_series(1, 20) g");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 20 FROM durable.executions WHERE name LIKE 'bob-b-%' AND status = 'SUCCEEDED'"),
	"bob's 20 executions finish while alice's execution raises errors");
diag(sprintf("bob's 20 executions took %.1f s", time - $started));
ok($node->poll_query_until('postgres',
	"SELECT status = 'FAILED' FROM durable.executions WHERE name = 'poison'"),
	'the poisoned execution ends FAILED');
is($node->safe_psql('postgres', q{
SELECT error->>'sqlstate', error->>'message', error->>'detail' LIKE 'The last error was SQLSTATE 23505: %'
  FROM durable.executions WHERE name = 'poison'}),
	'WF018|driving the execution failed 3 times in a row|t',
	'with WF018 and the error it raised');
# the tries were 1 s and then 2 s apart: the backoff, in its history
my $gaps = $node->safe_psql('postgres', q{
SELECT string_agg(event || ' ' || coalesce(details->>'errors', '') || ' ' ||
                  coalesce((gap >= 0.9 * (2 ^ (n - 2)))::text, '-'), ', ' ORDER BY event_id)
  FROM (SELECT h.event_id, h.event, h.details,
               row_number() OVER (ORDER BY h.event_id) AS n,
               extract(epoch FROM h.at - lag(h.at) OVER (ORDER BY h.event_id)) AS gap
          FROM durable.history h JOIN durable.executions e ON e.id = h.execution_id
         WHERE e.name = 'poison' AND h.event IN ('drive_error', 'failed')) s});
is($gaps, 'drive_error 1 -, drive_error 2 true, failed  true',
	'two tries backed off 1 s and 2 s before the third failed it');
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM durable.inbox"),
	'the malformed message is dropped with the failed execution');

# --- (c) the tick, where no worker drives ------------------------------------
$node->safe_psql('other',
	"SET ROLE alice; SELECT durable_start('alice.waiter', '{}', name => 'poison'); SELECT durable_drive('poison')");
poison('other', 'poison');
$node->safe_psql('other',
	"SET ROLE bob; SELECT count(durable_start('bob.noop', '{}', name => 'bob-c-' || g)) FROM generate_series(1, 5) g");
my ($rc, $out, $err) = $node->psql('other', 'CALL durable_tick()');
is($rc, 0, 'the tick does not fail on the poisoned execution') or diag($err);
is($node->safe_psql('other', q{
SELECT (SELECT count(*) FROM durable.executions WHERE name LIKE 'bob-c-%' AND status = 'SUCCEEDED'),
       (SELECT q.drive_errors >= 1 FROM durable.queue q JOIN durable.executions e ON e.id = q.execution_id
         WHERE e.name = 'poison'),
       (SELECT status FROM durable.executions WHERE name = 'poison')}),
	'5|t|SUSPENDED', "the tick drove bob's executions and charged alice's error, which backs off");

# --- (a) endless loops and a 200,000-item map against 100 small executions ---
$node->safe_psql('postgres', q{
SET ROLE alice;
SELECT durable_start('alice.spin', '{}', name => 'spin-1');
SELECT durable_start('alice.spin', '{}', name => 'spin-2');
SELECT durable_start('alice.widemap',
  jsonb_build_object('items', (SELECT jsonb_agg(''::text) FROM generate_series(1, 200000))),
  name => 'wide-map');
});
# until the map's children are being driven, or the map has ended (a
# version that refuses so wide a map), and the loops go on.  The polls look
# rows up by name: a scan of 200,000 executions ten times a second would
# take from the workers the CPU this measures.
my $by_name = "durable.names n JOIN durable.executions e ON e.id = n.execution_id";
ok($node->poll_query_until('postgres', qq{
SELECT ((SELECT count(*) = 20 FROM (SELECT 1 FROM durable.children WHERE status = 'SUCCEEDED' LIMIT 20) s)
        OR (SELECT e.status NOT IN ('PENDING', 'RUNNING', 'SUSPENDED') FROM $by_name WHERE n.name = 'wide-map'))
   AND (SELECT min(e.run_no) >= 3 FROM $by_name WHERE n.name IN ('spin-1', 'spin-2'))}),
	"alice's loops and map are being driven");
# what autovacuum would do now to the 200,000 new rows, at once, so that it
# does not compete with the drives measured below
$node->safe_psql('postgres', 'VACUUM ANALYZE durable.executions, durable.queue, durable.names, durable.children');
my $runs_before = $node->safe_psql('postgres',
	"SELECT sum(e.run_no) FROM $by_name WHERE n.name IN ('spin-1', 'spin-2')");
$started = time;
$node->safe_psql('postgres',
	"SET ROLE bob; SELECT count(durable_start('bob.noop', '{}', name => 'bob-a-' || g)) FROM generate_series(1, 100) g");
my $bobs = "SELECT 'bob-a-' || g FROM generate_series(1, 100) g";
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 100 FROM $by_name WHERE n.name IN ($bobs) AND e.status = 'SUCCEEDED'"),
	"bob's 100 executions finish");
my $took = time - $started;
my $span = $node->safe_psql('postgres',
	"SELECT extract(epoch FROM max(e.finished_at) - min(e.created_at)) FROM $by_name WHERE n.name IN ($bobs)");
diag(sprintf("bob's 100 executions took %.1f s (%.1f s from the first start to the last end)", $took, $span));
ok($span < 15, "bob's 100 executions finished within 15 s despite alice's load")
	or diag(sprintf('they took %.1f s', $span));
ok($node->safe_psql('postgres',
	"SELECT sum(e.run_no) FROM $by_name WHERE n.name IN ('spin-1', 'spin-2')") > $runs_before,
	"alice's loops went on meanwhile");
is($node->safe_psql('postgres',
	"SELECT count(*) FROM $by_name WHERE n.name IN ('spin-1', 'spin-2') AND e.status = 'RUNNING'"),
	'2', 'both loops are still running, a slice at a time');

$node->stop('immediate');
done_testing();

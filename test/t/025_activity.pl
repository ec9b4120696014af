# What the workers run now, and a word when nothing will (issue 14).
#
# With one background worker serving database postgres: while a step of an
# execution runs (it waits on an advisory lock the test holds), the
# durable.activity view shows that worker's pid (the one pg_stat_activity
# shows driving the execution), state running, the execution, the step's
# name and kind, attempt 1 and a plausible since; other roles see the row
# with the execution and operation NULL, while durable_monitor and
# pg_monitor members see them.  Meanwhile readers see the execution
# PENDING: the README's old stuck-executions query (with thresholds of a
# second) flags it, the corrected one, which leaves out what durable.activity
# shows being driven, does not.  Once the step ends, the worker's row is
# idle and names no execution.  The HTTP worker has a row of its own.
#
# Then the signals that nothing will run an execution: in a database the
# workers do not serve (and no pg_cron tick), the first durable_start of a
# session gives a NOTICE, the next ones none, and a session with
# durable.notice_undriven off none; in the served database there is none.
# On a cluster that does not preload durable, CREATE EXTENSION durable
# gives a WARNING with a hint on how to preload it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('activity');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 1
durable.database = 'postgres'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE ROLE act_bob LOGIN;
CREATE ROLE act_mon LOGIN IN ROLE durable_monitor;
CREATE ROLE act_pgmon LOGIN IN ROLE pg_monitor;
CREATE FUNCTION wf_hold(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('hold', 'SELECT pg_advisory_xact_lock(4242); SELECT 1');
END $$;
});

# the step 'hold' waits until the test lets go of the lock
my $barrier = $node->background_psql('postgres');
$barrier->query_safe('SELECT pg_advisory_lock(4242)');

my $t0 = $node->safe_psql('postgres', 'SELECT now()');
my $id = $node->safe_psql('postgres', "SELECT durable_start('wf_hold', '{}', 'held')");

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM durable.activity WHERE execution_id = '$id' AND state = 'running' AND operation = 'hold'"),
	'durable.activity shows the step that runs');

my $driver_pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE query = 'durable: driving execution $id'");
like($driver_pid, qr/^\d+$/, 'pg_stat_activity shows the worker driving it');

my $row = $node->safe_psql('postgres', qq{
SELECT pid, kind, state, operation, op_kind, coalesce(op_id::text, '-'), attempt,
       since >= '$t0' AND since <= now(), drive_since <= since
  FROM durable.activity WHERE execution_id = '$id'});
is($row, "$driver_pid|worker|running|hold|step|-|1|t|t",
	'its row: the worker\'s pid, the step, attempt 1 (no checkpoint yet), since when');

is($node->safe_psql('postgres', "SELECT status FROM durable.executions WHERE id = '$id'"),
	'PENDING', 'readers see it PENDING while its first steps run');

# the README's stuck-executions query, with thresholds of a second
my $where_old = q{
 WHERE e.status IN ('RUNNING', 'SUSPENDED') AND e.updated_at < now() - interval '1 second'
    OR e.status = 'PENDING' AND e.created_at < now() - interval '1 second'
    OR e.status = 'SUSPENDED' AND e.wake_at < now() - interval '1 second'};
my $old_query = qq{
SELECT e.id FROM durable.executions e $where_old};
my $new_query = qq{
SELECT e.id, e.name, e.workflow, e.status, e.updated_at, e.wake_at,
       cur.kind || ' ' || cur.name AS current_operation
  FROM durable.executions e
  LEFT JOIN LATERAL (
       SELECT o.kind, o.name FROM durable.operations o
        WHERE o.execution_id = e.id AND o.run_no = e.run_no AND o.status IN ('STARTED', 'PENDING')
        ORDER BY o.op_id DESC LIMIT 1) cur ON true
 WHERE (e.status IN ('RUNNING', 'SUSPENDED') AND e.updated_at < now() - interval '1 second'
     OR e.status = 'PENDING' AND e.created_at < now() - interval '1 second'
     OR e.status = 'SUSPENDED' AND e.wake_at < now() - interval '1 second')
   AND NOT EXISTS (SELECT 1 FROM durable.activity a WHERE a.execution_id = e.id)
 ORDER BY e.updated_at};
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM ($old_query) s WHERE s.id = '$id'"),
	'the old stuck query flags the execution being driven');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM ($new_query) s WHERE s.id = '$id'"),
	'0', 'the corrected stuck query does not');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM durable.activity WHERE execution_id = '$id' AND state = 'running'"),
	'1', 'the step still ran meanwhile');

# who sees what
is($node->safe_psql('postgres', qq{
SET ROLE act_bob;
SELECT kind, state, coalesce(execution_id::text, 'null'), coalesce(operation, 'null'),
       coalesce(op_kind, 'null'), coalesce(attempt::text, 'null')
  FROM durable.activity WHERE pid = $driver_pid}),
	'worker|running|null|null|null|null',
	'another role sees the worker run, not what it runs');
is($node->safe_psql('postgres', qq{
SET ROLE act_mon;
SELECT execution_id, operation FROM durable.activity WHERE pid = $driver_pid}),
	"$id|hold", 'a member of durable_monitor sees the execution and the step');
is($node->safe_psql('postgres', qq{
SET ROLE act_pgmon;
SELECT execution_id, operation FROM durable.activity WHERE pid = $driver_pid}),
	"$id|hold", 'a member of pg_monitor too');

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM durable.activity WHERE kind = 'http' AND in_flight = 0 AND pid > 0"),
	'the HTTP worker has a row, with nothing in flight');

# the step ends
$barrier->query_safe('SELECT pg_advisory_unlock(4242)');
$barrier->quit;
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE id = '$id'"),
	'the execution succeeds');
ok($node->poll_query_until('postgres',
	"SELECT state = 'idle' AND execution_id IS NULL AND operation IS NULL AND since IS NULL
	   FROM durable.activity WHERE pid = $driver_pid"),
	'then the worker\'s row is idle and names nothing');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM durable.activity WHERE execution_id = '$id'"),
	'0', 'no row names the finished execution');

# --- nothing drives the executions of a database the workers do not serve
$node->safe_psql('postgres', 'CREATE DATABASE other');
my ($rc, $out, $err) = $node->psql('other', 'CREATE EXTENSION durable');
is($rc, 0, 'CREATE EXTENSION in another database');
unlike($err, qr/WARNING/, 'with durable preloaded, no warning');
$node->safe_psql('other', q{
CREATE FUNCTION wf_one(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('one', 'SELECT 1');
END $$;
});

($rc, $out, $err) = $node->psql('other', q{
SELECT durable_start('wf_one', '{}', 'o1');
SELECT durable_start('wf_one', '{}', 'o2');
SELECT durable_start('wf_one', '{}', 'o3');});
is($rc, 0, 'three starts in one session of database other');
my @notices = ($err =~ /NOTICE:  nothing drives the executions of database "other" by itself/g);
is(scalar(@notices), 1, 'the first start says that nothing drives them, once') or diag($err);
like($err, qr/DETAIL:  The background workers serve database "postgres" \(durable.database\), and no pg_cron job runs CALL durable_tick\(\) in this database\./,
	'the detail names the database the workers serve');
like($err, qr/HINT:  .*durable.database = 'other'/, 'the hint says what to set');

($rc, $out, $err) = $node->psql('other', q{
SET durable.notice_undriven = off;
SELECT durable_start('wf_one', '{}', 'o4');});
is($rc, 0, 'a start with durable.notice_undriven off');
unlike($err, qr/NOTICE/, 'says nothing');

$node->safe_psql('postgres', q{
CREATE FUNCTION wf_one(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('one', 'SELECT 1');
END $$;
});
($rc, $out, $err) = $node->psql('postgres', q{SELECT durable_start('wf_one', '{}', 'p1');});
is($rc, 0, 'a start in the database the workers serve');
unlike($err, qr/NOTICE/, 'says nothing');
ok($node->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'p1'"),
	'and a worker runs it');
is($node->safe_psql('other', "SELECT count(*) FROM durable.executions WHERE status = 'PENDING'"),
	'4', 'while nothing ran those of database other');

$node->stop;

# --- a cluster without durable preloaded
my $bare = PostgreSQL::Test::Cluster->new('bare');
$bare->init;
$bare->start;
($rc, $out, $err) = $bare->psql('postgres', 'CREATE EXTENSION durable');
is($rc, 0, 'CREATE EXTENSION durable without the preload succeeds');
like($err, qr/WARNING:  durable is not in shared_preload_libraries: no background worker will run executions/,
	'with a warning that no worker will run executions');
like($err, qr/HINT:  Add durable to shared_preload_libraries/, 'and a hint on how to preload it');
is($bare->safe_psql('postgres', 'SELECT durable.library_preloaded()'), 'f',
	'durable.library_preloaded() says so');
is($bare->safe_psql('postgres', 'SELECT count(*) FROM durable.activity'), '0',
	'durable.activity is empty');
$bare->safe_psql('postgres', q{
CREATE FUNCTION wf_one(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('one', 'SELECT 1');
END $$;
});
($rc, $out, $err) = $bare->psql('postgres', q{
SELECT durable_start('wf_one', '{}', 'b1');
SELECT durable_start('wf_one', '{}', 'b2');});
is($rc, 0, 'starts without the preload');
@notices = ($err =~ /NOTICE:  nothing drives/g);
is(scalar(@notices), 1, 'the first says that nothing drives them, once') or diag($err);
like($err, qr/DETAIL:  No background worker runs \(durable is not in shared_preload_libraries\)/,
	'because durable is not preloaded');
$bare->stop;

done_testing();

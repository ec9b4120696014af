# Privileges and isolation in a worker: an execution runs as the role that
# started it, and nothing one execution does (settings, advisory locks,
# temporary objects, sequence and random() state, search_path) leaks into
# the next one the same worker runs.  One worker, so that every execution
# here runs in the same session.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('isolation');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 1
durable.database = 'postgres'
});
$node->start;

# alice and bob log in and are nothing more; everything durable needs is
# granted to PUBLIC by CREATE EXTENSION, they get only the rights on the
# objects their workflows use
$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE TABLE secret (x int);
INSERT INTO secret VALUES (42);
CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO alice, bob;
CREATE SEQUENCE app.seq;
GRANT USAGE ON SEQUENCE app.seq TO alice, bob;
CREATE FUNCTION app.currval_or_null(s regclass) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  RETURN currval(s);
EXCEPTION WHEN object_not_in_prerequisite_state THEN
  RETURN NULL;
END $$;

-- one step running the SQL it is given, no retries
CREATE FUNCTION app.wf_sql(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_step('sql', input->>'sql', NULL, '{"max_attempts": 1}');
  RETURN r;
END $$;

-- who runs the body and the steps
CREATE FUNCTION app.wf_who(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_step('who',
    'SELECT $1 || jsonb_build_object(''step_user'', current_user, ''step_session_user'', session_user)',
    jsonb_build_object('body_user', current_user, 'body_session_user', session_user));
  RETURN r;
END $$;

-- changes everything a session keeps that it is allowed to change
CREATE FUNCTION app.wf_dirty(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  SET work_mem = '5MB';
  r := durable_step('settings', $q$
    SELECT set_config('work_mem', '7MB', false), set_config('statement_timeout', '1234', false),
           set_config('search_path', 'app, pg_catalog', false),
           set_config('app.flag', 'dirty', false)$q$);
  r := durable_step('locks', 'SELECT pg_advisory_lock(4242), pg_advisory_lock_shared(4243)');
  r := durable_step('temp',
    'CREATE FUNCTION pg_temp.leaked() RETURNS int LANGUAGE sql AS ''SELECT 42''');
  r := durable_step('use-temp', 'SELECT pg_temp.leaked()');
  r := durable_step('sequence', 'SELECT nextval(''app.seq'')');
  r := durable_step('seed', 'SELECT setseed(0.25)');
  r := durable_step('pid', 'SELECT pg_backend_pid()');
  RETURN r;
END $$;

-- reports what the session looks like to the next execution
CREATE FUNCTION app.wf_probe(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_step('probe', $q$
    SELECT $1 || jsonb_build_object(
      'pid', pg_backend_pid(),
      'work_mem', current_setting('work_mem'),
      'statement_timeout', current_setting('statement_timeout'),
      'search_path', current_setting('search_path'),
      'flag', current_setting('app.flag', true),
      'advisory_locks', (SELECT count(*) FROM pg_locks
                          WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
      'temp_functions', (SELECT count(*) FROM pg_proc
                          WHERE pronamespace = pg_my_temp_schema()),
      'currval', app.currval_or_null('app.seq'),
      'random', random())$q$,
    jsonb_build_object('body_work_mem', current_setting('work_mem')));
  RETURN r;
END $$;

-- drops every advisory lock of the session, then looks for the drive lock
CREATE FUNCTION app.wf_unlock(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_step('unlock', 'SELECT pg_advisory_unlock_all()');
  r := durable_step('drive-lock', $q$
    SELECT count(*) FROM pg_locks
     WHERE pid = pg_backend_pid() AND locktype = 'object' AND objsubid = 68
       AND mode = 'ExclusiveLock' AND granted$q$);
  RETURN r;
END $$;
});

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'the worker is running');

# start as a role (connected as it), wait until the execution finishes
sub run_as
{
	my ($role, $name, $workflow, $input) = @_;
	$input //= '{}';
	$node->safe_psql('postgres',
		"SELECT durable_start('$workflow', \$j\$$input\$j\$, name => '$name')",
		extra_params => [ '-U', $role ]);
	ok($node->poll_query_until('postgres',
		"SELECT status NOT IN ('PENDING', 'RUNNING', 'SUSPENDED') FROM durable.executions WHERE name = '$name'"),
		"$name finished");
	return $node->safe_psql('postgres',
		"SELECT status FROM durable.executions WHERE name = '$name'");
}

sub field
{
	my ($name, $path) = @_;
	return $node->safe_psql('postgres',
		"SELECT $path FROM durable.executions WHERE name = '$name'");
}

# ---- run as the owner ------------------------------------------------------

is(run_as('alice', 'alice-secret', 'app.wf_sql', '{"sql": "SELECT count(*) FROM secret"}'),
	'FAILED', "alice's step cannot read a table alice cannot read");
is(field('alice-secret', "error->>'sqlstate'"), 'WF001',
	'the execution failed with a step failure');
like(field('alice-secret', "error->>'detail'"), qr/SQLSTATE 42501/,
	'whose detail names insufficient_privilege');
like(field('alice-secret', "error->>'message'"), qr/permission denied for table secret/,
	'and whose message is the permission error');
is(run_as($node->safe_psql('postgres', 'SELECT current_user'),
		'admin-secret', 'app.wf_sql', '{"sql": "SELECT count(*) FROM secret"}'),
	'SUCCEEDED', 'the same workflow started by the superuser reads it');

is(run_as('alice', 'alice-who', 'app.wf_who'), 'SUCCEEDED', 'wf_who ran');
is(field('alice-who', "result->>'step_user'"), 'alice', 'current_user in a step is the owner');
is(field('alice-who', "result->>'body_user'"), 'alice', 'current_user in the body is the owner');
# session_user stays the role the worker connected as (the bootstrap
# superuser), as in a SECURITY DEFINER function; it grants nothing: rights
# are checked against current_user, and neither SET ROLE nor SET SESSION
# AUTHORIZATION is allowed (below)
my $bootstrap = $node->safe_psql('postgres', 'SELECT rolname FROM pg_roles WHERE oid = 10');
is(field('alice-who', "result->>'step_session_user'"), $bootstrap,
	'session_user in a step is the role of the worker');
is(field('alice-who', "result->>'body_session_user'"), $bootstrap,
	'session_user in the body is the role of the worker');

# what security-restricted mode refuses, each with insufficient_privilege
my %refused = (
	'set-role'     => "SET ROLE $bootstrap",
	'set-role-fn'  => "SELECT set_config('role', '$bootstrap', false)",
	'session-auth' => "SET SESSION AUTHORIZATION $bootstrap",
	'temp-table'   => 'CREATE TEMP TABLE t (x int)',
	'prepare'      => 'PREPARE p AS SELECT 1',
	'hold-cursor'  => 'DECLARE c CURSOR WITH HOLD FOR SELECT 1',
	'listen'       => 'LISTEN chan',
	'discard'      => 'DISCARD ALL');
foreach my $what (sort keys %refused)
{
	my $sql = $refused{$what};
	is(run_as('alice', "refused-$what", 'app.wf_sql', qq{{"sql": "$sql"}}), 'FAILED',
		"a step cannot $sql");
	like(field("refused-$what", "error->>'detail'"), qr/SQLSTATE 42501/,
		"$what is refused for lack of privilege");
}

# ---- nothing leaks into the next execution ---------------------------------

is(run_as('alice', 'dirty', 'app.wf_dirty'), 'SUCCEEDED', 'alice dirtied the session');
is(run_as('bob', 'probe', 'app.wf_probe'), 'SUCCEEDED', 'bob probed it');
is(field('probe', "result->>'pid'"), field('dirty', 'result::text'),
	'both ran in the same worker session');
is(field('probe', "result->>'body_work_mem'"), '4MB',
	'a SET in the body does not reach the next execution');
is(field('probe', "result->>'work_mem'"), '4MB',
	'set_config(..., false) in a step does not reach the next execution');
is(field('probe', "result->>'statement_timeout'"), '0', 'nor does statement_timeout');
is(field('probe', "result->>'search_path'"), '"$user", public, pg_temp',
	'the next execution has its own search_path');
isnt(field('probe', "coalesce(result->>'flag', '')"), 'dirty',
	'a custom setting does not keep its value');
is(field('probe', "result->>'advisory_locks'"), '0',
	'session advisory locks taken in a step are released');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	 WHERE a.backend_type = 'durable worker' AND l.locktype = 'advisory'}),
	'0', 'the idle worker holds no advisory lock');
is($node->safe_psql('postgres', 'SELECT pg_try_advisory_lock(4242)'), 't',
	'another session can take the lock the step took');
is(field('probe', "result->>'temp_functions'"), '0',
	'temporary objects created in a step are dropped');
is(field('probe', "result->'currval'"), 'null',
	'currval() does not see the sequence state of the previous execution');
my $seeded = $node->safe_psql('postgres', 'SELECT random() FROM (SELECT setseed(0.25)) s');
isnt(field('probe', "result->>'random'"), $seeded,
	'random() is not predictable from the seed the previous execution set');

# a step plan cached for one owner is not used for another whose
# search_path resolves the same text to other tables ("$user")
$node->safe_psql('postgres', q{
CREATE SCHEMA alice AUTHORIZATION alice;
CREATE SCHEMA bob AUTHORIZATION bob;
CREATE TABLE alice.mine (who text);
INSERT INTO alice.mine VALUES ('alice');
ALTER TABLE alice.mine OWNER TO alice;
CREATE TABLE bob.mine (who text);
INSERT INTO bob.mine VALUES ('bob');
ALTER TABLE bob.mine OWNER TO bob;
});
is(run_as('alice', 'mine-alice', 'app.wf_sql', '{"sql": "SELECT who FROM mine"}'),
	'SUCCEEDED', "alice read her table");
is(run_as('bob', 'mine-bob', 'app.wf_sql', '{"sql": "SELECT who FROM mine"}'),
	'SUCCEEDED', "bob read his table");
is(field('mine-alice', 'result::text') . ' ' . field('mine-bob', 'result::text'),
	'"alice" "bob"', 'the same step SQL resolves names with each owner\'s search_path');

# pg_advisory_unlock_all() in a step cannot drop the lock that keeps other
# drivers away from the execution
is(run_as('alice', 'unlock', 'app.wf_unlock'), 'SUCCEEDED', 'wf_unlock ran');
is(field('unlock', 'result::text'), '1',
	'the drive lock survives pg_advisory_unlock_all() in a step');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/WARNING|terminated by signal|PANIC/, 'no warning or crash in the server log');
done_testing();

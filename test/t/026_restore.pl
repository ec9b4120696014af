# Backup and restore with pg_cron (issue 14): pg_dump -Fc of a database
# with pg_cron and durable (the tick, a schedule, other pg_cron jobs of the
# user, an execution suspended on a callback, a secret) restores with
# pg_restore --exit-on-error into a fresh cluster with both preloaded:
# exit 0, the tick once, the other jobs kept, the schedule's job alive,
# the suspended execution completes.  The secret's value is in no dump;
# the restored cluster without the key file refuses to use it (WF016,
# naming the file) and to make a new key; with the file copied it works.
use strict;
use warnings;
use File::Copy;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use DurableMock;

my $mock = DurableMock->new(name => 'mock_026');
my $url = $mock->url;
my $secret = 'sk-restore-secret-123';

my $conf = qq{
shared_preload_libraries = 'pg_cron,durable'
durable.max_workers = 1
durable.database = 'app'
cron.database_name = 'app'
durable.http_allow_addresses = '127.0.0.1'
};

my $workflows = q{
CREATE TABLE cb_out (cb text);
CREATE FUNCTION wf_cb(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  PERFORM durable_step('before', 'SELECT 1');
  RETURN durable_wait_for_callback('approval', 'INSERT INTO cb_out VALUES ($1)');
END $$;
CREATE FUNCTION wf_quick(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('one', 'SELECT 1');
END $$;
CREATE FUNCTION wf_http(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_http('call', input, '{"max_attempts": 1}');
END $$;
};

# starts a request that sends the secret in a header
sub start_http
{
	my ($node, $name) = @_;
	$node->safe_psql('app', qq{
SELECT durable_start('wf_http', jsonb_build_object('url', '$url/text?k=$name', 'method', 'POST',
  'headers', '{"X-Key": {"secret": "api-key"}}'::jsonb), name => '$name')});
}

sub finished
{
	my ($node, $name) = @_;
	$node->poll_query_until('app',
		"SELECT status IN ('SUCCEEDED', 'FAILED') FROM durable_status('$name')")
	  or diag($node->safe_psql('app', "SELECT * FROM durable_status('$name')"));
	return $node->safe_psql('app',
		"SELECT status || ' ' || coalesce(error->>'sqlstate', '') || ' ' || coalesce(error->>'message', '') "
		  . "FROM durable_status('$name')");
}

# the X-Key header the mock got for a request
sub sent_key
{
	my ($name) = @_;
	my $reqs = $mock->requests('/text');
	my @mine = grep { ($_->{query} // '') =~ /k=\Q$name\E/ } @$reqs;
	return @mine ? ($mine[-1]{headers}{'x-key'} // '(none)') : '(no request)';
}

# --- node A ------------------------------------------------------------------
my $node_a = PostgreSQL::Test::Cluster->new('restore_a');
$node_a->init;
$node_a->append_conf('postgresql.conf', $conf);
$node_a->start;
$node_a->safe_psql('postgres', 'CREATE DATABASE app');
$node_a->safe_psql('app', 'CREATE EXTENSION pg_cron');
$node_a->safe_psql('app', 'CREATE EXTENSION durable');
$node_a->safe_psql('app', $workflows);
$node_a->safe_psql('app', qq{
SELECT cron.schedule('user-vacuum', '0 4 * * *', 'VACUUM');
SELECT cron.schedule('user-report', '30 5 * * *', 'SELECT 1');
SELECT durable_schedule('nightly', '0 2 * * *', 'wf_quick', '{}');
SELECT durable_secret_set('api-key', '$secret', ARRAY['127.0.0.1']);
SELECT durable_start('wf_cb', '{}', name => 'cb-1');
});
is($node_a->safe_psql('app', "SELECT count(*) FROM cron.job WHERE jobname = 'durable_tick'"), '1',
	'A: the tick is scheduled');
ok($node_a->poll_query_until('app', "SELECT count(*) = 1 FROM cb_out"),
	'A: the execution is suspended on its callback');
my $cb = $node_a->safe_psql('app', 'SELECT cb FROM cb_out');
start_http($node_a, 'http-a');
like(finished($node_a, 'http-a'), qr/^SUCCEEDED/, 'A: a request used the secret');
is(sent_key('http-a'), $secret, 'A: and sent its value');

# the key file: made at the first durable_secret_set, the server's only
my $key_a = $node_a->data_dir . '/pg_durable/secrets.key';
ok(-f $key_a, 'A: the key file exists in the data directory');
is(sprintf('%04o', (stat $key_a)[2] & 07777), '0600', 'A: the key file has mode 0600');
is(-s $key_a, 32, 'A: the key has 32 bytes');

my $jobs_a = $node_a->safe_psql('app',
	"SELECT string_agg(jobid || ':' || coalesce(jobname, '') || ':' || command, E'\\n' ORDER BY jobid) FROM cron.job");

# --- dumps -------------------------------------------------------------------
my $dir = PostgreSQL::Test::Utils::tempdir;
$node_a->command_ok([ 'pg_dump', '-Fc', '-d', 'app', '-f', "$dir/app.dump" ], 'pg_dump -Fc app');
$node_a->command_ok([ 'pg_dump', '-Fp', '-d', 'app', '-f', "$dir/app.sql" ], 'pg_dump -Fp app');
$node_a->command_ok([ 'pg_dump', '-Fc', '-Z0', '-d', 'app', '-f', "$dir/app0.dump" ],
	'pg_dump -Fc -Z0 app');
my $plain = slurp_file("$dir/app.sql");
like($plain, qr/api-key\tdurable-aes256gcm:/, 'the dump holds the sealed value of the secret');
foreach my $f ("$dir/app.sql", "$dir/app0.dump")
{
	ok(index(slurp_file($f), 'sk-restore-secret') < 0, "$f holds no clear text of the secret");
}
# A stops: the restored jobs of B name A's socket directory
$node_a->stop;

# --- node B: a fresh cluster with pg_cron and durable preloaded --------------
my $node_b = PostgreSQL::Test::Cluster->new('restore_b');
$node_b->init;
$node_b->append_conf('postgresql.conf', $conf);
$node_b->append_conf('postgresql.conf', "durable.max_workers = 0\n");
$node_b->start;
$node_b->safe_psql('postgres', 'CREATE DATABASE app');
my ($restore_out, $restore_err) = ('', '');
my $restore_ok = IPC::Run::run([ 'pg_restore', '--exit-on-error', '-h', $node_b->host,
	'-p', $node_b->port, '-d', 'app', "$dir/app.dump" ], '>', \$restore_out, '2>', \$restore_err);
ok($restore_ok, 'B: pg_restore --exit-on-error exits 0') or diag($restore_err);
is($restore_err, '', 'B: and says nothing');

is($node_b->safe_psql('app', "SELECT count(*) FROM cron.job WHERE jobname = 'durable_tick'"), '1',
	'B: the tick exists once');
is($node_b->safe_psql('app',
	"SELECT string_agg(jobid || ':' || coalesce(jobname, '') || ':' || command, E'\\n' ORDER BY jobid) FROM cron.job"),
	$jobs_a, "B: pg_cron's jobs are those of A, with their ids");
is($node_b->safe_psql('app', q{SELECT j.command FROM durable.schedules s JOIN cron.job j USING (jobid)
	WHERE s.name = 'nightly'}),
	"SELECT durable.schedule_fire('nightly')", "B: the schedule points at its live job");

# B's workers, the restore done
$node_b->safe_psql('postgres', 'ALTER SYSTEM SET durable.max_workers = 1');
$node_b->reload;
ok($node_b->poll_query_until('app',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable worker'"),
	'B: a durable worker runs');
$node_b->safe_psql('app', "SELECT durable_callback_success('$cb', '\"approved\"')");
ok($node_b->poll_query_until('app', "SELECT status = 'SUCCEEDED' FROM durable_status('cb-1')"),
	'B: the suspended execution completed');

# the secret without the key
my $key_b = $node_b->data_dir . '/pg_durable/secrets.key';
ok(!-e $key_b, 'B: has no key file');
start_http($node_b, 'http-b1');
like(finished($node_b, 'http-b1'),
	qr/^FAILED WF016 .*secret "api-key" cannot be decrypted: the key file "pg_durable\/secrets.key" does not exist; copy the key file/,
	'B: a request with the secret fails with WF016, naming the key file');
is(sent_key('http-b1'), '(no request)', 'B: and sends nothing');
my ($rc, $out, $err) = $node_b->psql('app',
	"SELECT durable_secret_set('other', 'sk-other', ARRAY['127.0.0.1'])");
like($err, qr/the key file "pg_durable\/secrets.key" of the secrets does not exist.*HINT:  Copy the key file/s,
	'B: durable_secret_set refuses to make a new key while sealed values exist');
ok(!-e $key_b, 'B: still no key file');

# with A's key file copied, the secret works
mkdir($node_b->data_dir . '/pg_durable');
copy($key_a, $key_b) or die "copy: $!";
chmod(0600, $key_b);
start_http($node_b, 'http-b2');
like(finished($node_b, 'http-b2'), qr/^SUCCEEDED/, 'B: with the key file copied, the request succeeds');
is(sent_key('http-b2'), $secret, 'B: and sends the value');

$node_b->stop;
foreach my $node ($node_a, $node_b)
{
	my @bad = grep { /terminated by signal|PANIC|TRAP/ } split /\n/, slurp_file($node->logfile);
	is(join("\n", @bad), '', $node->name . ': no crash in the server log');
}

done_testing();

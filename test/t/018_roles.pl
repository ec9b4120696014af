# What one role sees of another (issue 13: F5, F7, F12), with the workers:
# status notifications go to the owner's channel only, with the id and
# status alone, so bob listening on alice's channel learns nothing more and
# his own channel gets nothing of hers; a durable_secret_set that waits for
# another role's uncommitted secret of the same name cannot overwrite it
# once that commits; failed durable_secret_set and callback completion
# calls leave the value and the callback id out of the server log.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('roles');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
durable.notify = 'all'
log_min_error_statement = error
# the harness logs every statement; what is checked here is the
# STATEMENT line of an error, which log_min_error_statement adds
log_statement = none
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE ROLE alice;
CREATE ROLE bob;
CREATE SCHEMA alice AUTHORIZATION alice;
CREATE FUNCTION alice.payroll(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
  RETURN durable_step('pay', 'SELECT $1', input);
END $$;
ALTER FUNCTION alice.payroll(jsonb) OWNER TO alice;
});
my $alice_channel = $node->safe_psql('postgres', "SELECT durable_status_channel('alice')");
my $bob_channel = $node->safe_psql('postgres', "SELECT durable_status_channel('bob')");
like($alice_channel, qr/^durable_status_\d+$/, 'a role has a channel of its own');

# --- F5: bob listens on alice's channel, on his own and on the old one -----
my $bob = $node->background_psql('postgres');
$bob->query_safe('SET ROLE bob');
$bob->query_safe(qq{LISTEN "$alice_channel"; LISTEN "$bob_channel"; LISTEN durable_status});
my $alice = $node->background_psql('postgres');
$alice->query_safe(qq{SET ROLE alice; LISTEN "$alice_channel"});

my $id = $node->safe_psql('postgres', q{
SET ROLE alice;
SELECT durable_start('alice.payroll', '{"ssn": "123-45-6789"}', name => 'payroll-ACME-ssn-123-45-6789');
});
is($node->safe_psql('postgres', "SELECT durable_await('$id', '60 seconds')"), 'SUCCEEDED',
	'the workers ran alice\'s execution');

# collect what each listener received until the final status arrived
sub notifications
{
	my ($session, $until) = @_;
	my $all = '';
	my $deadline = time + 60;
	while (time < $deadline)
	{
		$all .= $session->query_safe('SELECT 1');
		last if $all =~ $until;
		usleep(100_000);
	}
	return $all;
}
my $done = qr/"status": "SUCCEEDED"/;
my $seen_by_bob = notifications($bob, $done);
my $seen_by_alice = notifications($alice, $done);
my @bob_notes = $seen_by_bob =~ /Asynchronous notification "([^"]+)" with payload "(.*)" received/g;
my %bob_channels;
for (my $i = 0; $i < @bob_notes; $i += 2)
{
	$bob_channels{ $bob_notes[$i] }++;
}
is(join(',', sort keys %bob_channels), $alice_channel,
	'bob hears alice\'s executions on her channel only: nothing on his own nor on durable_status');
my @payloads = $seen_by_bob =~ /with payload "(.*)" received/g;
like(join(',', map { /"status": "(\w+)"/ ? $1 : '?' } @payloads), qr/^PENDING,(RUNNING,)+SUCCEEDED$/,
	'bob heard the status changes of durable.notify = all');
is(scalar(grep { $_ ne qq({"id": "$id", "status": "PENDING"}) && $_ ne qq({"id": "$id", "status": "RUNNING"})
		  && $_ ne qq({"id": "$id", "status": "SUCCEEDED"}) } @payloads), 0,
	'a payload is the execution id and the status, nothing more');
unlike($seen_by_bob, qr/payroll|ssn|123-45|alice/, 'neither the name nor the workflow reaches bob');
like($seen_by_alice, qr/"$alice_channel" with payload "\{"id": "$id", "status": "SUCCEEDED"\}"/,
	'alice hears her execution finish');

# what bob learns by name is nothing either
my ($rc, $stdout, $stderr) = $node->psql('postgres',
	"SET ROLE bob; SELECT * FROM durable_status('payroll-ACME-ssn-123-45-6789')");
like($stderr, qr/does not exist/, 'bob cannot look the name up');

$bob->quit;
$alice->quit;

# --- F7: bob's set waits for alice's uncommitted secret, then is refused ---
my $s1 = $node->background_psql('postgres');
my $s2 = $node->background_psql('postgres', on_error_stop => 0);
$s1->query_safe('SET ROLE alice');
$s2->query_safe('SET ROLE bob');
$s1->query_safe(q{BEGIN; SELECT durable_secret_set('payments-key', 'ALICE-KEY', ARRAY['api.payments.example'])});
# the value is stored sealed: what alice's set stored, seen in her transaction
my $alice_sealed = $s1->query_safe(
	q{RESET ROLE; SELECT value FROM durable.secrets WHERE name = 'payments-key'});
my $bob_pid = $s2->query_safe('SELECT pg_backend_pid()');
$s2->query_until(qr/sent/, "\\echo sent\nSELECT durable_secret_set('payments-key', 'BOB-KEY', ARRAY['127.0.0.1', 'api.payments.example']);\n");
ok($node->poll_query_until('postgres',
	"SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $bob_pid"),
	'bob\'s durable_secret_set waits for alice\'s transaction');
$s1->query_safe('COMMIT');
$s2->query('SELECT 1');
like($s2->{stderr}, qr/permission denied for secret "payments-key"/,
	'once alice commits, bob\'s call fails with permission denied');
$s2->{stderr} = '';
is($node->safe_psql('postgres',
	"SELECT (value = '$alice_sealed') || ' ' || allowed_hosts::text || ' ' || owner::text FROM durable.secrets WHERE name = 'payments-key'"),
	'true {api.payments.example} alice', 'alice\'s value, hosts and ownership are intact');
$s1->quit;
$s2->quit;

# the same race between two sessions of one role updates, as before
$s1 = $node->background_psql('postgres');
$s2 = $node->background_psql('postgres');
$s1->query_safe('SET ROLE bob');
$s2->query_safe('SET ROLE bob');
$s1->query_safe(q{BEGIN; SELECT durable_secret_set('bob-key', 'BOB-1', ARRAY['api.example.com'])});
my $bob1_sealed = $s1->query_safe(
	q{RESET ROLE; SELECT value FROM durable.secrets WHERE name = 'bob-key'});
my $pid2 = $s2->query_safe('SELECT pg_backend_pid()');
$s2->query_until(qr/sent/, "\\echo sent\nSELECT durable_secret_set('bob-key', 'BOB-2', ARRAY['api.example.com']);\n");
ok($node->poll_query_until('postgres',
	"SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $pid2"),
	'a second set of the same role waits too');
$s1->query_safe('COMMIT');
$s2->query_safe('SELECT 1');
is($node->safe_psql('postgres',
	"SELECT value LIKE 'durable-aes256gcm:%' AND value <> '$bob1_sealed' FROM durable.secrets WHERE name = 'bob-key'"),
	't', 'and then changes the value of its own role\'s secret');
$s1->quit;
$s2->quit;

# --- F12: failed calls do not copy a value or a callback id to the log -----
my $log_offset = -s $node->logfile;
my @calls = (
	q{SELECT durable_secret_set('k2', 'sk-live-TOPSECRET-1', ARRAY['bad host!'])},
	q{SELECT durable_secret_set('k3', 'sk-live-TOPSECRET-2', ARRAY[]::text[])},
	q{SELECT durable_secret_set('k4', E'sk-live-TOPSECRET-3\n', ARRAY['api.example.com'])},
	q{SET ROLE bob; SELECT durable_secret_set('payments-key', 'sk-live-TOPSECRET-4', ARRAY['api.example.com'])},
	q{SELECT durable_callback_success('cb-TOPSECRET-5', '{}')},
	q{SELECT durable_callback_success('cb_70b5ec2e70b5ec2e70b5ec2e70b5ec2e', '{}')},
	q{SELECT durable_callback_failure('cb_70b5ec2e70b5ec2e70b5ec2e70b5ec2e', '{}')},
	q{SELECT durable_callback_heartbeat('cb_70b5ec2e70b5ec2e70b5ec2e70b5ec2e')});
foreach my $sql (@calls)
{
	my ($call_rc) = $node->psql('postgres', $sql);
	isnt($call_rc, 0, "fails: $sql");
}
my $log = slurp_file($node->logfile, $log_offset);
my @errors = $log =~ /ERROR:  /g;
ok(@errors >= scalar(@calls), 'the errors are logged (' . scalar(@errors) . ')');
unlike($log, qr/TOPSECRET|70b5ec2e/, 'without the statement that held the value or the callback id');

done_testing();

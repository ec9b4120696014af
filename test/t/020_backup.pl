# Crash notes belong to the server start that wrote them: a base backup
# taken while a worker drives an execution carries that worker's note
# (pg_durable/worker.N) into the copy, whose first worker must not charge
# it as a crash.  A real crash of a worker in the copy is still charged (a
# crash restart keeps the postmaster, whose start time stamps the notes),
# and a note in the format before 1.2 is not charged.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable'
durable.max_workers = 2
durable.database = 'postgres'
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
CREATE FUNCTION wf_sleep(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_step('sleep', format('SELECT pg_sleep(%s)', input->>'seconds'));
  RETURN '"slept"';
END $$;
});

# the live notes of a data directory: slot => execution id (hex)
sub live_notes
{
	my ($datadir) = @_;
	my %notes;
	foreach my $f (glob("$datadir/pg_durable/worker.*"))
	{
		my $bytes = slurp_file($f);
		next if length($bytes) < 20;
		my ($magic, $id) = unpack('L< a16', $bytes);
		$notes{$f} = unpack('H*', $id) if $magic != 0;
	}
	return %notes;
}

my $id = $node->safe_psql('postgres',
	"SELECT durable_start('wf_sleep', '{\"seconds\": 15}', name => 'long')");
(my $hex = $id) =~ s/-//g;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable worker' "
	  . "AND query LIKE '%$id%' AND wait_event = 'PgSleep'"),
	'a worker drives the execution');

$node->backup('bk');
my $copy = PostgreSQL::Test::Cluster->new('copy');
$copy->init_from_backup($node, 'bk');
my %notes = live_notes($copy->data_dir);
ok((grep { $_ eq $hex } values %notes), 'the backup carries the note of the drive');
$node->stop('fast');

$copy->start;
ok($copy->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'long'"),
	'the execution completes in the copy');
is($copy->safe_psql('postgres', "SELECT crash_count FROM durable.executions WHERE name = 'long'"),
	'0', 'no crash is charged to it in the copy');
my $log = slurp_file($copy->logfile);
unlike($log, qr/ died /, 'the copy logs no worker death');
like($log, qr/a crash note of execution $id is not charged: another server start wrote it/,
	'the copy says why the note is not charged');

# a real crash in the copy is still charged
my $crash = $copy->safe_psql('postgres',
	"SELECT durable_start('wf_sleep', '{\"seconds\": 600}', name => 'crash')");
ok($copy->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'durable worker' "
	  . "AND query LIKE '%$crash%' AND wait_event = 'PgSleep'"),
	'a worker drives the execution that will crash');
my $pid = $copy->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'durable worker' AND query LIKE '%$crash%'");
ok(kill('KILL', $pid), "kill -9 of worker $pid");
usleep(20_000) while kill(0, $pid);
ok($copy->poll_query_until('postgres',
	"SELECT crash_count = 1 FROM durable.executions WHERE name = 'crash'"),
	'the crash is charged');
like(slurp_file($copy->logfile), qr/the worker driving execution $crash died \(1 time in a row\)/,
	'the copy logs the crash');
$copy->safe_psql('postgres', "SELECT durable_stop('$crash')");

# a note in the format before 1.2 (unstamped) is not charged
$copy->stop;
open(my $fh, '>:raw', $copy->data_dir . '/pg_durable/worker.5') or die "open: $!";
print $fh pack('L< H32', 0x44524e31, $hex);
close($fh);
$copy->start;
$copy->safe_psql('postgres',
	"SELECT durable_start('wf_sleep', '{\"seconds\": 0}', name => 'after')");
ok($copy->poll_query_until('postgres',
	"SELECT status = 'SUCCEEDED' FROM durable.executions WHERE name = 'after'"),
	'the workers serve (the notes were processed)');
is($copy->safe_psql('postgres', "SELECT crash_count FROM durable.executions WHERE name = 'long'"),
	'0', 'an old-format note is not charged');
is(-s $copy->data_dir . '/pg_durable/worker.5' && unpack('L<', slurp_file($copy->data_dir . '/pg_durable/worker.5')),
	0, 'the old-format note is erased');

$copy->stop;
$log = slurp_file($copy->logfile);
unlike($log, qr/WARNING(?!:  terminating connection because of crash)/,
	'no warning in the log but those a crash causes');
done_testing();

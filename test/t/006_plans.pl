# The workers' queries on the durable tables stay index scans as the tables
# grow from empty.  Their plans are kept for the life of the session; a
# plan built while a table was empty (or had just been analyzed small) is
# a seq scan, and nothing replaces it as the table grows until the next
# ANALYZE of that table.  This test lets the workers cache their plans on
# empty, freshly analyzed tables, grows the tables to 20,000 finished
# executions and a backlog of 5,000 sleeping ones, and then reads the
# plans the workers use (auto_explain, on only for that window, lines of
# the workers only).  autovacuum is off: it stands for the time before
# autoanalyze notices the growth, which is when stale plans hurt.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = PostgreSQL::Test::Cluster->new('plans');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'durable, auto_explain'
durable.max_workers = 2
durable.database = 'postgres'
autovacuum = off
log_line_prefix = '%m [%p] %b: '
auto_explain.log_min_duration = -1
auto_explain.log_nested_statements = on
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION durable;
-- a step, a timer (so that the execution is resumed: its checkpoints are
-- loaded), another step
CREATE FUNCTION wf(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r jsonb;
BEGIN
  r := durable_step('a', 'SELECT 1');
  PERFORM durable_wait('w', interval '10 milliseconds');
  r := durable_step('b', 'SELECT 2');
  RETURN r;
END $$;
});

sub run_batch
{
	my ($prefix, $n) = @_;
	$node->safe_psql('postgres',
		"SELECT count(durable_start('wf', '{}', name => '$prefix-' || g)) FROM generate_series(1, $n) g");
	ok($node->poll_query_until('postgres',
		"SELECT count(*) = $n FROM durable.executions WHERE name LIKE '$prefix-%' AND status = 'SUCCEEDED'"),
		"$n executions ($prefix) finished");
}

# empty tables: the workers prepare their statements; then ANALYZE them
# small, as autovacuum does early on, which makes the workers plan again
# on the next use, and run enough executions for those plans to be cached
run_batch('warm', 20);
$node->safe_psql('postgres', 'ANALYZE durable.executions, durable.operations, durable.queue, durable.history');
run_batch('small', 40);
$node->safe_psql('postgres', 'SELECT pg_sleep(0.1)');    # both workers idle again

# grow the tables behind the workers' backs
$node->safe_psql('postgres', q{
INSERT INTO durable.executions (id, workflow, workflow_hash, input, status, owner,
                                search_path, created_at, updated_at, finished_at)
SELECT gen_random_uuid(), 'public.wf', 'grown', '{}', 'SUCCEEDED', current_user::text::regrole,
       'public', now() - interval '1 day', now(), now()
  FROM generate_series(1, 20000);
INSERT INTO durable.operations (execution_id, run_no, op_id, position, name, kind,
                                status, owner, started_at, finished_at)
SELECT e.id, 1, g, g - 1, 's' || g, 'step', 'SUCCEEDED', current_user::text::regrole, now(), now()
  FROM durable.executions e, generate_series(1, 3) g
 WHERE e.workflow_hash = 'grown';
WITH sleeping AS (
  INSERT INTO durable.executions (id, workflow, workflow_hash, input, status, owner,
                                  search_path, created_at, updated_at, wake_at)
  SELECT gen_random_uuid(), 'public.wf', 'sleeping', '{}', 'SUSPENDED', current_user::text::regrole,
         'public', now(), now(), now() + interval '1 day'
    FROM generate_series(1, 5000)
  RETURNING id, wake_at)
INSERT INTO durable.queue (execution_id, due_at, owner)
SELECT id, wake_at, current_user::text::regrole FROM sleeping;
});

# auto_explain on for the workers' next statements only: a reload wakes
# them, and each logs the plan of its next-due query when it has taken it
my $logstart = -s $node->logfile;
$node->safe_psql('postgres', q{
ALTER SYSTEM SET auto_explain.log_min_duration = 0;
SELECT pg_reload_conf();
});
my $deadline = time() + 30;
my $explained = 0;
while (time() < $deadline)
{
	my %pids;
	my $log = substr(slurp_file($node->logfile), $logstart);
	$pids{$1} = 1 while $log =~ /\[(\d+)\] durable worker: LOG:  duration: [^\n]*plan:/g;
	$explained = scalar(keys %pids);
	last if $explained >= 2;
	usleep(50_000);
}
is($explained, 2, 'both workers log their plans');

run_batch('grown', 200);
$node->safe_psql('postgres', q{
ALTER SYSTEM RESET auto_explain.log_min_duration;
SELECT pg_reload_conf();
});

# The plans, per statement text.  A log entry starts with the prefix; its
# plan follows on tab-indented lines.
my $log = substr(slurp_file($node->logfile), $logstart);
my (%plans, %seqscans);
foreach my $entry (split /\n(?=\d{4}-\d\d-\d\d )/, $log)
{
	next unless $entry =~ /^\S+ \S+ \S+ \[\d+\] durable worker: LOG:  duration: [^\n]*plan:\n\tQuery Text: ([^\n]*)\n(.*)/s;
	my ($query, $plan) = ($1, $2);
	next unless $query =~ /\bdurable\.(\w+)/;
	$plans{$query}++;
	$seqscans{$query} = $plan if $plan =~ /Seq Scan on (executions|operations|queue|history|names|inbox)\b/;
}

foreach my $query (sort keys %seqscans)
{
	diag("seq scan in the plan of: $query\n$seqscans{$query}");
}
is(scalar(keys %seqscans), 0, 'no plan of the workers scans a durable table sequentially');

# the plans read cover the statements that matter
my %must = (
	'claim'          => qr/^SELECT execution_id, due_at(, NOT queue_admitted)? FROM durable\.queue /,
	'next due'       => qr/^SELECT due_at FROM durable\.queue /,
	'lock queue row' => qr/^SELECT 1 FROM durable\.queue WHERE execution_id/,
	'lock execution' => qr/^SELECT name, workflow, status, .* FROM durable\.executions WHERE id/,
	'load checkpoints' => qr/^SELECT op_id, .* FROM durable\.operations WHERE/,
	'update checkpoint' => qr/^UPDATE durable\.operations /,
	'set status'     => qr/^UPDATE durable\.executions /,
	'dequeue'        => qr/^DELETE FROM durable\.queue /);
foreach my $what (sort keys %must)
{
	ok(scalar(grep { $_ =~ $must{$what} } keys %plans) > 0, "the plan of '$what' was logged");
}

$node->stop;
$log = slurp_file($node->logfile);
unlike($log, qr/WARNING|terminated by signal|PANIC/, 'no warning or crash in the server log');
done_testing();
